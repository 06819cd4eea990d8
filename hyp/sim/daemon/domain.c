/* xensim daemon: the domain table; create, spawn into, destroy. */

#include "dom_cgroup.h"
#include "dom_isolate.h"
#include "dom_seccomp.h"
#include "domain_ops.h"
#include "fd_budget.h"
#include "ident.h"
#include "loop.h"
#include "monitor.h"
#include "ratelimit.h"
#include "strmsg.h"
#include "xs_server.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define XEN_DEFAULT_GRANT_FRAMES 64
#define XEN_DEFAULT_EVENT_CHANNELS 1023 /* libxl's for a guest */
/* Xen creates dom0 with no port limit of its own: the FIFO ABI's. */
#define XEN_DOM0_EVENT_CHANNELS ((1u << 17) - 1)

/* The host's folder, absolute (domain_table_init). */
static char g_host_dir[PATH_MAX];

struct job {
    unsigned long id;
    job_cb cb;
    void *ctx;
    struct job *next;
};

struct waiter {
    void (*done)(void *ctx);
    void *ctx;
    struct waiter *next;
};

/* The public part first, so a struct sim_domain * is also a struct dom *. */
struct dom {
    struct sim_domain d;
    uint32_t memory_mb, vcpus;
    struct dom_cgroup cg;
    struct job *jobs;
    struct waiter *waiters;
    struct dom *next; /* sorted by domid */
};

static struct loop *g_loop;
static struct xs_server *g_xs;
static struct dom *g_doms;
static uint32_t g_next_domid = 1;
static uint64_t g_generation;
static unsigned long g_next_job = 1;

static void insert_sorted(struct dom *nd)
{
    struct dom **pp = &g_doms;
    while (*pp && (*pp)->d.domid < nd->d.domid)
        pp = &(*pp)->next;
    nd->next = *pp;
    *pp = nd;
}

struct sim_domain *domain_by_id(uint32_t domid)
{
    for (struct dom *x = g_doms; x; x = x->next)
        if (x->d.domid == domid)
            return &x->d;
    return NULL;
}

struct sim_domain *domain_by_name(const char *name)
{
    for (struct dom *x = g_doms; x; x = x->next)
        if (!strcmp(x->d.name, name))
            return &x->d;
    return NULL;
}

struct sim_domain *domain_by_pidns(uint64_t pidns)
{
    if (!pidns)
        return NULL;
    for (struct dom *x = g_doms; x; x = x->next)
        if (x->d.pidns == pidns)
            return &x->d;
    return NULL;
}

struct sim_domain *domain_next(struct sim_domain *prev)
{
    if (!prev)
        return g_doms ? &g_doms->d : NULL;
    struct dom *x = ((struct dom *)prev)->next;
    return x ? &x->d : NULL;
}

uint32_t domain_memory_mb(const struct sim_domain *d)
{
    return ((const struct dom *)d)->memory_mb;
}

uint32_t domain_vcpus(const struct sim_domain *d)
{
    return ((const struct dom *)d)->vcpus;
}

static struct job *job_find(struct dom *x, unsigned long id, struct job ***link)
{
    for (struct job **pp = &x->jobs; *pp; pp = &(*pp)->next)
        if ((*pp)->id == id) {
            if (link)
                *link = pp;
            return *pp;
        }
    return NULL;
}

static void job_finish(struct dom *x, unsigned long id, enum job_event ev,
                       int value, const char *msg)
{
    struct job **link;
    struct job *j = job_find(x, id, &link);
    if (!j)
        return;
    job_cb cb = j->cb;
    void *ctx = j->ctx;
    if (ev != JOB_STARTED) {
        *link = j->next;
        free(j);
    }
    if (cb)
        cb(ctx, ev, value, msg);
}

static void on_monitor_msg(void *ctx, uint32_t events)
{
    struct dom *x = ctx;
    static struct strmsg m;
    int nfds = 0;
    int r = strmsg_recv(x->d.monitor_fd, &m, NULL, &nfds);
    if (r <= 0) {
        if (r == -EAGAIN || r == -EPROTO)
            return;
        /* Monitor gone: its SIGCHLD finishes the destroy. Stop listening. */
        loop_del(g_loop, x->d.monitor_fd);
        return;
    }
    char *argv[8];
    int argc = strmsg_split(&m, argv, 8);
    if (argc < 3)
        return;
    unsigned long id = strtoul(argv[1], NULL, 10);
    int value = atoi(argv[2]);
    if (!strcmp(argv[0], "started"))
        job_finish(x, id, JOB_STARTED, value, NULL);
    else if (!strcmp(argv[0], "failed"))
        job_finish(x, id, JOB_FAILED, value, argc > 3 ? argv[3] : "failed");
    else if (!strcmp(argv[0], "exited"))
        job_finish(x, id, JOB_EXITED, value, NULL);
}

int domain_table_init(struct loop *loop, struct xs_server *xs,
                      const char *host_dir)
{
    if (!realpath(host_dir, g_host_dir))
        return -errno;
    g_loop = loop;
    g_xs = xs;
    struct dom *x = calloc(1, sizeof(*x));
    if (!x)
        return -ENOMEM;
    x->d.domid = 0;
    snprintf(x->d.name, sizeof(x->d.name), "Domain-0");
    x->d.monitor_fd = -1;
    x->d.created_ns = mono_ns();
    x->d.generation = g_generation++;
    x->d.max_grant_frames = XEN_DEFAULT_GRANT_FRAMES;
    x->d.max_event_channels = XEN_DOM0_EVENT_CHANNELS;
    x->vcpus = 2;
    insert_sorted(x);
    /* Dom0 has no descriptor budget (fd_budget.h), but is counted. */
    int r = fd_budget_domain_set(0, x->d.name, 0);
    if (!r)
        r = evtchn_domain_created(&x->d);
    if (!r)
        r = grant_domain_created(&x->d);
    if (!r && xs)
        r = xs_domain_introduce(xs, 0, x->d.name, x->d.uuid);
    return r;
}

static uint32_t alloc_domid(void)
{
    /* Like Xen's toolstack: ids increase and are not reused until wrap. */
    for (uint32_t tries = 0; tries < SIM_MAX_DOMID; tries++) {
        uint32_t id = g_next_domid++;
        if (g_next_domid > SIM_MAX_DOMID)
            g_next_domid = 1;
        if (!domain_by_id(id))
            return id;
    }
    return 0;
}

/* Child side of domain creation: we are pid 1 of the new namespace. */
/* A domain's processes see and reach only their own domain.  The host's
 * /proc would show them every process, the daemon's among them, whose
 * descriptors (every port's pipe, every grant's memfd) a root process can
 * open there: so a /proc of the domain's own PID namespace, in a mount
 * namespace of its own, where the machine is read-only (dom_isolate.h).
 * And no capability, in the bounding set too, so that no program of the
 * domain can mount the host's /proc again, unmount ours or make a mount
 * writable: a guest's programs need none here.  0, or -errno naming the
 * step in *what; *pids as dom_isolate_mounts() says. */
static int isolate(const char **what, int *pids)
{
    struct __user_cap_header_struct hdr = {
        .version = _LINUX_CAPABILITY_VERSION_3,
    };
    struct __user_cap_data_struct none[2] = { { 0 } };

    int r = dom_isolate_mounts(g_host_dir, dom_cgroup_pid_max(), what, pids);
    if (r)
        return r;
    *what = "refuse the keyring calls (seccomp)";
    if ((r = dom_seccomp_install()))
        return r;
    *what = "drop the capabilities";
    for (int c = 0; c <= CAP_LAST_CAP; c++)
        if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
            return -errno;
    if (syscall(SYS_capset, &hdr, none) < 0)
        return -errno;
    return 0;
}

/* Said once per domain, in the daemon's log, when its processes or its
 * memory are not bounded: a fork bomb there can take the host's pids, a
 * leak the host's memory, and so every other domain's. pid_max is what
 * dom_isolate_mounts() said; either it or the cgroup bounds processes. */
static void say_unbounded(const struct dom *x, int pid_max)
{
    const struct dom_cgroup *cg = &x->cg;
    bool procs = pid_max && cg->err[CG_PIDS], mem = cg->err[CG_MEMORY] != 0;
    if (!procs && !mem)
        return;
    char pm[160];
    struct utsname u;
    if (pid_max == -ECANCELED)
        snprintf(pm, sizeof(pm), "pid_max: not used (%s)", dom_cgroup_pid_knob());
    else if (pid_max == -EOPNOTSUPP)
        snprintf(pm, sizeof(pm), "pid_max: this kernel (%s) has none per PID namespace "
                 "(Linux 6.14)", uname(&u) == 0 ? u.release : "unknown");
    else
        snprintf(pm, sizeof(pm), "pid_max: cannot set its PID namespace's to %d: %s",
                 DOM_PID_MAX, strerror(-pid_max));
    fprintf(stderr, "xensim: domain %u (%s): %s not bounded: %s%s%s%s%s\n", x->d.domid,
            x->d.name, procs && mem ? "its processes and its memory are"
                       : procs      ? "its processes are"
                                    : "its memory is",
            procs ? cg->why[CG_PIDS] : "", procs ? "; " : "", procs ? pm : "",
            procs && mem ? "; " : "", mem ? cg->why[CG_MEMORY] : "");
}

static __attribute__((noreturn)) void become_monitor(int sock, struct dom *x)
{
    /* Into its cgroups first, while /sys is still writable here, and
     * before it starts anything: what it forks is bounded with it. */
    dom_cgroup_join(&x->cg);
    /* Never the OOM killer's pick, as a guest's kernel never kills its
     * init (oom_unkillable_task()): past its memory a domain loses a
     * process, not itself.  Lowering takes CAP_SYS_RESOURCE, which a
     * container may not give: then the jobs are made its first picks
     * instead (child_exec()). */
    int ofd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (ofd >= 0) {
        (void)!write(ofd, "-1000", 5);
        close(ofd);
    }
    /* Not dumpable: the domain's processes (same uid) may not ptrace it or
     * take its descriptors (pidfd_getfd), its socket to the daemon above
     * all, whose word on its jobs the daemon takes.  Exec makes the
     * programs it starts dumpable again. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    const char *what;
    int pids;
    int r = isolate(&what, &pids);
    if (r < 0) {
        /* Stderr is still the daemon's log.  A domain that cannot be
         * isolated is not made: it would be one in name only. */
        fprintf(stderr, "xensim: cannot isolate a new domain: %s: %s\n",
                what, strerror(-r));
        _exit(1);
    }
    say_unbounded(x, pids);
    /* Keep only the monitor socket: listening sockets, other domains'
     * monitors and clients' connections must not leak into a domain. */
    if (sock != 3) {
        if (dup2(sock, 3) < 0)
            _exit(1);
        sock = 3;
    }
    /* dup2() cleared close-on-exec: the monitor's programs must not
     * inherit its socket (a guest program has no such descriptor on Xen,
     * and one it passed on would outlive the monitor's hold). */
    if (fcntl(sock, F_SETFD, FD_CLOEXEC) < 0)
        _exit(1);
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
        dup2(devnull, 0);
        dup2(devnull, 1);
        if (devnull > 3)
            close(devnull);
    }
    syscall(SYS_close_range, 4, ~0U, 0);
    monitor_main(sock);
}

int domain_create(const struct domain_params *p, struct sim_domain **out)
{
    if (!p->name[0])
        return -EINVAL;
    if (domain_by_name(p->name))
        return -EEXIST;
    uint32_t domid = alloc_domid();
    if (!domid)
        return -ENOSPC;
    struct dom *x = calloc(1, sizeof(*x));
    if (!x)
        return -ENOMEM;
    x->d.domid = domid;
    snprintf(x->d.name, sizeof(x->d.name), "%s", p->name);
    if (p->has_uuid)
        memcpy(x->d.uuid, p->uuid, 16);
    else {
        int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        if (fd < 0 || read(fd, x->d.uuid, 16) != 16) {
            if (fd >= 0)
                close(fd);
            free(x);
            return -EIO;
        }
        close(fd);
        x->d.uuid[6] = (uint8_t)((x->d.uuid[6] & 0x0f) | 0x40); /* v4 */
        x->d.uuid[8] = (uint8_t)((x->d.uuid[8] & 0x3f) | 0x80);
    }
    x->d.max_grant_frames = p->max_grant_frames ? p->max_grant_frames : XEN_DEFAULT_GRANT_FRAMES;
    x->d.max_event_channels = p->max_event_channels ? p->max_event_channels : XEN_DEFAULT_EVENT_CHANNELS;
    x->memory_mb = p->memory_mb ? p->memory_mb : 128;
    x->vcpus = p->vcpus ? p->vcpus : 1;
    x->d.created_ns = mono_ns();
    x->d.generation = g_generation++;

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        int e = errno;
        free(x);
        return -e;
    }
    /* Made before the monitor exists, which joins them (become_monitor). */
    dom_cgroup_make(&x->cg, domid, x->memory_mb);
    /* The daemon never waits for a monitor (monitor_send); the monitor's
     * end blocks, so that none of its replies is lost. */
    if (fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0) {
        int e = errno;
        close(sv[0]);
        close(sv[1]);
        dom_cgroup_remove(g_loop, &x->cg);
        free(x);
        return -e;
    }
    /* A raw clone with CLONE_NEWPID behaves like fork(), with the child as
     * init of a fresh PID namespace: that namespace is the domain (and
     * its mount namespace holds its own /proc: isolate()). */
    pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWPID | CLONE_NEWNS |
                                              CLONE_NEWIPC | CLONE_NEWUTS |
                                              CLONE_NEWNET | SIGCHLD,
                               NULL, NULL, NULL, 0);
    if (pid < 0) {
        int e = errno;
        close(sv[0]);
        close(sv[1]);
        dom_cgroup_remove(g_loop, &x->cg);
        free(x);
        return -e;
    }
    if (pid == 0) {
        close(sv[0]);
        become_monitor(sv[1], x);
    }
    close(sv[1]);
    x->d.monitor = pid;
    x->d.monitor_fd = sv[0];
    x->d.pidns = ident_pidns_of(pid);
    int r = x->d.pidns ? 0 : -ESRCH;
    if (!r)
        r = loop_add(g_loop, sv[0], EPOLLIN, on_monitor_msg, x);
    if (r) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        close(sv[0]);
        dom_cgroup_remove(g_loop, &x->cg);
        free(x);
        return r;
    }
    insert_sorted(x);
    r = fd_budget_domain_set(domid, x->d.name,
                             p->max_fds ? p->max_fds : fd_budget_default());
    if (!r)
        r = evtchn_domain_created(&x->d);
    if (!r)
        r = grant_domain_created(&x->d);
    /* Introduce to the store last, as libxl does before unpausing: by the
     * time @introduceDomain fires, the domain can be used. */
    if (!r && g_xs)
        r = xs_domain_introduce(g_xs, domid, x->d.name, x->d.uuid);
    if (r) {
        domain_destroy(&x->d, NULL, NULL);
        return r;
    }
    if (out)
        *out = &x->d;
    return 0;
}

/* Send m to d's monitor, waiting for it only a moment (xsp_send): one
 * that has not read what it was sent (stopped, or swamped) fails the
 * request with -EAGAIN, and never holds up the daemon, whose every other
 * domain waits on it too. */
static int monitor_send(struct sim_domain *d, const struct strmsg *m,
                        const int *fds, int nfds)
{
    int r = strmsg_send(d->monitor_fd, m, fds, nfds);
    if (r == -EAGAIN)
        fprintf(stderr, "xensim: domain %u (%s): its monitor does not keep up; "
                        "a request to it failed\n", d->domid, d->name);
    return r;
}

int domain_spawn(struct sim_domain *d, const char *cwd, char *const *argv,
                 char *const *envp, const int stdfds[3], job_cb cb, void *ctx,
                 unsigned long *id_out)
{
    struct dom *x = (struct dom *)d;
    if (d->domid == 0 || d->monitor_fd < 0)
        return -EINVAL;
    if (d->dying)
        return -ESRCH;
    if (!argv || !argv[0])
        return -EINVAL;
    static struct strmsg m;
    strmsg_init(&m);
    unsigned long id = g_next_job++;
    int nargs = 0;
    while (argv[nargs])
        nargs++;
    int r = strmsg_add(&m, "spawn");
    if (!r) r = strmsg_addf(&m, "%lu", id);
    if (!r) r = strmsg_add(&m, cwd ? cwd : "/");
    if (!r) r = strmsg_addf(&m, "%d", nargs);
    for (int i = 0; !r && argv[i]; i++)
        r = strmsg_add(&m, argv[i]);
    for (int i = 0; !r && envp && envp[i]; i++)
        r = strmsg_add(&m, envp[i]);
    if (r)
        return r; /* -E2BIG: command line and environment too long */
    struct job *j = calloc(1, sizeof(*j));
    if (!j)
        return -ENOMEM;
    *j = (struct job){ .id = id, .cb = cb, .ctx = ctx, .next = x->jobs };
    r = monitor_send(d, &m, stdfds, 3);
    if (r) {
        free(j);
        return r;
    }
    x->jobs = j;
    if (id_out)
        *id_out = id;
    return 0;
}

int domain_job_signal(struct sim_domain *d, unsigned long id, int sig)
{
    if (d->monitor_fd < 0)
        return -ESRCH;
    struct strmsg m;
    strmsg_init(&m);
    strmsg_add(&m, "kill");
    strmsg_addf(&m, "%lu", id);
    strmsg_addf(&m, "%d", sig);
    return monitor_send(d, &m, NULL, 0);
}

void domain_job_abandon(struct sim_domain *d, unsigned long id, int sig)
{
    struct job *j = job_find((struct dom *)d, id, NULL);
    if (j)
        j->cb = NULL;
    if (sig)
        domain_job_signal(d, id, sig);
}

static void finish_destroy(struct dom *x)
{
    struct dom **pp = &g_doms;
    while (*pp && *pp != x)
        pp = &(*pp)->next;
    if (*pp)
        *pp = x->next;
    if (x->d.monitor_fd >= 0) {
        loop_del(g_loop, x->d.monitor_fd);
        close(x->d.monitor_fd);
        x->d.monitor_fd = -1;
    }
    while (x->jobs) {
        struct job *j = x->jobs;
        x->jobs = j->next;
        if (j->cb)
            j->cb(j->ctx, JOB_EXITED, 128 + SIGKILL, NULL);
        free(j);
    }
    /* Grants first: their unmap-notifies send events through ports. */
    grant_domain_destroyed(&x->d);
    evtchn_domain_destroyed(&x->d);
    if (g_xs)
        xs_domain_release(g_xs, x->d.domid);
    /* Its processes are gone (finish_destroy runs once its monitor is
     * reaped): so can its cgroups, before a destroy or down returns. */
    dom_cgroup_remove(g_loop, &x->cg);
    /* Everything charged was given back above; say so if not. */
    uint32_t left = fd_budget_domain_gone(x->d.domid);
    if (left)
        fprintf(stderr, "xensim: domain %u (%s): %u descriptors still charged at destroy\n",
                x->d.domid, x->d.name, left);
    while (x->waiters) {
        struct waiter *w = x->waiters;
        x->waiters = w->next;
        if (w->done)
            w->done(w->ctx);
        free(w);
    }
    free(x);
}

int domain_destroy(struct sim_domain *d, void (*done)(void *ctx), void *ctx)
{
    struct dom *x = (struct dom *)d;
    if (d->domid == 0)
        return -EPERM;
    if (done) {
        struct waiter *w = calloc(1, sizeof(*w));
        if (!w)
            return -ENOMEM;
        *w = (struct waiter){ .done = done, .ctx = ctx, .next = x->waiters };
        x->waiters = w;
    }
    if (!d->dying) {
        d->dying = true;
        /* Killing init of the namespace makes the kernel kill every process
         * in the domain; waitpid on it returns once they are all gone. */
        if (d->monitor > 0)
            kill(d->monitor, SIGKILL);
        else
            finish_destroy(x);
    }
    return 0;
}

void domain_reap(void)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (struct dom *x = g_doms; x; x = x->next) {
            if (x->d.monitor != pid)
                continue;
            if (!x->d.dying) {
                fprintf(stderr, "xensim: domain %u (%s): monitor died unexpectedly; destroying\n",
                        x->d.domid, x->d.name);
                x->d.dying = true;
            }
            x->d.monitor = 0;
            finish_destroy(x);
            break;
        }
    }
}

void domain_table_shutdown(void)
{
    for (struct dom *x = g_doms; x; x = x->next)
        if (x->d.monitor > 0)
            kill(x->d.monitor, SIGKILL);
    /* Killed inits take their namespaces with them at once, but for a
     * process stuck in the kernel: wait a moment, never for ever. */
    uint64_t end = mono_ns() + 2000000000ull;
    for (struct dom *x = g_doms; x; x = x->next) {
        if (x->d.monitor <= 0)
            continue;
        pid_t r;
        while ((r = waitpid(x->d.monitor, NULL, WNOHANG)) == 0 && mono_ns() < end)
            usleep(10000);
        if (r != 0)
            dom_cgroup_remove(NULL, &x->cg);
        else
            fprintf(stderr, "xensim: domain %u (%s): still not gone 2 s after its end; "
                            "its cgroups are left\n", x->d.domid, x->d.name);
    }
}

int domain_count_processes(const struct sim_domain *d)
{
    if (d->domid == 0)
        return -EINVAL;
    DIR *dir = opendir("/proc");
    if (!dir)
        return -errno;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 0 || pid == d->monitor)
            continue;
        if (ident_pidns_of((pid_t)pid) == d->pidns)
            n++;
    }
    closedir(dir);
    return n;
}
