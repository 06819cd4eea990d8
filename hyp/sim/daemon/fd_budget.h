/* xensim daemon: its descriptor table, shared fairly between domains.
 *
 * Every descriptor the daemon keeps open beyond one request on behalf of a
 * domain is charged to that domain: its hyp.sock, xenstored.sock and
 * ctl.sock connections, the pipe of each bound port, the memfd of each
 * share (and its read-only reopen, charged up front for read-only shares).
 * Short-lived ones (the fds a reply carries, a notify's peer fd) are not.
 * A charge past the domain's max_fds fails with -EMFILE: the guest gets the
 * errno Linux gives a process out of descriptors, which is what the daemon
 * would hit for everyone if the charge were let through; it is distinct
 * from Xen's own limits (ENOSPC past max_event_channels or the grant table).
 *
 * max_fds 0 means unlimited: dom0 by default (the host runs the backends of
 * every guest and may destroy any of them anyway); guests get
 * fd_budget_default() unless their xl.cfg says otherwise. Once a domain is
 * destroyed, what the daemon still holds for others (a memfd a peer maps)
 * is no longer charged to anyone. */
#ifndef XENSIM_FD_BUDGET_H
#define XENSIM_FD_BUDGET_H

#include <stdint.h>

/* Raise RLIMIT_NOFILE's soft limit to the hard one and size the default
 * budget from it. */
int fd_budget_init(void);
/* A guest's budget when its config names none: 1/16 of the daemon's
 * descriptor limit, at least 64 (before init: 64). */
uint32_t fd_budget_default(void);

/* Start counting for domid (domain.c, at creation), or change its budget;
 * max 0: unlimited; name is for the log. 0 or -ENOMEM. The count lives
 * here, not in struct sim_domain, so that what the destroy hooks give back
 * is still counted after the domain table forgot the domain. */
int fd_budget_domain_set(uint32_t domid, const char *name, uint32_t max);
/* Stop counting for domid, after its destroy hooks ran; returns what was
 * still charged (0 unless something leaked). */
uint32_t fd_budget_domain_gone(uint32_t domid);
/* Descriptors charged to domid now (0 if it is not counted). */
uint32_t fd_budget_used(uint32_t domid);
/* domid's budget: 0 unlimited, or not counted. */
uint32_t fd_budget_max(uint32_t domid);

/* Charge n descriptors to domid, for what (a short noun for the log):
 * 0, or -EMFILE over budget (logged, at most once per interval per
 * domain). A domid that is not counted has no budget: 0. */
int fd_charge(uint32_t domid, uint32_t n, const char *what);
/* Give n back (never below zero). */
void fd_uncharge(uint32_t domid, uint32_t n);

#endif
