/* SPDX-License-Identifier: MIT */
/* Leaked liveness nodes (see transport_xen.c for what the node is).  A
 * client process killed in a living domain leaves its node: the server may
 * only read it, and xenstored removes a domain's nodes only with the
 * domain, so each counts against the domain's quota until then.  The
 * node's value names its process (pid, pid namespace, start time, then the
 * offer's path), and a client, before it publishes its own, removes those
 * of its domain whose process is provably gone from its own pid namespace.
 * Nodes of an older format (the offer's path alone) are left alone. */
#include "config.h"

#include <errno.h>
#include <limits.h>
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

/* The value: "v1 <pid> <pid namespace inode> <start time> <offer path>". */
#define LIVE_VAL "v1 %ld %lu %llu %s"
/* Liveness nodes looked at per client open, at most. */
#define REAP_MAX 64

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

/* Who we are, for our liveness node: -errno when we cannot tell.  /proc
 * may be an outer pid namespace's (a container's, or a xensim domain's,
 * which is one): /proc/self is us all the same, and a start time does not
 * depend on the namespace. */
int vchan_proc_self(struct vchan_proc_id *me)
{
	struct stat sb;
	char state;

	memset(me, 0, sizeof(*me));
	me->pid = (long)getpid();
	if (stat("/proc/self/ns/pid", &sb) < 0)
		return -errno;
	me->pidns = (unsigned long)sb.st_ino;
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

/* Is the process a node names (its value `val`) provably gone?  Only one of
 * our pid namespace can be: absent (ESRCH, which hidepid= does not give),
 * exited, a zombie (its mappings are gone, so is its channel), or its pid
 * taken by another process (another start time).  The pid is ours, /proc's
 * may not be: a pidfd tells the one from the other.  Anything else, an
 * older value format included, counts as alive. */
static bool owner_gone(const struct vchan_proc_id *me, const char *val)
{
	unsigned long long pid, ns, start, now;
	char *copy = strdup(val), *p = copy;
	bool ok, gone = false;
	long host;
	char state;
	int fd = -1;

	if (!copy)
		return false;
	ok = !strncmp(p, "v1 ", 3);
	p += ok ? 3 : 0;
	ok = ok && take_num(&p, INT_MAX, false, &pid) && pid > 0 &&
	     take_num(&p, ULONG_MAX, false, &ns) &&
	     take_num(&p, ULLONG_MAX, false, &start);
	free(copy);
	if (!ok || ns != me->pidns)
		return false;
#ifdef SYS_pidfd_open
	fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
#else
	errno = ENOSYS;
#endif
	if (fd < 0) {
		if (errno == ESRCH)
			return true;
		/* No pidfds (before Linux 5.3): absence only. */
		return errno == ENOSYS && kill((pid_t)pid, 0) < 0 &&
		       errno == ESRCH;
	}
	host = pidfd_proc_pid(fd);
	if (host == -1) {
		gone = true;
	} else if (host > 0 && proc_stat(host, &state, &now) == 0 &&
		   pidfd_proc_pid(fd) == host) {
		/* Still that process after the look: its /proc entry. */
		gone = now != start || state == 'Z' || state == 'X';
	}
	close(fd);
	return gone;
}

/* Remove `path` if its process is gone, in a transaction that finds the
 * value unchanged (a new channel of the same name may have rewritten it
 * since we read it).  0 (removed or kept), or a store error. */
static int reap_one(struct hyp_store *st, const struct vchan_proc_id *me,
		    const char *path)
{
	char *val = NULL, *again = NULL;
	hyp_txn_t txn;
	int r;

	r = hyp_store_read(st, HYP_TXN_NONE, path, &val, NULL);
	if (r < 0)
		return r == -ENOENT ? 0 : r;
	if (!owner_gone(me, val))
		goto out;
	r = hyp_store_txn_start(st, &txn);
	if (r < 0)
		goto out;
	r = hyp_store_read(st, txn, path, &again, NULL);
	if (r == 0 && strcmp(again, val))
		r = -EAGAIN;
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

/* Client: remove the leaked liveness nodes of our domain (see the top),
 * REAP_MAX at most, from a place that differs between processes.  Best
 * effort: a store error ends the scan, logged once per process. */
void vchan_live_reap(struct hyp_store *st, const char *who, unsigned self,
		     const struct vchan_proc_id *me)
{
	static int reap_failed; /* logged once per process */
	unsigned int n = 0, k, start;
	char **names = NULL, *dir, *path;
	int r;

	if (asprintf(&dir, VCHAN_LIVE_DIR, self) < 0)
		return;
	r = hyp_store_directory(st, HYP_TXN_NONE, dir, &names, &n);
	start = n > REAP_MAX ? (unsigned)me->pid % n : 0;
	for (k = 0; r == 0 && k < n && k < REAP_MAX; k++) {
		if (asprintf(&path, "%s/%s", dir, names[(start + k) % n]) < 0)
			break;
		r = reap_one(st, me, path);
		free(path);
	}
	if (r < 0 && r != -ENOENT && !__atomic_exchange_n(&reap_failed, 1, __ATOMIC_RELAXED))
		vchan_log(who, "cannot clean up %s (%s): liveness nodes of "
			  "dead processes stay", dir, strerror(-r));
	free(names);
	free(dir);
}

char *vchan_live_value(const struct vchan_proc_id *me, const char *xs_path)
{
	char *val;

	if (asprintf(&val, LIVE_VAL, me->pid, me->pidns, me->start,
		     xs_path) < 0)
		return NULL;
	return val;
}
