/* SPDX-License-Identifier: MIT */
/* fuzz_live_nodes: a client's clean-up of leaked liveness nodes and its
 * claim of an offer (libvchan-cap/live_reap.c), against a hostile
 * directory: any process of our domain may write what it likes under
 * data/vipc-vchan-live, so names and values are the input's.  The store is
 * faked in memory here (hyp_store_* below); the input also makes its calls
 * fail or conflict.
 *
 * Script: one byte of flags, then up to MAX_NODES nodes, each a byte of
 * kind, a byte of place (one of three shards, or the directory itself as
 * before sharding: such a node must be left alone) and a value; the same nodes then serve as a server's offer records
 * (vchan_offer_reap).  Kinds: arbitrary bytes; this process's own value (it
 * is alive); the value of a process that has exited; our own value with a
 * byte changed.  The claim then looks at two of the nodes.
 *
 * Checks that can fail: our own value reads as alive; a node naming this
 * very process is never removed or overwritten, nor one in no shard by a
 * clean-up; the claim never succeeds
 * over one (it answers -EBUSY, naming a pid, unless the store failed); a
 * node written by the claim carries our value; nodes are only removed or
 * written inside the transaction the code opened, and every transaction
 * ends. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fuzz_input.h"
#include "live_reap.h"
#include "vchan_priv.h"

#define MAX_NODES 12
#define MAX_VAL 160
#define SELF 7u
#define DIR_FMT "/local/domain/7/data/vipc-vchan-live"
/* The same nodes serve as a server's offer records (same value format). */
#define OFFER_DIR "/local/domain/7/data/vipc-vchan-offers"

struct node {
	char path[96];
	char val[MAX_VAL + 1];
	bool present, ours;          /* ours: names this very process */
	bool flat;                   /* not in a shard: never to be removed */
};

static struct {
	struct node n[MAX_NODES + 1];
	unsigned count;
	uint32_t flags;              /* failure injection, from the input */
	bool reaping;                /* in a clean-up, not the claim */
	unsigned calls;
	hyp_txn_t open_txn;
} fs;

static struct vchan_proc_id me;
static char dead_val[MAX_VAL + 1];

/* Fail (or conflict, in a transaction) on some calls, as the input says. */
static int injected(hyp_txn_t t)
{
	unsigned k = fs.calls++ % 16;

	if (!(fs.flags & (1u << k)))
		return 0;
	return t != HYP_TXN_NONE && (fs.flags & 0x10000) ? -EAGAIN : -EIO;
}

static struct node *find(const char *path)
{
	size_t o = strlen(OFFER_DIR);
	char alias[128];

	/* An offer record is the liveness node of the same name. */
	if (!strncmp(path, OFFER_DIR "/", o + 1)) {
		snprintf(alias, sizeof(alias), DIR_FMT "%s", path + o);
		path = alias;
	}
	for (unsigned i = 0; i < fs.count; i++)
		if (fs.n[i].present && !strcmp(fs.n[i].path, path))
			return &fs.n[i];
	return NULL;
}

int hyp_store_read(struct hyp_store *st, hyp_txn_t t, const char *path,
		   char **val, size_t *len)
{
	struct node *n;
	int r = injected(t);

	(void)st;
	if (r)
		return r;
	n = find(path);
	if (!n)
		return -ENOENT;
	*val = strdup(n->val);
	if (!*val)
		return -ENOMEM;
	if (len)
		*len = strlen(n->val);
	return 0;
}

/* The distinct next components of the present nodes below path (an offer
 * directory read as the liveness one), as the real call: one allocation,
 * the array, then the strings. */
int hyp_store_directory(struct hyp_store *st, hyp_txn_t t, const char *path,
			char ***names, unsigned int *count)
{
	size_t o = strlen(OFFER_DIR), pl;
	char alias[128], **v, part[96];
	unsigned i, j, k = 0;
	int r = injected(t);

	(void)st;
	if (r)
		return r;
	if (!strncmp(path, OFFER_DIR, o) && (!path[o] || path[o] == '/')) {
		snprintf(alias, sizeof(alias), DIR_FMT "%s", path + o);
		path = alias;
	}
	pl = strlen(path);
	v = calloc(1, (MAX_NODES + 2) * (sizeof(char *) + 96));
	if (!v)
		return -ENOMEM;
	for (i = 0; i < fs.count; i++) {
		const char *rest = fs.n[i].path + pl + 1;

		if (!fs.n[i].present || strncmp(fs.n[i].path, path, pl) ||
		    fs.n[i].path[pl] != '/')
			continue;
		snprintf(part, sizeof(part), "%.*s", (int)strcspn(rest, "/"),
			 rest);
		for (j = 0; j < k && strcmp(v[j], part); j++)
			;
		if (j < k)
			continue;
		v[k] = (char *)(v + MAX_NODES + 2) + 96 * k;
		snprintf(v[k], 96, "%s", part);
		k++;
	}
	if (k == 0 && strcmp(path, DIR_FMT)) {
		free(v);
		return -ENOENT;
	}
	*names = v;
	*count = k;
	return 0;
}

int hyp_store_txn_start(struct hyp_store *st, hyp_txn_t *t)
{
	int r = injected(HYP_TXN_NONE);

	(void)st;
	if (r)
		return r;
	if (fs.open_txn)
		abort();                /* one at a time, in this code */
	fs.open_txn = *t = 42;
	return 0;
}

int hyp_store_txn_end(struct hyp_store *st, hyp_txn_t t, bool abort_it)
{
	(void)st;
	if (t != fs.open_txn)
		abort();
	fs.open_txn = 0;
	return abort_it ? 0 : injected(t);
}

/* Writes and removals: only inside the transaction the code opened, so
 * that a failed commit would undo them (this fake applies them at once; a
 * later injected commit failure then leaves them, which only makes the
 * checks below harder to pass), and never to a node naming this live
 * process.  The node at path (NULL: none), or *r < 0 to fail with. */
static struct node *change(hyp_txn_t t, const char *path, const char *what,
			   int *r)
{
	struct node *n;

	*r = injected(t);
	if (*r)
		return NULL;
	if (t == HYP_TXN_NONE || t != fs.open_txn)
		abort();
	n = find(path);
	if (n && n->ours) {
		fprintf(stderr, "%s %s, which names this live process\n",
			what, path);
		abort();
	}
	if (n && n->flat && fs.reaping) {
		fprintf(stderr, "%s %s, which is in no shard\n", what, path);
		abort();
	}
	return n;
}

int hyp_store_rm(struct hyp_store *st, hyp_txn_t t, const char *path)
{
	int r;
	struct node *n = change(t, path, "removed", &r);

	(void)st;
	if (n)
		n->present = false;
	return r;
}

int hyp_store_write_str(struct hyp_store *st, hyp_txn_t t, const char *path,
			const char *value)
{
	int r;
	struct node *n = change(t, path, "overwrote", &r);

	(void)st;
	if (r)
		return r;
	if (!n) {
		if (fs.count > MAX_NODES)
			return -ENOSPC;
		n = &fs.n[fs.count++];
		snprintf(n->path, sizeof(n->path), "%s", path);
		n->present = true;
	}
	snprintf(n->val, sizeof(n->val), "%s", value);
	n->ours = false;          /* the code's own (its claim): its to remove */
	return 0;
}

int hyp_store_set_perms(struct hyp_store *st, hyp_txn_t t, const char *path,
			const struct xs_permissions *perms, unsigned int count)
{
	(void)st;
	(void)perms;
	if (t == HYP_TXN_NONE || t != fs.open_txn || count == 0 ||
	    !find(path))
		abort();
	return injected(t);
}

/* A process that has come and gone: its value, once. */
static void make_dead_value(void)
{
	struct vchan_proc_id dead = me;
	pid_t pid = fork();
	int status;
	char *v;

	if (pid == 0)
		_exit(0);
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		abort();
	dead.pid = pid;
	v = vchan_live_value(&dead, "/dead");
	if (!v)
		abort();
	snprintf(dead_val, sizeof(dead_val), "%s", v);
	free(v);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char *v;

	(void)argc;
	(void)argv;
	if (vchan_proc_self(&me) < 0)
		abort();
	v = vchan_live_value(&me, "/x");
	if (!v || vchan_live_owner(&me, v, NULL) != VCHAN_OWNER_ALIVE)
		abort();                /* our own value must read as alive */
	free(v);
	make_dead_value();
	vchan_set_logger(NULL, NULL);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size };
	char *ours = vchan_live_value(&me, "/local/domain/3/data/vipc-vchan");
	struct node *l, *c;
	unsigned i, kind, len, a, b;
	long holder;
	int r;

	if (!ours)
		return 0;
	memset(&fs, 0, sizeof(fs));
	vchan_reap_sweep_all();   /* each input: a whole sweep */
	fs.flags = take(&in, 3);
	fs.count = take(&in, 1) % (MAX_NODES - 1);
	for (i = 0; i < fs.count; i++) {
		struct node *n = &fs.n[i];

		unsigned place = take(&in, 1) % 4;

		n->flat = place == 3;
		if (n->flat)
			snprintf(n->path, sizeof(n->path), DIR_FMT "/3-%u-%u",
				 i + 1, 100 + i);
		else
			snprintf(n->path, sizeof(n->path), DIR_FMT "/%c/3-%u-%u",
				 "0a7"[place], i + 1, 100 + i);
		n->present = true;
		kind = take(&in, 1) % 4;
		if (kind == 1 || kind == 3)
			snprintf(n->val, sizeof(n->val), "%s", ours);
		else if (kind == 2)
			snprintf(n->val, sizeof(n->val), "%s", dead_val);
		if (kind == 3) {
			/* our value, one byte changed */
			unsigned at = take(&in, 1) % strlen(n->val);

			n->val[at] = (char)take(&in, 1);
		} else if (kind == 0) {
			len = take(&in, 1) % (MAX_VAL + 1);
			for (unsigned k = 0; k < len; k++) {
				char ch = (char)take(&in, 1);

				n->val[k] = ch ? ch : ' ';
			}
		}
		/* Whatever its kind: does it name this very process? */
		n->ours = vchan_live_owner(&me, n->val, &holder) ==
			  VCHAN_OWNER_ALIVE && holder == (long)getpid();
		if (kind == 1 && !n->ours) {
			fprintf(stderr, "our own value not judged alive: %s\n",
				n->val);
			abort();
		}
	}

	fs.reaping = true;
	vchan_live_reap(NULL, "fuzz", SELF, &me);
	if (fs.open_txn)
		abort();                /* every transaction ended */
	/* A server's clean-up of offer records: the same nodes, read as
	 * records (their offers, at the paths the values name, are absent
	 * here unless a value names one of these nodes). */
	vchan_offer_reap(NULL, "fuzz", SELF, &me);
	fs.reaping = false;
	if (fs.open_txn)
		abort();

	/* The claim of two of the nodes (a liveness node and its claim). */
	a = take(&in, 1) % (fs.count + 1);
	b = take(&in, 1) % (fs.count + 1);
	l = a < fs.count ? &fs.n[a] : NULL;
	c = b < fs.count && b != a ? &fs.n[b] : NULL;
	bool held = (l && l->present && l->ours) ||
		    (c && c->present && c->ours);
	r = vchan_live_claim(NULL, &me, SELF,
			     l ? l->path : DIR_FMT "/9/9-9-9",
			     c ? c->path : DIR_FMT "/9/9-9-9-claim", ours,
			     &holder);
	if (fs.open_txn)
		abort();
	/* Held: -EBUSY, or a store error that kept the claim from looking. */
	if (held && (r == 0 || r == 1)) {
		fprintf(stderr, "claimed over a live process's node: %d\n", r);
		abort();
	}
	if (r == -EBUSY && holder <= 0)
		abort();                /* busy names the holder */
	if (r == 1) {
		struct node *w = find(c ? c->path : DIR_FMT "/9/9-9-9-claim");

		if (!w || strcmp(w->val, ours))
			abort();        /* the claim is ours, as written */
	}
	free(ours);
	return 0;
}
