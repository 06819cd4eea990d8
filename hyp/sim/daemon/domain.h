/* xensim daemon: the domain table (the hypervisor's and toolstack's view).
 *
 * A domain is created by `xensim create`, lives in its own PID namespace whose
 * init is the domain monitor (monitor.c), and is destroyed by `xensim
 * destroy`, `xensim down`, or never by itself: a domain whose processes have
 * all exited stays, like an idle VM. Domain 0 is the host and always exists. */
#ifndef XENSIM_DOMAIN_H
#define XENSIM_DOMAIN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define SIM_NAME_MAX 64
#define SIM_MAX_DOMID 0x7fef /* DOMID_FIRST_RESERVED - 1 */

struct sim_domain {
    uint32_t domid;
    char name[SIM_NAME_MAX];
    uint8_t uuid[16];
    uint64_t pidns;          /* PID-namespace inode; 0 for dom0 */
    pid_t monitor;           /* host pid of the domain's init; 0 for dom0 */
    int monitor_fd;          /* daemon end of the monitor socket; -1 for dom0 */
    bool dying;              /* destroy started; no new resources */
    uint64_t created_ns;     /* CLOCK_MONOTONIC */
    uint64_t generation;     /* xenstore-style creation order, never reused */
    /* Limits from xl.cfg (max_grant_frames, max_event_channels). */
    uint32_t max_grant_frames;
    uint32_t max_event_channels;
    /* Per-table private state, owned by evtchn_table.c / grant_table.c. */
    void *evtchn;
    void *grants;
};

/* Lookup; NULL if there is no such domain. */
struct sim_domain *domain_by_id(uint32_t domid);
struct sim_domain *domain_by_name(const char *name);
struct sim_domain *domain_by_pidns(uint64_t pidns);
/* Iterate: first with prev == NULL, in domid order. */
struct sim_domain *domain_next(struct sim_domain *prev);

/* Hooks every table implements; the domain table calls them in this order. */
int evtchn_domain_created(struct sim_domain *d);
int grant_domain_created(struct sim_domain *d);
/* Called once the domain's processes are all dead, before it is forgotten:
 * close its ports (peers' ports become unbound), release its grants (mappings
 * other domains hold stay valid until unmapped, as on Xen). */
void evtchn_domain_destroyed(struct sim_domain *d);
void grant_domain_destroyed(struct sim_domain *d);

#endif
