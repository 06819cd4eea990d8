/* xensim daemon: what the control socket asks of the domain table.
 * (Tables see only domain.h.) */
#ifndef XENSIM_DOMAIN_OPS_H
#define XENSIM_DOMAIN_OPS_H

#include "domain.h"

struct loop;
struct xs_server;

struct domain_params {
    char name[SIM_NAME_MAX];
    uint8_t uuid[16];
    bool has_uuid;
    uint32_t max_grant_frames;   /* 0: Xen's default (64) */
    uint32_t max_event_channels; /* 0: Xen's default (1023) */
    uint32_t max_fds;            /* 0: fd_budget_default() */
    uint32_t console_limit;      /* log bytes; 0: CONSOLE_LIMIT_DEFAULT */
    uint32_t memory_mb;          /* reported by list, like xl */
    uint32_t vcpus;
};

enum job_event { JOB_STARTED, JOB_FAILED, JOB_EXITED };
/* value: host-side pid for STARTED (in the domain's namespace), errno for
 * FAILED, exit status (code or 128+signal) for EXITED. */
typedef void (*job_cb)(void *ctx, enum job_event ev, int value, const char *msg);

/* host_dir: the host's folder (sockets, logs), which domains may not
 * change (read-only in their mount namespaces). */
int domain_table_init(struct loop *loop, struct xs_server *xs,
                      const char *host_dir);
/* Reap exited children (monitors); call on SIGCHLD. */
void domain_reap(void);
/* At the daemon's end: kill the domains still up, and remove their
 * cgroups once they are gone (waiting 2 seconds at most). */
void domain_table_shutdown(void);

int domain_create(const struct domain_params *p, struct sim_domain **out);
/* Start argv in d with the given stdio; ids are unique per daemon. The fds
 * are only borrowed (the caller closes its copies). cb may be NULL. */
int domain_spawn(struct sim_domain *d, const char *cwd, char *const *argv,
                 char *const *envp, const int stdfds[3], job_cb cb, void *ctx,
                 unsigned long *id_out);
/* Forget a job's callback (its requester left) and signal it. */
void domain_job_abandon(struct sim_domain *d, unsigned long id, int sig);
int domain_job_signal(struct sim_domain *d, unsigned long id, int sig);
/* Destroy: kill everything in d; done(ctx) runs once it is gone. */
int domain_destroy(struct sim_domain *d, void (*done)(void *ctx), void *ctx);
/* Processes currently in d (not counting its monitor); -errno on error. */
int domain_count_processes(const struct sim_domain *d);
uint32_t domain_memory_mb(const struct sim_domain *d);
uint32_t domain_vcpus(const struct sim_domain *d);

#endif
