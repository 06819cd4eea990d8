/* xensim daemon: the control socket (see ctl.h). */
#include "ctl.h"
#include "console.h"
#include "ctl_parse.h"
#include "domain_ops.h"
#include "fd_accept.h"
#include "fd_budget.h"
#include "ident.h"
#include "loop.h"
#include "strmsg.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

struct ctl_conn {
    int fd;
    /* A running exec: at most one per connection (the CLI waits for it). */
    struct sim_domain *exec_dom;
    uint32_t exec_domid;
    unsigned long exec_id;
    bool exec_running;
    bool closing;
    bool refused; /* not dom0: every request gets EPERM */
    int domid;    /* charged for fd (fd_budget.h); -1: unknown process */
    int pending_destroys;
    struct pending_create *create; /* a create waiting for its first process */
};

/* A create with a first process answers once the domain's monitor says the
 * process started (ok) or could not (err, after the domain is gone): as xl
 * create, a domain whose kernel cannot load is not left behind. Meanwhile
 * the loop serves everyone else. Its own allocation, so that the client may
 * leave first. */
struct pending_create {
    struct ctl_conn *c; /* NULL once the client left */
    struct sim_domain *d;
    uint32_t domid;
    unsigned long job;
    char name[SIM_NAME_MAX];
    bool undoing; /* failed: waiting for the domain to be gone */
    int err;
    char msg[1024];
};

static struct loop *g_loop;
static int g_listen_fd = -1;
static struct fd_listener g_listener;
static bool g_going_down;

/* 0, or -errno when the client is gone (it is cleaned up on its EOF). */
static int reply(struct ctl_conn *c, const char *first, ...)
{
    struct strmsg m;
    strmsg_init(&m);
    va_list ap;
    va_start(ap, first);
    for (const char *s = first; s; s = va_arg(ap, const char *))
        strmsg_add(&m, s);
    va_end(ap);
    return strmsg_send(c->fd, &m, NULL, 0);
}

static void reply_err(struct ctl_conn *c, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void reply_err(struct ctl_conn *c, int err, const char *fmt, ...)
{
    char msg[1024], num[16];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(num, sizeof(num), "%d", err < 0 ? -err : err);
    reply(c, "err", num, msg, NULL);
}

static void create_client_left(struct pending_create *pc);

static void conn_free(struct ctl_conn *c)
{
    if (c->exec_running) {
        /* The CLI left while its command runs: stop the command, as a shell
         * would for a job whose terminal went away. */
        struct sim_domain *d = domain_by_id(c->exec_domid);
        if (d == c->exec_dom && d)
            domain_job_abandon(d, c->exec_id, SIGKILL);
    }
    if (c->create)
        create_client_left(c->create);
    loop_del(g_loop, c->fd);
    close(c->fd);
    if (c->domid >= 0)
        fd_uncharge((uint32_t)c->domid, 1);
    if (c->pending_destroys)
        c->closing = true; /* freed when the last destroy completes */
    else
        free(c);
}

static struct sim_domain *find_domain(const char *what)
{
    char *end;
    unsigned long id = strtoul(what, &end, 10);
    if (*what && !*end)
        return domain_by_id((uint32_t)id);
    return domain_by_name(what);
}

static int reply_ok_domid(struct ctl_conn *c, uint32_t domid)
{
    char id[16];
    snprintf(id, sizeof(id), "%u", domid);
    return reply(c, "ok", id, NULL);
}

/* The domain is gone: now the client may hear that create failed. */
static void create_undone(void *ctx)
{
    struct pending_create *pc = ctx;
    if (pc->c) {
        pc->c->create = NULL;
        reply_err(pc->c, pc->err, "%s", pc->msg);
    }
    free(pc);
}

static void create_fail(struct pending_create *pc, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void create_fail(struct pending_create *pc, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pc->msg, sizeof(pc->msg), fmt, ap);
    va_end(ap);
    pc->err = err;
    pc->undoing = true;
    /* Not in the table any more: its destroy is finishing right now. */
    struct sim_domain *d = domain_by_id(pc->domid);
    if (d != pc->d || !d || console_destroy(d, create_undone, pc))
        create_undone(pc);
}

static void on_create_event(void *ctx, enum job_event ev, int value, const char *msg)
{
    struct pending_create *pc = ctx;
    switch (ev) {
    case JOB_STARTED:
        /* Running: the domain is made. Its process's later exit is no
         * concern of the create (nor of a client long gone). */
        domain_job_abandon(pc->d, pc->job, 0);
        if (pc->c) {
            pc->c->create = NULL;
            /* Undeliverable: the client left (its EOF not read yet), so
             * nobody will know the domain: it goes. */
            int r = reply_ok_domid(pc->c, pc->domid);
            if (r == -EPIPE || r == -ECONNRESET || r == -ENOTCONN)
                pc->c = NULL;
        }
        if (!pc->c)
            console_destroy(pc->d, NULL, NULL);
        free(pc);
        break;
    case JOB_FAILED:
        create_fail(pc, value, "domain '%s' not created: cannot start its first process: %s",
                    pc->name, msg ? msg : strerror(value));
        break;
    case JOB_EXITED:
        /* Only from a destroy (someone else's, or down) before it started. */
        create_fail(pc, g_going_down ? ESHUTDOWN : ESRCH,
                    "domain '%s' (%u) was destroyed before its first process started%s",
                    pc->name, pc->domid,
                    g_going_down ? ": the host is going down" : " (see xensimd.log)");
        break;
    }
}

/* Hand the first process to the monitor; the answer waits for its word. */
static void create_start(struct ctl_conn *c, struct sim_domain *d, const char *cwd,
                         char **cargv, char **envp, int confd)
{
    struct pending_create *pc = calloc(1, sizeof(*pc));
    if (!pc) {
        reply_err(c, ENOMEM, "cannot create domain '%s': %s", d->name, strerror(ENOMEM));
        console_destroy(d, NULL, NULL);
        return;
    }
    *pc = (struct pending_create){ .c = c, .d = d, .domid = d->domid };
    snprintf(pc->name, sizeof(pc->name), "%s", d->name);
    c->create = pc;
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int fds[3] = { devnull, confd, confd };
    int r = devnull < 0 ? -errno
                        : domain_spawn(d, cwd, cargv, envp, fds, on_create_event, pc, &pc->job);
    if (devnull >= 0)
        close(devnull);
    if (r)
        create_fail(pc, -r, "domain '%s' not created: cannot start its first process: %s",
                    pc->name, r == -EAGAIN ? "its monitor does not keep up"
                                           : strerror(-r));
}

/* The client left before the answer: nobody will learn the domain's id, so
 * it goes (a first process that started keeps it; the client then had its
 * answer). */
static void create_client_left(struct pending_create *pc)
{
    pc->c = NULL;
    if (pc->undoing)
        return; /* create_undone frees it */
    struct sim_domain *d = domain_by_id(pc->domid);
    if (d == pc->d && d) {
        domain_job_abandon(d, pc->job, 0);
        console_destroy(d, NULL, NULL);
    }
    free(pc);
}

static void do_create(struct ctl_conn *c, char **argv, int argc)
{
    if (c->create) {
        reply_err(c, EBUSY, "create: this connection already waits for one");
        return;
    }
    struct ctl_create cr;
    char msg[1024];
    int r = ctl_parse_create(argv, argc, &cr, msg, sizeof(msg));
    if (r) {
        reply_err(c, -r, "%s", msg);
        return;
    }
    struct domain_params *p = &cr.p;
    if (find_domain(p->name) || domain_by_name(p->name)) {
        reply_err(c, EEXIST, "a domain named '%s' already exists", p->name);
        ctl_create_free(&cr);
        return;
    }
    int confd = -1;
    if (cr.argv) {
        /* Not through a symlink: the log is the daemon's to make. */
        confd = open(cr.console ? cr.console : "/dev/null",
                     O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC |
                     (cr.console ? O_NOFOLLOW : 0), 0644);
        if (confd < 0) {
            reply_err(c, errno, "cannot open console log %s: %s", cr.console,
                      strerror(errno));
            ctl_create_free(&cr);
            return;
        }
    }
    struct sim_domain *d;
    r = domain_create(p, &d);
    if (r) {
        reply_err(c, r, "cannot create domain '%s': %s", p->name, strerror(-r));
    } else if (cr.argv && cr.console &&
               (r = console_start(g_loop, d, confd, p->console_limit, &confd))) {
        /* The log went with the failure: the domain gets no descriptor of it. */
        confd = -1;
        reply_err(c, r, "cannot create domain '%s': its console: %s", p->name, strerror(-r));
        console_destroy(d, NULL, NULL);
    } else if (cr.argv) {
        create_start(c, d, cr.cwd, cr.argv, cr.envp, confd);
    } else {
        reply_ok_domid(c, d->domid);
    }
    if (confd >= 0)
        close(confd);
    ctl_create_free(&cr);
}

static void on_exec_event(void *ctx, enum job_event ev, int value, const char *msg)
{
    struct ctl_conn *c = ctx;
    char num[16];
    snprintf(num, sizeof(num), "%d", value);
    switch (ev) {
    case JOB_STARTED:
        reply(c, "started", num, NULL);
        break;
    case JOB_FAILED:
        c->exec_running = false;
        reply_err(c, value, "%s", msg ? msg : "cannot start the command");
        break;
    case JOB_EXITED:
        c->exec_running = false;
        reply(c, "exit", num, NULL);
        break;
    }
}

/* Which of the three a domain may not hold (-1: none), and why in *why.
 * A host file, folder or disk, reopened through /proc/self/fd/N, is the
 * file itself on the host's writable mount, whatever the domain's mounts
 * say. A terminal would let the domain change its modes and, keeping a
 * copy, read what is typed at the host once its command is done. An O_PATH
 * descriptor reopens as its file does, and hides a terminal from isatty
 * (EBADF): none goes, whatever it names, nor one that cannot be checked.
 * The CLI sends pipes in their place and copies. */
static int unfit_fd(const int *fds, const char **why)
{
    for (int i = 0; i < 3; i++) {
        int fl = fcntl(fds[i], F_GETFL);
        struct stat st;
        if (fl < 0 || fstat(fds[i], &st) < 0)
            *why = "a descriptor that cannot be checked";
        else if (fl & O_PATH)
            *why = "a path-only (O_PATH) descriptor";
        else if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) || S_ISBLK(st.st_mode))
            *why = "a host file, folder or disk";
        else if (isatty(fds[i]))
            *why = "a terminal";
        else if (errno != ENOTTY) /* anything but "no terminal" might be one */
            *why = "a descriptor that cannot be told from a terminal";
        else
            continue;
        return i;
    }
    return -1;
}

static void do_exec(struct ctl_conn *c, char **argv, int argc, int *fds, int nfds)
{
    if (c->exec_running) {
        reply_err(c, EBUSY, "exec: this connection already runs a command");
        return;
    }
    if (argc < 5 || nfds != 3) {
        reply_err(c, EINVAL, "exec: malformed request");
        return;
    }
    const char *why;
    int hf = unfit_fd(fds, &why);
    if (hf >= 0) {
        reply_err(c, EINVAL, "exec: the command's %s is %s, which a domain may not hold "
                  "(send a pipe)", hf == 0 ? "stdin" : hf == 1 ? "stdout" : "stderr", why);
        return;
    }
    struct sim_domain *d = find_domain(argv[1]);
    if (!d) {
        reply_err(c, ENOENT, "no domain '%s'", argv[1]);
        return;
    }
    if (d->domid == 0) {
        reply_err(c, EINVAL, "exec into Domain-0 runs on the host: the CLI does it itself");
        return;
    }
    if (d->dying) {
        reply_err(c, ESRCH, "domain '%s' is being destroyed", d->name);
        return;
    }
    const char *cwd;
    char **cargv, **envp;
    if (ctl_split_command(argv, argc, 2, &cwd, &cargv, &envp)) {
        reply_err(c, EINVAL, "exec: malformed command");
        return;
    }
    unsigned long id;
    int r = domain_spawn(d, cwd, cargv, envp, fds, on_exec_event, c, &id);
    free(cargv);
    free(envp);
    if (r) {
        reply_err(c, r, "exec in '%s': %s", d->name,
                  r == -EAGAIN ? "its monitor does not keep up (try again)"
                               : strerror(-r));
        return;
    }
    c->exec_dom = d;
    c->exec_domid = d->domid;
    c->exec_id = id;
    c->exec_running = true;
}

static void on_destroyed(void *ctx)
{
    struct ctl_conn *c = ctx;
    c->pending_destroys--;
    if (c->closing) {
        if (!c->pending_destroys)
            free(c);
        return;
    }
    if (!c->pending_destroys)
        reply(c, "ok", NULL);
}

static void do_destroy(struct ctl_conn *c, char **argv, int argc)
{
    if (argc != 2) {
        reply_err(c, EINVAL, "destroy: which domain?");
        return;
    }
    struct sim_domain *d = find_domain(argv[1]);
    if (!d) {
        reply_err(c, ENOENT, "no domain '%s'", argv[1]);
        return;
    }
    if (d->domid == 0) {
        reply_err(c, EPERM, "Domain-0 cannot be destroyed (use xensim down)");
        return;
    }
    c->pending_destroys++;
    int r = console_destroy(d, on_destroyed, c);
    if (r) {
        c->pending_destroys--;
        reply_err(c, r, "destroy '%s': %s", argv[1], strerror(-r));
    }
}

static void do_list(struct ctl_conn *c)
{
    static struct strmsg m;
    strmsg_init(&m);
    strmsg_add(&m, "ok");
    for (struct sim_domain *d = domain_next(NULL); d; d = domain_next(d)) {
        char uuid[40];
        const uint8_t *u = d->uuid;
        snprintf(uuid, sizeof(uuid),
                 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9],
                 u[10], u[11], u[12], u[13], u[14], u[15]);
        int procs = d->domid ? domain_count_processes(d) : -1;
        /* Fields 9 and 10 (descriptors charged, budget; 0: unlimited)
         * come last, so that a reader of the first eight still works. */
        if (strmsg_addf(&m, "%u\t%s\t%s\t%u\t%u\t%d\t%d\t%llu\t%u\t%u", d->domid, d->name,
                        uuid, domain_memory_mb(d), domain_vcpus(d), procs, d->dying ? 1 : 0,
                        (unsigned long long)d->created_ns, fd_budget_used(d->domid),
                        fd_budget_max(d->domid))) {
            reply_err(c, E2BIG, "too many domains to list");
            return;
        }
    }
    (void)strmsg_send(c->fd, &m, NULL, 0);
}

static void down_done(void *ctx)
{
    struct ctl_conn *c = ctx;
    if (--c->pending_destroys)
        return;
    if (c->closing)
        free(c);
    else
        reply(c, "ok", NULL);
    loop_stop(g_loop);
}

static void do_down(struct ctl_conn *c)
{
    g_going_down = true;
    /* Start every destroy at once; the last one to finish stops the loop.
     * The extra count keeps down_done from firing before all are started. */
    c->pending_destroys++;
    struct sim_domain *next;
    for (struct sim_domain *d = domain_next(NULL); d; d = next) {
        next = domain_next(d);
        if (d->domid == 0)
            continue;
        c->pending_destroys++;
        if (console_destroy(d, down_done, c))
            c->pending_destroys--;
    }
    down_done(c);
}

static void on_conn(void *ctx, uint32_t events)
{
    struct ctl_conn *c = ctx;
    static struct strmsg m;
    int fds[STRMSG_MAX_FDS], nfds = STRMSG_MAX_FDS;
    int r = strmsg_recv(c->fd, &m, fds, &nfds);
    if (r == -EAGAIN)
        return;
    if (r == 0 || (r < 0 && r != -EPROTO)) {
        conn_free(c);
        return;
    }
    if (r < 0) {
        reply_err(c, EPROTO, "malformed request");
        return;
    }
    char *argv[STRMSG_MAX_ARGS];
    int argc = strmsg_split(&m, argv, STRMSG_MAX_ARGS);
    if (c->refused) {
        for (int i = 0; i < nfds; i++)
            close(fds[i]);
        reply_err(c, EPERM, "the xensim control socket is for Domain-0 only");
        conn_free(c);
        return;
    }
    if (argc <= 0) {
        reply_err(c, EINVAL, "empty or oversized request");
    } else if (g_going_down && strcmp(argv[0], "ping") && strcmp(argv[0], "list")) {
        reply_err(c, ESHUTDOWN, "the host is going down");
    } else if (!strcmp(argv[0], "ping")) {
        reply(c, "ok", NULL);
    } else if (!strcmp(argv[0], "create")) {
        do_create(c, argv, argc);
    } else if (!strcmp(argv[0], "exec")) {
        do_exec(c, argv, argc, fds, nfds);
    } else if (!strcmp(argv[0], "signal")) {
        if (c->exec_running && argc == 2) {
            struct sim_domain *d = domain_by_id(c->exec_domid);
            if (d == c->exec_dom && d)
                domain_job_signal(d, c->exec_id, atoi(argv[1]));
        }
        /* Acknowledged, so that the CLI tells a wedged daemon from a
         * command that ignores the signal. */
        reply(c, "signalled", argc == 2 ? argv[1] : "", NULL);
    } else if (!strcmp(argv[0], "destroy")) {
        do_destroy(c, argv, argc);
    } else if (!strcmp(argv[0], "list")) {
        do_list(c);
    } else if (!strcmp(argv[0], "down")) {
        do_down(c);
    } else {
        reply_err(c, EINVAL, "unknown request '%s'", argv[0]);
    }
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
}

static void on_accept(void *ctx, uint32_t events)
{
    int fd;
    while ((fd = fd_listener_accept(&g_listener)) == -ECONNABORTED)
        ;
    if (fd < 0)
        return; /* EAGAIN, or paused for a back-off (fd_accept.h) */
    int domid = ident_socket_domid(fd);
    if (domid >= 0 && fd_charge((uint32_t)domid, 1, "control connection")) {
        close(fd);
        return;
    }
    struct ctl_conn *c = calloc(1, sizeof(*c));
    if (!c) {
        if (domid >= 0)
            fd_uncharge((uint32_t)domid, 1);
        close(fd);
        return;
    }
    c->fd = fd;
    c->domid = domid;
    /* Only the host (dom0) runs the toolstack. The refusal is the answer to
     * the first request, so the client reads it instead of a reset. */
    c->refused = domid != 0;
    if (loop_add(g_loop, fd, EPOLLIN, on_conn, c)) {
        if (domid >= 0)
            fd_uncharge((uint32_t)domid, 1);
        close(fd);
        free(c);
    }
}

int ctl_listen(struct loop *loop, const char *path)
{
    g_loop = loop;
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    unlink(path);
    mode_t old = umask(077);
    int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    if (r < 0 || listen(fd, 64) < 0) {
        r = -errno;
        close(fd);
        return r;
    }
    g_listen_fd = fd;
    return fd_listener_add(&g_listener, loop, fd, "control", on_accept, NULL);
}
