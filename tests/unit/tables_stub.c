/* See tables_stub.h. */
#include "tables_stub.h"

#include <stdlib.h>
#include <string.h>

#include "evtchn_table.h"
#include "fd_budget.h"

#define STUB_MAX 16
static struct sim_domain *stub_doms[STUB_MAX];
unsigned stub_domain_gone_calls;

struct sim_domain *stub_domain_add(uint32_t domid, uint32_t grant_frames,
                                   uint32_t event_channels)
{
    for (int i = 0; i < STUB_MAX; i++)
        if (!stub_doms[i]) {
            struct sim_domain *d = calloc(1, sizeof(*d));
            d->domid = domid;
            d->max_grant_frames = grant_frames;
            d->max_event_channels = event_channels;
            stub_doms[i] = d;
            fd_budget_domain_set(domid, "stub", 0); /* counted, unlimited */
            evtchn_domain_created(d);
            grant_domain_created(d);
            return d;
        }
    return NULL;
}

void stub_domains_reset(void)
{
    for (int i = 0; i < STUB_MAX; i++)
        if (stub_doms[i]) {
            grant_domain_destroyed(stub_doms[i]);
            evtchn_domain_destroyed(stub_doms[i]);
            fd_budget_domain_gone(stub_doms[i]->domid);
            free(stub_doms[i]);
            stub_doms[i] = NULL;
        }
}

struct sim_domain *domain_by_id(uint32_t domid)
{
    for (int i = 0; i < STUB_MAX; i++)
        if (stub_doms[i] && stub_doms[i]->domid == domid)
            return stub_doms[i];
    return NULL;
}

struct sim_domain *domain_next(struct sim_domain *prev)
{
    struct sim_domain *best = NULL;
    for (int i = 0; i < STUB_MAX; i++) {
        struct sim_domain *d = stub_doms[i];
        if (d && (!prev || d->domid > prev->domid) &&
            (!best || d->domid < best->domid))
            best = d;
    }
    return best;
}

void hypsock_domain_gone(uint32_t domid)
{
    stub_domain_gone_calls++;
}
