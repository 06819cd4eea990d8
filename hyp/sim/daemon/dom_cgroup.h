/* xensim: a domain's cgroups, which bound its processes and its memory.
 *
 * On Xen a guest's own kernel bounds both: it has the memory xl.cfg gave
 * it and a pid space of its own. Here a domain is a tree of the host's
 * processes, so the daemon makes it a cgroup in each hierarchy holding a
 * controller it needs, below the daemon's own cgroup there (the limits of
 * a host's or container's cgroups above still hold over it), and the
 * domain's monitor joins them before any guest process runs:
 *   - pids.max is DOM_PID_MAX - 1: as many tasks as a PID namespace whose
 *     pid_max is DOM_PID_MAX can hold (pids 1 to 1023), monitor included;
 *   - the domain's `memory` (MiB): cgroup v1's memory.limit_in_bytes, or
 *     v2's memory.max, with memory.swap.max 0 where there is one (a
 *     guest has no swap but its own).
 * Past its memory the kernel's OOM killer ends a process of the domain,
 * as a guest's kernel would. The hierarchies are the cgroup mounts at or
 * below XENSIM_CGROUP_ROOT (default /sys/fs/cgroup): a controller on a v1
 * hierarchy is used there, else on the v2 one if the daemon's cgroup has
 * it. What cannot be had (no cgroupfs, a controller missing, a file not
 * writable) leaves that bound out; the domain is made all the same, and
 * what is not bounded is said by the caller, once per domain.
 * The domain cannot leave its cgroups: its /sys is read-only. */
#ifndef XENSIM_DOM_CGROUP_H
#define XENSIM_DOM_CGROUP_H

#include <stdbool.h>
#include <stdint.h>

struct loop;

enum { CG_PIDS, CG_MEMORY, CG_NCTRL };

#define DOM_CG_WHY 384

struct dom_cgroup {
    int n;                      /* cgroups made for the domain */
    char *dir[CG_NCTRL];        /* their folders (malloc'd) */
    unsigned ctrls[CG_NCTRL];   /* the controllers bounded in each (bits) */
    int err[CG_NCTRL];          /* per controller: 0 bounded, else -errno */
    char why[CG_NCTRL][DOM_CG_WHY]; /* what failed, for the log */
};

/* Read the environment at start: XENSIM_CGROUP_ROOT (an absolute folder)
 * and XENSIM_PID_BOUND (unset, or "cgroup": no pid_max, a testing knob).
 * 0, or -EINVAL after saying which value is wrong. */
int dom_cgroup_init(void);
/* Whether a domain's PID namespace gets a pid_max of DOM_PID_MAX too. */
bool dom_cgroup_pid_max(void);
/* The knob that turned pid_max off, for the log. */
const char *dom_cgroup_pid_knob(void);

/* Make the cgroups of domain domid, with its bounds. Never fails: what
 * could not be done is in cg->err and cg->why. */
void dom_cgroup_make(struct dom_cgroup *cg, uint32_t domid, uint32_t memory_mb);
/* In the domain's monitor, before anything else: move into them. A move
 * that fails leaves its controllers unbounded (cg->err says so). */
void dom_cgroup_join(struct dom_cgroup *cg);
/* Once the domain's processes are gone: remove its cgroups, now or, while
 * the kernel still counts a process in one, retried for a few seconds
 * from the loop; what cannot be removed is logged. Empties cg. */
void dom_cgroup_remove(struct loop *l, struct dom_cgroup *cg);
/* At the daemon's end: a last try at what is still to remove. */
void dom_cgroup_shutdown(struct loop *l);

#endif
