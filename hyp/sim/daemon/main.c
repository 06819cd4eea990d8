/* xensim daemon: start the tables, listen, run the loop (see xensimd.h). */
#include "xensimd.h"
#include "ctl.h"
#include "dom_cgroup.h"
#include "domain_ops.h"
#include "fd_accept.h"
#include "fd_budget.h"
#include "grant_table.h"
#include "hypsock.h"
#include "ident.h"
#include "loop.h"
#include "xs_server.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

static struct loop *g_loop;
static int g_sigfd = -1;

static void on_signal(void *ctx, uint32_t events)
{
    struct signalfd_siginfo si;
    bool reap = false;
    while (read(g_sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGCHLD)
            reap = true;
        else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
            fprintf(stderr, "xensim: signal %u, shutting down\n", si.ssi_signo);
            loop_stop(g_loop);
        }
    }
    if (reap)
        domain_reap();
}

static int sock_path(char *out, size_t len, const char *dir, const char *name)
{
    int n = snprintf(out, len, "%s/%s", dir, name);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int xensimd_run(const char *dir, int ready_fd)
{
    char ctl[PATH_MAX], hyp[PATH_MAX], xs[PATH_MAX];
    int r = sock_path(ctl, sizeof(ctl), dir, "ctl.sock");
    if (!r) r = sock_path(hyp, sizeof(hyp), dir, "hyp.sock");
    if (!r) r = sock_path(xs, sizeof(xs), dir, "xenstored.sock");
    if (r)
        return r;

    signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGHUP, SIG_IGN);

    if ((r = ident_init()) || (r = dom_cgroup_init()))
        return r;
    /* Before any domain exists: their budgets derive from the limit. */
    if ((r = fd_budget_init()) || (r = fd_accept_init())) {
        fprintf(stderr, "xensim: cannot size the descriptor budgets: %s\n", strerror(-r));
        return r;
    }
    g_loop = loop_new();
    if (!g_loop)
        return -ENOMEM;
    g_sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (g_sigfd < 0)
        return -errno;
    if ((r = loop_add(g_loop, g_sigfd, EPOLLIN, on_signal, NULL)))
        return r;

    struct xs_limits lim;
    xs_limits_default(&lim);
    struct xs_server *store = xs_server_new(g_loop, &lim);
    if (!store)
        return -ENOMEM;
    xs_server_set_fd_budget(store, fd_charge, fd_uncharge);
    if ((r = xs_server_listen(store, xs))) {
        fprintf(stderr, "xensim: cannot listen on %s: %s\n", xs, strerror(-r));
        return r;
    }
    grant_table_init(g_loop);
    if ((r = domain_table_init(g_loop, store, dir)))
        return r;
    if ((r = hypsock_listen(g_loop, hyp))) {
        fprintf(stderr, "xensim: cannot listen on %s: %s\n", hyp, strerror(-r));
        return r;
    }
    /* The control socket last: once it answers, the host is fully up. */
    if ((r = ctl_listen(g_loop, ctl))) {
        fprintf(stderr, "xensim: cannot listen on %s: %s\n", ctl, strerror(-r));
        return r;
    }
    fprintf(stderr, "xensim: up in %s\n", dir);
    if (ready_fd >= 0) {
        (void)!write(ready_fd, "1", 1);
        close(ready_fd);
    }
    r = loop_run(g_loop);
    /* Else what is left dies with us (monitors have PDEATHSIG=SIGKILL),
     * and leaves its cgroups behind. */
    domain_table_shutdown();
    dom_cgroup_shutdown(g_loop);

    unlink(ctl);
    unlink(hyp);
    unlink(xs);
    fprintf(stderr, "xensim: down\n");
    return r;
}
