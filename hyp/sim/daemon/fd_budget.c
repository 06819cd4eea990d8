/* xensim daemon: per-domain descriptor budgets. See fd_budget.h. */
#include "fd_budget.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "domain.h"
#include "ratelimit.h"

#define BUDGET_FLOOR 64u
#define BUDGET_SHARE 16u /* a guest may hold 1/16 of the daemon's limit */
static uint32_t g_default = BUDGET_FLOOR;

int fd_budget_init(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return -errno;
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit up = { .rlim_cur = rl.rlim_max, .rlim_max = rl.rlim_max };
        if (setrlimit(RLIMIT_NOFILE, &up) == 0)
            rl = up;
        else
            fprintf(stderr, "xensim: cannot raise the descriptor limit to %llu: %s\n",
                    (unsigned long long)rl.rlim_max, strerror(errno));
    }
    rlim_t share = rl.rlim_cur == RLIM_INFINITY ? UINT32_MAX
                                                : rl.rlim_cur / BUDGET_SHARE;
    if (share > UINT32_MAX)
        share = UINT32_MAX;
    g_default = share < BUDGET_FLOOR ? BUDGET_FLOOR : (uint32_t)share;
    fprintf(stderr, "xensim: descriptor limit %llu, guest budget %u\n",
            (unsigned long long)rl.rlim_cur, g_default);
    return 0;
}

uint32_t fd_budget_default(void)
{
    return g_default;
}

/* Few domains, looked up per charge: a list will do. */
struct account {
    struct account *next;
    uint32_t domid;
    uint32_t max;      /* 0: unlimited */
    uint32_t used;
    uint32_t refused;  /* since the last log line */
    uint64_t logged_ns;
    char name[SIM_NAME_MAX];
};

static struct account *g_accounts;

static struct account *account_of(uint32_t domid)
{
    struct account *a = g_accounts;
    while (a && a->domid != domid)
        a = a->next;
    return a;
}

int fd_budget_domain_set(uint32_t domid, const char *name, uint32_t max)
{
    struct account *a = account_of(domid);
    if (!a) {
        a = calloc(1, sizeof(*a));
        if (!a)
            return -ENOMEM;
        a->domid = domid;
        a->next = g_accounts;
        g_accounts = a;
    }
    snprintf(a->name, sizeof(a->name), "%s", name);
    a->max = max;
    return 0;
}

uint32_t fd_budget_domain_gone(uint32_t domid)
{
    for (struct account **pp = &g_accounts; *pp; pp = &(*pp)->next)
        if ((*pp)->domid == domid) {
            struct account *a = *pp;
            uint32_t left = a->used;
            *pp = a->next;
            free(a);
            return left;
        }
    return 0;
}

uint32_t fd_budget_used(uint32_t domid)
{
    struct account *a = account_of(domid);
    return a ? a->used : 0;
}

uint32_t fd_budget_max(uint32_t domid)
{
    struct account *a = account_of(domid);
    return a ? a->max : 0;
}

int fd_charge(uint32_t domid, uint32_t n, const char *what)
{
    struct account *a = account_of(domid);
    if (!a)
        return 0;
    if (!a->max || (a->used <= a->max && n <= a->max - a->used)) {
        a->used += n;
        return 0;
    }
    a->refused++;
    /* One line per domain per interval: a guest hammering its limit
     * must not flood the log. */
    if (log_due(&a->logged_ns)) {
        fprintf(stderr, "xensim: domain %u (%s) is out of its descriptor budget "
                "(%u of max_fds=%u held): refused %u request(s), last a %s\n",
                a->domid, a->name, a->used, a->max, a->refused, what);
        a->refused = 0;
    }
    return -EMFILE;
}

void fd_uncharge(uint32_t domid, uint32_t n)
{
    struct account *a = account_of(domid);
    if (a)
        a->used = n < a->used ? a->used - n : 0;
}
