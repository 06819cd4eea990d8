/* SPDX-License-Identifier: MIT */
/* A channel over plain shared memory, for tests and benchmarks: the pages
 * live in a memfd, each end maps its own view (the client maps the rings it
 * reads read-only, page by page from the "grant" list, as it would map grant
 * references), and an eventfd per end stands in for the event channel. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vchan_priv.h"

struct shm_tp {
	void *maps[3];        /* control page view, ring views */
	size_t map_len[3];
	int own_fd;           /* readable when the peer notifies us */
	int peer_fd;          /* we write it to notify the peer */
};

static int shm_notify(void *p)
{
	struct shm_tp *t = p;
	uint64_t one = 1;

	if (write(t->peer_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

static int shm_fd(void *p)
{
	return ((struct shm_tp *)p)->own_fd;
}

static int shm_ack(void *p)
{
	struct shm_tp *t = p;
	uint64_t n;

	if (read(t->own_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

static void shm_release(void *p, bool detach)
{
	struct shm_tp *t = p;
	int i;

	(void)detach;  /* nothing is shared beyond the memory itself */
	for (i = 0; i < 3; i++)
		if (t->maps[i])
			munmap(t->maps[i], t->map_len[i]);
	if (t->own_fd >= 0)
		close(t->own_fd);
	if (t->peer_fd >= 0)
		close(t->peer_fd);
	free(t);
}

static const struct vchan_transport_ops shm_ops = {
	.notify = shm_notify,
	.fd = shm_fd,
	.ack = shm_ack,
	.release = shm_release,
};

static struct shm_tp *tp_new(void)
{
	struct shm_tp *t = calloc(1, sizeof(*t));

	if (t)
		t->own_fd = t->peer_fd = -1;
	return t;
}

/* Client side: map a ring of `order` whose grants start at grants[first]:
 * read each grant once, check it names a page of the region, map it at the
 * next place of a contiguous view. */
static void *map_ring(struct shm_tp *t, int slot, int memfd, size_t npages,
		      uint8_t *page, const uint32_t *grants, unsigned first,
		      unsigned order, int prot, const char *who)
{
	unsigned n = vchan_layout_pages(order), i;
	uint8_t *base;

	if (!n)
		return page + vchan_layout_inpage_offset(order);
	base = mmap(NULL, (size_t)n * VCHAN_PAGE_SIZE, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		return NULL;
	t->maps[slot] = base;
	t->map_len[slot] = (size_t)n * VCHAN_PAGE_SIZE;
	for (i = 0; i < n; i++) {
		/* Peer-written grant reference: one load, then checked. */
		uint32_t g = VCHAN_READ_ONCE(grants[first + i]);

		if (g == 0 || g >= npages) {
			vchan_log(who, "peer protocol error: grant %u of a "
				  "ring is %u, not a page it shared", i, g);
			errno = EPROTO;
			return NULL;
		}
		if (mmap(base + (size_t)i * VCHAN_PAGE_SIZE, VCHAN_PAGE_SIZE,
			 prot, MAP_SHARED | MAP_FIXED, memfd,
			 (off_t)g * VCHAN_PAGE_SIZE) == MAP_FAILED)
			return NULL;
	}
	return base;
}

int vchan_shm_pair(const struct vchan_config *srv_cfg,
		   const struct vchan_config *cli_cfg,
		   struct vchan **srv, struct vchan **cli)
{
	struct vchan_config dflt;
	unsigned lo, ro, pl, pr, i;
	size_t npages;
	struct shm_tp *st = NULL, *ct = NULL;
	struct vchan *s = NULL, *c = NULL;
	uint8_t *sbase, *cpage;
	void *wbuf, *rbuf;
	int memfd = -1, efd_s = -1, efd_c = -1, layout, r;
	const char *cname;

	vchan_config_init(&dflt);
	if (!srv_cfg)
		srv_cfg = &dflt;
	if (!cli_cfg)
		cli_cfg = &dflt;
	cname = cli_cfg->name ? cli_cfg->name : "client";
	lo = srv_cfg->read_order;
	ro = srv_cfg->write_order;
	r = vchan_layout_choose(&lo, &ro, srv_cfg->layout);
	if (r < 0)
		return r;
	pl = vchan_layout_pages(lo);
	pr = vchan_layout_pages(ro);
	npages = 1 + (size_t)pl + pr;

	r = -ENOMEM;
	st = tp_new();
	ct = tp_new();
	if (!st || !ct)
		goto fail;
	memfd = memfd_create("vipc-vchan-shm", MFD_CLOEXEC);
	efd_s = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	efd_c = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (memfd < 0 || efd_s < 0 || efd_c < 0 ||
	    ftruncate(memfd, (off_t)(npages * VCHAN_PAGE_SIZE)) < 0)
		goto fail_errno;
	st->own_fd = efd_s;
	st->peer_fd = dup(efd_c);
	ct->own_fd = efd_c;
	ct->peer_fd = dup(efd_s);
	efd_s = efd_c = -1;
	if (st->peer_fd < 0 || ct->peer_fd < 0)
		goto fail_errno;

	/* Server: the whole region, read-write; "grants" are page numbers. */
	sbase = mmap(NULL, npages * VCHAN_PAGE_SIZE, PROT_READ | PROT_WRITE,
		     MAP_SHARED, memfd, 0);
	if (sbase == MAP_FAILED)
		goto fail_errno;
	st->maps[0] = sbase;
	st->map_len[0] = npages * VCHAN_PAGE_SIZE;
	vchan_layout_server_init((struct vchan_interface *)sbase, lo, ro,
				 srv_cfg->layout);
	for (i = 0; i < pl + pr; i++)
		((struct vchan_interface *)sbase)->grants[i] = 1 + i;
	rbuf = pl ? sbase + VCHAN_PAGE_SIZE
		  : sbase + vchan_layout_inpage_offset(lo);
	wbuf = pr ? sbase + (size_t)(1 + pl) * VCHAN_PAGE_SIZE
		  : sbase + vchan_layout_inpage_offset(ro);
	r = vchan_endpoint_create(srv_cfg, true, srv_cfg->layout,
				  (struct vchan_interface *)sbase, rbuf, lo,
				  wbuf, ro, &shm_ops, st, &s);
	if (r < 0)
		goto fail;
	st = NULL;

	/* Client: its own view, as a grant-mapping peer would have it. */
	cpage = mmap(NULL, VCHAN_PAGE_SIZE, PROT_READ | PROT_WRITE,
		     MAP_SHARED, memfd, 0);
	if (cpage == MAP_FAILED)
		goto fail_errno;
	ct->maps[0] = cpage;
	ct->map_len[0] = VCHAN_PAGE_SIZE;
	r = vchan_layout_client_read((struct vchan_interface *)cpage, cname,
				     &lo, &ro, &layout);
	if (r < 0)
		goto fail;
	pl = vchan_layout_pages(lo);
	/* left: the client writes it; right: it reads it, read-only. */
	wbuf = map_ring(ct, 1, memfd, npages, cpage,
			((struct vchan_interface *)cpage)->grants, 0, lo,
			PROT_READ | PROT_WRITE, cname);
	if (!wbuf)
		goto fail_errno;
	rbuf = map_ring(ct, 2, memfd, npages, cpage,
			((struct vchan_interface *)cpage)->grants, pl, ro,
			PROT_READ, cname);
	if (!rbuf)
		goto fail_errno;
	r = vchan_endpoint_create(cli_cfg, false, layout,
				  (struct vchan_interface *)cpage, rbuf, ro,
				  wbuf, lo, &shm_ops, ct, &c);
	if (r < 0)
		goto fail;
	ct = NULL;
	close(memfd);
	vchan_client_connect(c);
	shm_notify(c->tp);
	*srv = s;
	*cli = c;
	return 0;

fail_errno:
	r = errno ? -errno : -ENOMEM;
fail:
	if (s)
		vchan_endpoint_free(s, true);
	if (st)
		shm_release(st, true);
	if (ct)
		shm_release(ct, true);
	if (memfd >= 0)
		close(memfd);
	if (efd_s >= 0)
		close(efd_s);
	if (efd_c >= 0)
		close(efd_c);
	return r;
}

void vchan_shm_detach(struct vchan *v)
{
	/* Other transports cannot leave their shared part alone (a Xen end
	 * would unpublish and unshare what the other process still uses). */
	if (v && v->ops != &shm_ops) {
		vchan_log(v->name, "vchan_shm_detach() takes only an end made "
			  "by vchan_shm_pair(): nothing done");
		return;
	}
	vchan_endpoint_free(v, true);
}
