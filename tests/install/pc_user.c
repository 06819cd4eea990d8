/* SPDX-License-Identifier: MIT */
/* A program as a guest-app developer builds it against an installed
 * libvchan-cap: pkg-config's flags, the installed header, nothing of the
 * build tree.  One message each way over a shared-memory pair. */
#include <stdio.h>
#include <string.h>

#include <vipc/vchan.h>

int main(void)
{
	struct vchan *srv = NULL, *cli = NULL;
	char buf[64];
	struct vchan_msg m = { .buf = buf, .len = sizeof(buf) };
	int r;

	r = vchan_shm_pair(NULL, NULL, &srv, &cli);
	if (r == 0)
		r = vchan_send(cli, 7, 0, "ping", 4, 1000);
	if (r == 0)
		r = vchan_recv(srv, &m, 1000);
	if (r == 0 && (m.type != 7 || m.len != 4 || memcmp(buf, "ping", 4)))
		r = -1;
	if (r == 0)
		r = vchan_send(srv, 8, 0, "pong", 4, 1000);
	m = (struct vchan_msg){ .buf = buf, .len = sizeof(buf) };
	if (r == 0)
		r = vchan_recv(cli, &m, 1000);
	if (r == 0 && (m.type != 8 || m.len != 4 || memcmp(buf, "pong", 4)))
		r = -1;
	vchan_close(cli);
	vchan_close(srv);
	printf("pc_user: %s\n", r == 0 ? "ping, pong" : "failed");
	return r == 0 ? 0 : 1;
}
