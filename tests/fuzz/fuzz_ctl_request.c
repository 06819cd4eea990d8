/* SPDX-License-Identifier: MIT */
/* libFuzzer target: requests on xensim's control socket, as the daemon
 * reads them (hyp/sim/strmsg.c, daemon/ctl_parse.c, daemon/dom_names.c).
 * The input is one datagram, sent as is over a SOCK_SEQPACKET pair and
 * taken back with strmsg_recv(), split with strmsg_split(), then read as
 * the arguments of exec (its command, from argv[2]) and of create (its
 * settings and first process); the first word is the daemon's to dispatch
 * on and is not looked at here.
 *
 * Checked against a model written from ctl.h's description: a datagram
 * not ending in NUL is refused; the split gives exactly its strings, or
 * -E2BIG past STRMSG_MAX_ARGS - 1; a command is taken exactly when NARGS
 * is decimal digits from 1 to what follows, and then splits there; create
 * is accepted exactly when every setting is KEY=VALUE of a known key with
 * a good value and there is a name: a name of 1-63 characters without a
 * control character or '/' (dom_names.c's rules, checked again here), a
 * UUID of 8-4-4-4-12 hex digits, numbers of decimal digits within each
 * key's bound; the last of a key counts.  Then every field is the model's;
 * a refusal has a message.  A violation abort()s. */
#include "config.h"
#include "fuzz_names.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctl_parse.h"
#include "proto.h"
#include "strmsg.h"

#define FAIL(...) do { \
	fprintf(stderr, "fuzz_ctl_request: " __VA_ARGS__); \
	fputc('\n', stderr); \
	abort(); \
} while (0)

static int sv[2] = { -1, -1 };
static struct strmsg m;
static char orig[STRMSG_MAX];      /* the datagram before create cuts it */
static char *av[STRMSG_MAX_ARGS];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		abort();
	return 0;
}

/* --- the model ------------------------------------------------------------- */

/* Decimal digits only, at most max. */
static bool model_u32(const char *v, uint64_t max, uint32_t *out)
{
	uint64_t x = 0;

	if (!*v)
		return false;
	for (; *v; v++) {
		if (*v < '0' || *v > '9')
			return false;
		x = x * 10 + (uint64_t)(*v - '0');
		if (x > max)
			return false;
	}
	*out = (uint32_t)x;
	return true;
}

static int hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static bool model_uuid(const char *v, uint8_t out[16])
{
	unsigned n = 0;

	if (strlen(v) != 36)
		return false;
	for (unsigned i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (v[i] != '-')
				return false;
			continue;
		}
		if (hex(v[i]) < 0)
			return false;
		if (n % 2 == 0)
			out[n / 2] = (uint8_t)(hex(v[i]) << 4);
		else
			out[n / 2] |= (uint8_t)hex(v[i]);
		n++;
	}
	return true;
}

/* Strings k.. of the datagram as "CWD NARGS ARG... ENV...": the count of
 * ARGs, or -1. */
static long model_command(char **a, int argc, int k)
{
	uint32_t nargs;

	if (argc - k < 3 || !model_u32(a[k + 1], STRMSG_MAX_ARGS, &nargs) ||
	    nargs < 1 || nargs > (uint32_t)(argc - k - 2))
		return -1;
	return nargs;
}

struct model {
	struct domain_params p;
	int console;    /* index of the last console=, or -1 */
	int cmd;        /* index of CWD, or -1 */
	long nargs;
};

/* a: the strings of the untouched copy. */
static bool model_create(char **a, int argc, struct model *w)
{
	static const struct { const char *k; uint64_t max; size_t off; } nums[] = {
		{ "max_grant_frames", 4096, offsetof(struct domain_params, max_grant_frames) },
		{ "max_event_channels", 131072, offsetof(struct domain_params, max_event_channels) },
		{ "max_fds", UINT32_MAX, offsetof(struct domain_params, max_fds) },
		{ "console_limit", UINT32_MAX, offsetof(struct domain_params, console_limit) },
		{ "memory", 1u << 30, offsetof(struct domain_params, memory_mb) },
		{ "vcpus", 512, offsetof(struct domain_params, vcpus) },
	};
	int i;

	memset(w, 0, sizeof(*w));
	w->console = w->cmd = -1;
	for (i = 1; i < argc && strcmp(a[i], "--"); i++) {
		const char *eq = strchr(a[i], '='), *v;
		size_t kl;
		unsigned j;

		if (!eq)
			return false;
		kl = (size_t)(eq - a[i]);
		v = eq + 1;
#define KEY(s) (kl == strlen(s) && !strncmp(a[i], s, kl))
		if (KEY("name")) {
			if (!fuzz_name_ok(v))
				return false;
			memcpy(w->p.name, v, strlen(v) + 1);
		} else if (KEY("uuid")) {
			if (!model_uuid(v, w->p.uuid))
				return false;
			w->p.has_uuid = true;
		} else if (KEY("console")) {
			w->console = i;
		} else {
			for (j = 0; j < sizeof(nums) / sizeof(nums[0]); j++)
				if (KEY(nums[j].k))
					break;
			if (j == sizeof(nums) / sizeof(nums[0]) ||
			    !model_u32(v, nums[j].max,
				       (uint32_t *)((char *)&w->p + nums[j].off)))
				return false;
		}
#undef KEY
	}
	if (!w->p.name[0])
		return false;
	if (i < argc) {
		w->nargs = model_command(a, argc, i + 1);
		if (w->nargs < 0)
			return false;
		w->cmd = i + 1;
	}
	return true;
}

/* --- checks ------------------------------------------------------------------ */

/* cwd, cargv and envp as a split of av from k with nargs ARGs. */
static void check_split(int argc, int k, long nargs, const char *cwd,
			char **cargv, char **envp)
{
	long i;

	if (cwd != av[k])
		FAIL("command's cwd is not string %d", k);
	for (i = 0; i < nargs; i++)
		if (cargv[i] != av[k + 2 + i])
			FAIL("argument %ld is not string %ld", i, k + 2 + i);
	if (cargv[nargs])
		FAIL("argv not NULL-terminated after %ld", nargs);
	for (i = 0; k + 2 + nargs + i < argc; i++)
		if (envp[i] != av[k + 2 + nargs + i])
			FAIL("environment entry %ld misplaced", i);
	if (envp[i])
		FAIL("envp not NULL-terminated after %ld", i);
}

static void check_exec(int argc)
{
	const char *cwd = NULL;
	char **cargv = NULL, **envp = NULL;
	long want = model_command(av, argc, 2);
	int r = ctl_split_command(av, argc, 2, &cwd, &cargv, &envp);

	if (r && r != -EINVAL && r != -ENOMEM)
		FAIL("ctl_split_command: %d", r);
	if (r == -ENOMEM)
		return;
	if ((want < 0) != (r < 0))
		FAIL("exec command %s", r ? "refused" : "accepted");
	if (!r) {
		check_split(argc, 2, want, cwd, cargv, envp);
		free(cargv);
		free(envp);
	}
}

static void check_create(int argc, size_t len)
{
	static char *oa[STRMSG_MAX_ARGS];
	struct ctl_create cr;
	struct model w;
	char msg[1024] = "";
	bool ok;
	int r;

	/* The model reads an untouched copy (create cuts each '='). */
	memcpy(orig, m.buf, len);
	for (int i = 0; i < argc; i++)
		oa[i] = orig + (av[i] - m.buf);
	ok = model_create(oa, argc, &w);
	r = ctl_parse_create(av, argc, &cr, msg, sizeof(msg));
	if (r && r != -EINVAL && r != -ENOMEM)
		FAIL("ctl_parse_create: %d", r);
	if (r == -ENOMEM)
		return;
	if (ok != !r)
		FAIL("create %s (%s)", r ? "refused" : "accepted", msg);
	if (r) {
		if (!msg[0] || strnlen(msg, sizeof(msg)) == sizeof(msg))
			FAIL("create refused without a message");
		return;
	}
	/* The daemon's own rules, again, on what it will create. */
	if (!fuzz_name_ok(cr.p.name))
		FAIL("create accepted the name '%s'", cr.p.name);
	if (strcmp(cr.p.name, w.p.name) ||
	    cr.p.has_uuid != w.p.has_uuid ||
	    (w.p.has_uuid && memcmp(cr.p.uuid, w.p.uuid, 16)) ||
	    cr.p.max_grant_frames != w.p.max_grant_frames ||
	    cr.p.max_event_channels != w.p.max_event_channels ||
	    cr.p.max_fds != w.p.max_fds || cr.p.console_limit != w.p.console_limit ||
	    cr.p.memory_mb != w.p.memory_mb ||
	    cr.p.vcpus != w.p.vcpus)
		FAIL("create's settings are not the request's");
	if (w.console < 0 ? cr.console != NULL
			  : cr.console != av[w.console] + strlen("console="))
		FAIL("create's console is not the last console=");
	if (w.cmd < 0) {
		if (cr.cwd || cr.argv || cr.envp)
			FAIL("create without -- has a command");
	} else {
		if (!cr.argv || !cr.envp)
			FAIL("create with a command has none");
		check_split(argc, w.cmd, w.nargs, cr.cwd, cr.argv, cr.envp);
	}
	ctl_create_free(&cr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int nfds = 0, argc, nstr = 0;
	long r;

	/* An empty datagram reads as the client's EOF. */
	if (!size || size > STRMSG_MAX)
		return 0;
	if (xsp_send(sv[0], data, size, NULL, 0))
		abort();
	r = strmsg_recv(sv[1], &m, NULL, &nfds);
	if (data[size - 1] != '\0') {
		if (r != -EPROTO)
			FAIL("unterminated datagram read as %ld", r);
		return 0;
	}
	if (r != (long)size || m.len != size || memcmp(m.buf, data, size))
		FAIL("datagram of %zu bytes read as %ld", size, r);

	for (size_t i = 0; i < size; i++)
		nstr += !data[i];
	argc = strmsg_split(&m, av, STRMSG_MAX_ARGS);
	if (nstr > STRMSG_MAX_ARGS - 1) {
		if (argc != -E2BIG)
			FAIL("%d strings split as %d", nstr, argc);
		return 0;
	}
	if (argc != nstr || av[argc])
		FAIL("%d strings split as %d", nstr, argc);
	for (int i = 0, off = 0; i < argc; i++) {
		if (av[i] != m.buf + off)
			FAIL("string %d misplaced", i);
		off += (int)strlen(av[i]) + 1;
	}
	check_exec(argc);
	check_create(argc, size);
	return 0;
}
