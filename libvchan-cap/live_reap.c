/* SPDX-License-Identifier: MIT */
/* Liveness and claim nodes, offer records (see transport_xen.c).  A
 * client process killed in a living domain leaves its nodes: the server may
 * only read them, and xenstored removes a domain's nodes only with the
 * domain, so each counts against the domain's quota until then.  A node's
 * value names its process (pid, pid namespace, start time, the kernel's
 * boot id, then the offer's path), and a client, before it publishes its
 * own, removes those of its domain whose process is provably gone: from its
 * own pid namespace, or from an earlier boot of the domain's kernel (a soft
 * reset keeps the domain and its store nodes).  Nodes of an older format
 * (the offer's path alone) are left alone.
 *
 * The claim: two client processes of one domain may race for one offer.
 * Xen lets one bind; the other's bind fails with -EINVAL, which alone reads
 * as an offer not meant for us.  So before it binds, a client writes a claim
 * node next to the liveness node, in a transaction that finds neither held
 * by a live process of its pid namespace; finding one, it answers -EBUSY.
 *
 * Offer records: a server process killed in a living domain leaves its
 * offer, which nobody else may or would remove.  So a server records each
 * offer (VCHAN_OFFER_DIR/<shard>/<channel id>, the value as a liveness
 * node's, its path the offer's), and before it offers, removes the records
 * of dead server processes of its domain, each with the offer at its path
 * if that still carries the record's channel id (else a newer server's
 * offer is there now).
 *
 * Both directories are sharded (live_reap.h): a guest's directory may name
 * only about 2 KB of children on Xen 4.17.
 *
 * Our own nodes.  A process's open channels hold nodes in these directories
 * whose owner is plainly alive: itself.  Each open would read up to
 * REAP_MAX of them again (a process with 150 channels: 64 store reads per
 * open), so the clean-up skips, unread, the nodes this process holds
 * (vchan_reap_own); they count against no budget.
 *
 * Sweeps.  Looking at every shard costs 17 listings (the directory, then
 * each shard), most of an open's store round trips.  So a process's first
 * clean-up of a directory looks at every shard, and each later one at one
 * shard, in turn from a place that differs between processes: an open
 * lists one shard, and every shard is looked at again within 16 opens of
 * the process (and at the first open of every new one).
 *
 * own_mu guards the set and the turns; a forked child's copy names its
 * parent's nodes, not its own, and is emptied at the child's first use,
 * its turns started over (own_mu is held across fork(), fork.c). */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "live_reap.h"
#include "vchan_priv.h"

/* The value: "v2 <pid> <pid namespace inode> <start time> <boot id> <offer
 * path>"; "v1" (no boot id) when the kernel does not tell its boot id, and
 * from older clients. */
#define LIVE_VAL_V2 "v2 %ld %lu %llu %s %s"
#define LIVE_VAL_V1 "v1 %ld %lu %llu %s"
#define BOOT_ID "/proc/sys/kernel/random/boot_id"
/* Liveness nodes looked at per client open, at most. */
#define REAP_MAX 64
/* Tries of the claim's transaction (another client's write makes it
 * conflict). */
#define CLAIM_ATTEMPTS 10

/* Parse a decimal number of at most `max` at *p, followed by one space
 * (skipped) or, if `last`, the end.  false: malformed. */
static bool take_num(char **p, unsigned long long max, bool last,
		     unsigned long long *out)
{
	unsigned long long v = 0;
	char *s = *p;
	unsigned d;

	if (*s < '0' || *s > '9')
		return false;
	for (; *s >= '0' && *s <= '9'; s++) {
		d = (unsigned)(*s - '0');
		if (v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (last ? *s != '\0' : *s != ' ')
		return false;
	*p = last ? s : s + 1;
	*out = v;
	return true;
}

/* State and start time of process `pid` (in /proc's pid namespace; <0:
 * ours) from /proc: 0, or -errno, -EPROTO. */
static int proc_stat(long pid, char *state, unsigned long long *start)
{
	char path[64], buf[1024], *p;
	size_t n;
	FILE *f;
	int i;

	if (pid < 0)
		snprintf(path, sizeof(path), "/proc/self/stat");
	else
		snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* "pid (comm) state ppid ...": comm may hold anything, so go by the
	 * last ')'.  The start time is field 22, the 20th after it. */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || !p[2] || p[3] != ' ')
		return -EPROTO;
	*state = p[2];
	p += 4;
	for (i = 4; i < 22 && p; i++) {
		p = strchr(p, ' ');
		p = p ? p + 1 : NULL;
	}
	if (!p)
		return -EPROTO;
	p[strcspn(p, " \n")] = '\0';
	return take_num(&p, ULLONG_MAX, true, start) ? 0 : -EPROTO;
}

/* A boot id as the kernel writes it: 36 characters, lower-case hex digits
 * and dashes. */
static bool boot_id_ok(const char *id, size_t n)
{
	size_t i;

	if (n != VCHAN_BOOT_ID_LEN)
		return false;
	for (i = 0; i < n; i++)
		if (!(id[i] >= '0' && id[i] <= '9') &&
		    !(id[i] >= 'a' && id[i] <= 'f') && id[i] != '-')
			return false;
	return true;
}

/* This kernel's boot id into buf (VCHAN_BOOT_ID_LEN + 1), or "" when it does
 * not tell. */
static void read_boot_id(char *buf)
{
	char line[64];
	FILE *f = fopen(BOOT_ID, "re");

	buf[0] = '\0';
	if (!f)
		return;
	if (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (boot_id_ok(line, strlen(line)))
			memcpy(buf, line, VCHAN_BOOT_ID_LEN + 1);
	}
	fclose(f);
}

/* Who we are, for our liveness node: -errno when we cannot tell.  /proc
 * may be an outer pid namespace's (a container's, or a xensim domain's,
 * which is one): /proc/self is us all the same, and a start time does not
 * depend on the pid namespace (it does on the time namespace: see
 * other_time_ns()). */
int vchan_proc_self(struct vchan_proc_id *me)
{
	struct stat sb;
	char state;

	memset(me, 0, sizeof(*me));
	me->pid = (long)getpid();
	if (stat("/proc/self/ns/pid", &sb) < 0)
		return -errno;
	me->pidns = (unsigned long)sb.st_ino;
	read_boot_id(me->boot);
	return proc_stat(-1, &state, &me->start);
}

/* The pid, in /proc's pid namespace, of the process a pidfd refers to: -1
 * it has exited, 0 /proc cannot see it, <-1 cannot tell. */
static long pidfd_proc_pid(int fd)
{
	char path[64], line[128];
	long pid = -2;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return -2;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Pid: %ld", &pid) == 1)
			break;
	fclose(f);
	return pid;
}

/* May /proc/<host>'s process be in another time namespace than ours?
 * /proc shows a start time with the reader's boottime offset, so the one a
 * value holds (its writer's view) and the one we read agree only within
 * one namespace.  No when its link is ours, or when we have none (Linux
 * before 5.6: no time namespaces); yes when it differs, or when we may not
 * read it (another user's process, one of another user namespace). */
static bool other_time_ns(long host)
{
	char path[64];
	struct stat theirs, ours;

	if (stat("/proc/self/ns/time", &ours) < 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%ld/ns/time", host);
	return stat(path, &theirs) < 0 || theirs.st_ino != ours.st_ino ||
	       theirs.st_dev != ours.st_dev;
}

/* A value's fields (LIVE_VAL_V2, LIVE_VAL_V1); the strings point into it. */
struct live_val {
	unsigned long long pid, ns, start;
	const char *boot;            /* NULL: v1 */
	const char *path;
};

/* Parse val, cutting the boot id out of it (NUL-terminated in place);
 * false: not of a known format. */
static bool parse_value(char *val, struct live_val *lv)
{
	char *p = val, *boot;
	bool v2 = !strncmp(p, "v2 ", 3);

	if (!v2 && strncmp(p, "v1 ", 3))
		return false;
	p += 3;
	if (!take_num(&p, INT_MAX, false, &lv->pid) || lv->pid == 0 ||
	    !take_num(&p, ULONG_MAX, false, &lv->ns) ||
	    !take_num(&p, ULLONG_MAX, false, &lv->start))
		return false;
	lv->boot = NULL;
	if (v2) {
		boot = p;
		p += strcspn(p, " ");
		if (*p != ' ' || !boot_id_ok(boot, (size_t)(p - boot)))
			return false;
		*p++ = '\0';
		lv->boot = boot;
	}
	lv->path = p;
	return true;
}

/* Who holds a node whose value is `val`: gone, provably (one of our pid
 * namespace absent (ESRCH, which hidepid= does not give), exited, a zombie
 * (its mappings are gone, so is its channel) or its pid taken by another
 * process (another start time); or any process of an earlier boot of our
 * kernel); alive, provably (that very process of our pid namespace runs);
 * else unknown: another pid namespace, a process of our pid namespace
 * whose start time differs but which may be in another time namespace (we
 * cannot compare them: other_time_ns()), an older value format, garbage,
 * or /proc cannot tell.  The pid is ours, /proc's may not be: a pidfd
 * tells the one from the other.  *pid: the pid the value names (0 if
 * none). */
enum vchan_owner vchan_live_owner(const struct vchan_proc_id *me,
				  const char *val, long *pid)
{
	enum vchan_owner st = VCHAN_OWNER_UNKNOWN;
	char *copy = strdup(val);
	unsigned long long now;
	struct live_val lv;
	bool ok;
	long host;
	char state;
	int fd = -1;

	if (pid)
		*pid = 0;
	if (!copy)
		return VCHAN_OWNER_UNKNOWN;
	ok = parse_value(copy, &lv);
	if (ok && pid)
		*pid = (long)lv.pid;
	/* Another boot of this domain's kernel: none of its processes run. */
	if (ok && lv.boot && me->boot[0] && strcmp(lv.boot, me->boot))
		st = VCHAN_OWNER_GONE;
	free(copy);
	if (!ok || st == VCHAN_OWNER_GONE || lv.ns != me->pidns)
		return st;
#ifdef SYS_pidfd_open
	fd = (int)syscall(SYS_pidfd_open, (pid_t)lv.pid, 0);
#else
	errno = ENOSYS;
#endif
	if (fd < 0) {
		if (errno == ESRCH)
			return VCHAN_OWNER_GONE;
		/* No pidfds (before Linux 5.3): absence only. */
		if (errno == ENOSYS && kill((pid_t)lv.pid, 0) < 0 &&
		    errno == ESRCH)
			return VCHAN_OWNER_GONE;
		return VCHAN_OWNER_UNKNOWN;
	}
	host = pidfd_proc_pid(fd);
	if (host == -1) {
		st = VCHAN_OWNER_GONE;
	} else if (host > 0 && proc_stat(host, &state, &now) == 0 &&
		   pidfd_proc_pid(fd) == host) {
		/* Still that process after the look: its /proc entry.
		 * Another start time is another process, but only if we
		 * see its start time as it does. */
		if (state == 'Z' || state == 'X')
			st = VCHAN_OWNER_GONE;
		else if (now == lv.start)
			st = VCHAN_OWNER_ALIVE;
		else if (!other_time_ns(host))
			st = VCHAN_OWNER_GONE;
	}
	close(fd);
	return st;
}

/* An offer record's offer, removed with it (in txn) if it is still the
 * record's: its channel id is the record's name.  Another one there since,
 * or none: not ours to remove.  0 or a store error. */
static int reap_offer_of(struct hyp_store *st, hyp_txn_t txn,
			 const char *record, const char *val)
{
	const char *name = strrchr(record, '/') + 1;
	char *copy = strdup(val), *idp = NULL, *id = NULL;
	struct live_val lv;
	int r = 0;

	if (!copy)
		return -ENOMEM;
	/* An offer is an absolute path of our own domain's store. */
	if (!parse_value(copy, &lv) || lv.path[0] != '/' ||
	    lv.path[1] == '\0')
		goto out;
	r = -ENOMEM;
	if (asprintf(&idp, "%s/" VCHAN_CHANNEL_ID, lv.path) < 0) {
		idp = NULL;
		goto out;
	}
	r = hyp_store_read(st, txn, idp, &id, NULL);
	if (r == 0 && !strcmp(id, name))
		r = hyp_store_rm(st, txn, lv.path);
	else if (r == 0 || r == -ENOENT || r == -EACCES)
		r = 0;
out:
	free(copy);
	free(idp);
	free(id);
	return r;
}

/* Remove `path` if its process is gone, in a transaction that finds the
 * value unchanged (a new channel of the same name may have rewritten it
 * since we read it); an offer record, with its offer.  0 (removed or
 * kept), or a store error. */
static int reap_one(struct hyp_store *st, const struct vchan_proc_id *me,
		    const char *path, bool offer)
{
	char *val = NULL, *again = NULL;
	hyp_txn_t txn;
	int r;

	r = hyp_store_read(st, HYP_TXN_NONE, path, &val, NULL);
	if (r < 0)
		return r == -ENOENT ? 0 : r;
	if (vchan_live_owner(me, val, NULL) != VCHAN_OWNER_GONE)
		goto out;
	r = hyp_store_txn_start(st, &txn);
	if (r < 0)
		goto out;
	r = hyp_store_read(st, txn, path, &again, NULL);
	if (r == 0 && strcmp(again, val))
		r = -EAGAIN;
	if (r == 0 && offer)
		r = reap_offer_of(st, txn, path, val);
	if (r == 0)
		r = hyp_store_rm(st, txn, path);
	if (r < 0) {
		(void)hyp_store_txn_end(st, txn, true);
	} else {
		r = hyp_store_txn_end(st, txn, false);
	}
	/* Changed or gone meanwhile: not ours to judge any more. */
	if (r == -EAGAIN || r == -ENOENT)
		r = 0;
out:
	free(val);
	free(again);
	return r;
}

/* The set of our own nodes: paths, hashed into OWN_BUCKETS lists. */
#define OWN_BUCKETS 64
struct own_node {
	struct own_node *next;
	char path[];
};
static pthread_mutex_t own_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t own_once = PTHREAD_ONCE_INIT;
static struct own_node *own[OWN_BUCKETS];
static pid_t own_pid;          /* the process the set belongs to */
static unsigned turns[2];      /* clean-ups so far: [0] liveness, [1] offers */

static void own_guard(void)
{
	vchan_fork_guard(&own_mu);
}

static unsigned own_hash(const char *path)
{
	unsigned h = 2166136261u;   /* FNV-1a */

	for (; *path; path++)
		h = (h ^ (unsigned char)*path) * 16777619u;
	return h % OWN_BUCKETS;
}

/* Take own_mu; in a process other than the set's (a forked child), empty
 * the set first (those nodes are the parent's) and start the turns over. */
static void own_enter(void)
{
	pid_t pid = getpid();

	pthread_once(&own_once, own_guard);
	vchan_guard_lock(&own_mu);
	if (own_pid == pid)
		return;
	for (unsigned b = 0; b < OWN_BUCKETS; b++)
		while (own[b]) {
			struct own_node *n = own[b];

			own[b] = n->next;
			free(n);
		}
	turns[0] = turns[1] = 0;
	own_pid = pid;
}

void vchan_reap_sweep_all(void)
{
	own_enter();
	turns[0] = turns[1] = 0;
	vchan_guard_unlock(&own_mu);
}

/* This process's clean-ups of that directory so far (then one more). */
static unsigned next_turn(bool offer)
{
	unsigned t;

	own_enter();
	t = turns[offer]++;
	vchan_guard_unlock(&own_mu);
	return t;
}

void vchan_reap_own(const char *path)
{
	size_t len = strlen(path) + 1;
	struct own_node *n = malloc(sizeof(*n) + len);
	unsigned b = own_hash(path);

	if (!n)
		return;   /* then it is read like any other: no harm */
	memcpy(n->path, path, len);
	own_enter();
	n->next = own[b];
	own[b] = n;
	vchan_guard_unlock(&own_mu);
}

void vchan_reap_disown(const char *path)
{
	struct own_node **pp;

	own_enter();
	for (pp = &own[own_hash(path)]; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->path, path)) {
			struct own_node *n = *pp;

			*pp = n->next;
			free(n);
			break;
		}
	vchan_guard_unlock(&own_mu);
}

static bool is_own(const char *path)
{
	struct own_node *n;

	own_enter();
	for (n = own[own_hash(path)]; n && strcmp(n->path, path); n = n->next)
		;
	vchan_guard_unlock(&own_mu);
	return n != NULL;
}

/* The shards' names, one each. */
static const char shard_digits[VCHAN_SHARDS + 1] = "0123456789abcdef";

char vchan_shard(const char *id, unsigned ring_ref)
{
	if (id && id[0] && strchr(shard_digits, id[0]))
		return id[0];
	return shard_digits[ring_ref % VCHAN_SHARDS];
}

static bool is_shard(const char *name)
{
	return name[0] && !name[1] && strchr(shard_digits, name[0]);
}

/* Look at the nodes of shard `dir`, *budget at most (counted down), from a
 * place that differs between processes.  0, or a store error. */
static int reap_shard(struct hyp_store *st, const struct vchan_proc_id *me,
		      const char *dir, bool offer, unsigned *budget)
{
	unsigned int n = 0, k, start;
	char **names = NULL, *path;
	int r;

	r = hyp_store_directory(st, HYP_TXN_NONE, dir, &names, &n);
	if (r == -ENOENT)
		return 0;
	start = n > *budget ? (unsigned)me->pid % n : 0;
	for (k = 0; r == 0 && k < n && *budget > 0; k++) {
		if (asprintf(&path, "%s/%s", dir, names[(start + k) % n]) < 0) {
			r = -ENOMEM;
			break;
		}
		if (!is_own(path)) {
			r = reap_one(st, me, path, offer);
			(*budget)--;
		}
		free(path);
	}
	free(names);
	return r;
}

/* Remove the nodes of dead processes in the shards of dir_fmt
 * (VCHAN_LIVE_DIR or VCHAN_OFFER_DIR) of domain `self`, REAP_MAX at most in
 * all: in every shard the first time, from one that differs between
 * processes, then in one shard, in turn; anything there not named as a
 * shard is left alone.  Best effort: a store error ends the scan, logged
 * once per process. */
static void reap_dir(struct hyp_store *st, const char *who, unsigned self,
		     const struct vchan_proc_id *me, const char *dir_fmt,
		     bool offer, int *logged)
{
	unsigned int n = 0, k, start, budget = REAP_MAX;
	unsigned turn = next_turn(offer);
	char **shards = NULL, *dir, *sub;
	int r;

	if (asprintf(&dir, dir_fmt, self) < 0)
		return;
	if (turn > 0) {
		char one = shard_digits[((unsigned)me->pid + turn) %
					VCHAN_SHARDS];

		r = -ENOMEM;
		if (asprintf(&sub, "%s/%c", dir, one) >= 0) {
			r = reap_shard(st, me, sub, offer, &budget);
			free(sub);
		}
		goto out;
	}
	r = hyp_store_directory(st, HYP_TXN_NONE, dir, &shards, &n);
	start = n ? (unsigned)me->pid % n : 0;
	for (k = 0; r == 0 && k < n && budget > 0; k++) {
		const char *name = shards[(start + k) % n];

		if (!is_shard(name))
			continue;
		if (asprintf(&sub, "%s/%s", dir, name) < 0)
			break;
		r = reap_shard(st, me, sub, offer, &budget);
		free(sub);
	}
out:
	if (r < 0 && r != -ENOENT && vchan_first_time(logged))
		vchan_log(who, "cannot clean up %s (%s): %s of dead processes "
			  "stay", dir, strerror(-r),
			  offer ? "offers" : "liveness nodes");
	free(shards);
	free(dir);
}

void vchan_live_reap(struct hyp_store *st, const char *who, unsigned self,
		     const struct vchan_proc_id *me)
{
	static int logged;

	reap_dir(st, who, self, me, VCHAN_LIVE_DIR, false, &logged);
}

void vchan_offer_reap(struct hyp_store *st, const char *who, unsigned self,
		      const struct vchan_proc_id *me)
{
	static int logged;

	reap_dir(st, who, self, me, VCHAN_OFFER_DIR, true, &logged);
}

char *vchan_live_value(const struct vchan_proc_id *me, const char *xs_path)
{
	char *val;
	int r = me->boot[0] ?
		asprintf(&val, LIVE_VAL_V2, me->pid, me->pidns, me->start,
			 me->boot, xs_path) :
		asprintf(&val, LIVE_VAL_V1, me->pid, me->pidns, me->start,
			 xs_path);

	return r < 0 ? NULL : val;
}

/* One look at `path` inside txn: *held says whether a live process of ours
 * holds it (its pid in *holder), *unknown whether we cannot tell. */
static int claim_look(struct hyp_store *st, hyp_txn_t txn,
		      const struct vchan_proc_id *me, const char *path,
		      bool *held, bool *unknown, long *holder)
{
	enum vchan_owner o;
	char *val = NULL;
	int r = hyp_store_read(st, txn, path, &val, NULL);

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	o = vchan_live_owner(me, val, holder);
	free(val);
	*held |= o == VCHAN_OWNER_ALIVE;
	*unknown |= o == VCHAN_OWNER_UNKNOWN;
	return 0;
}

int vchan_live_claim(struct hyp_store *st, const struct vchan_proc_id *me,
		     unsigned self, const char *live_path,
		     const char *claim_path, const char *val, long *holder)
{
	struct xs_permissions perm = { .id = self, .perms = XS_PERM_NONE };
	bool held, unknown;
	hyp_txn_t txn;
	int r = -EAGAIN, i;

	*holder = 0;
	for (i = 0; i < CLAIM_ATTEMPTS && r == -EAGAIN; i++) {
		held = unknown = false;
		r = hyp_store_txn_start(st, &txn);
		if (r < 0)
			return r;
		r = claim_look(st, txn, me, live_path, &held, &unknown,
			       holder);
		if (r == 0 && !held)
			r = claim_look(st, txn, me, claim_path, &held,
				       &unknown, holder);
		if (r == 0 && (held || unknown)) {
			(void)hyp_store_txn_end(st, txn, true);
			return held ? -EBUSY : 0;
		}
		if (r == 0)
			r = hyp_store_write_str(st, txn, claim_path, val);
		if (r == 0)
			r = hyp_store_set_perms(st, txn, claim_path, &perm, 1);
		if (r < 0) {
			(void)hyp_store_txn_end(st, txn, true);
			continue;
		}
		r = hyp_store_txn_end(st, txn, false);
	}
	return r < 0 ? r : 1;
}
