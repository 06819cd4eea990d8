/* xensim: the domain monitor (see monitor.h). */
#include "monitor.h"
#include "dom_isolate.h"
#include "strmsg.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_JOBS 4096

/* A job's child, from fork to reaped.  Until its exec, errfd is the read
 * end of its close-on-exec pipe: EOF says it exec'd, an int the errno of a
 * failed exec.  The monitor never waits on that pipe: a guest can stop the
 * child before its exec (kill -1 reaches it), for as long as it likes. */
struct job {
    unsigned long id;
    pid_t pid;
    int errfd;   /* -1 once the exec's outcome is known */
    bool failed; /* "failed" said: no "exited" for it */
    char *prog;  /* for the exec failure's message */
};

static struct job jobs[MAX_JOBS];

static void send_reply(int sock, const char *what, unsigned long id,
                       const char *a, const char *b)
{
    struct strmsg m;
    strmsg_init(&m);
    strmsg_add(&m, what);
    strmsg_addf(&m, "%lu", id);
    if (a)
        strmsg_add(&m, a);
    if (b)
        strmsg_add(&m, b);
    /* A lost daemon is noticed on the next read; nothing to do here. */
    (void)strmsg_send(sock, &m, NULL, 0);
}

static void child_exec(char **argv, char **envp, const char *cwd,
                       const int *stdfds, int errpipe)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    for (int i = 0; i < 3; i++)
        if (dup2(stdfds[i], i) < 0)
            _exit(127);
    setsid();
    if (cwd[0] && chdir(cwd) < 0 && chdir("/") < 0)
        _exit(127);
    /* The OOM killer must pick a job, never the monitor (the domain's
     * init: become_monitor()).  A monitor out of its reach (-1000,
     * inherited): back to a guest process's 0.  One that could not get
     * there (no CAP_SYS_RESOURCE): the job goes to 1000, which needs no
     * capability, and is then always picked before it. */
    char adj[16] = "";
    int ofd = open("/proc/self/oom_score_adj", O_RDWR | O_CLOEXEC);
    if (ofd >= 0) {
        ssize_t n = read(ofd, adj, sizeof(adj) - 1);
        bool shielded = n > 0 && !strncmp(adj, "-1000", 5);
        (void)!pwrite(ofd, shielded ? "0" : "1000", shielded ? 1 : 4, 0);
        close(ofd);
    }
    execvpe(argv[0], argv, envp);
    int e = errno;
    (void)!write(errpipe, &e, sizeof(e));
    _exit(127);
}

static void do_spawn(int sock, char **argv, int argc, int *fds, int nfds)
{
    /* spawn ID CWD ARGC ARG... ENV... */
    if (argc < 5 || nfds != 3) {
        for (int i = 0; i < nfds; i++)
            close(fds[i]);
        return;
    }
    unsigned long id = strtoul(argv[1], NULL, 10);
    const char *cwd = argv[2];
    long nargs = strtol(argv[3], NULL, 10);
    if (nargs < 1 || nargs > argc - 4) {
        send_reply(sock, "failed", id, "22", "bad spawn request");
        goto out;
    }
    int nenv = argc - 4 - (int)nargs;
    /* argv and env sit back to back in argv[]: copy env out before the
     * argument list gets its terminating NULL. */
    char **envp = calloc((size_t)nenv + 1, sizeof(char *));
    if (!envp) {
        send_reply(sock, "failed", id, "12", "out of memory");
        goto out;
    }
    memcpy(envp, &argv[4 + nargs], (size_t)nenv * sizeof(char *));
    envp[nenv] = NULL;
    char **cargv = &argv[4];
    cargv[nargs] = NULL;

    int slot = -1;
    for (int i = 0; i < MAX_JOBS; i++)
        if (jobs[i].pid == 0) {
            slot = i;
            break;
        }
    if (slot < 0) {
        send_reply(sock, "failed", id, "11", "too many processes started in this domain");
        free(envp);
        goto out;
    }
    char *prog = strdup(cargv[0]);
    int ep[2] = { -1, -1 };
    /* Non-blocking read end: a reap reads it too, and must never wait. */
    if (!prog || pipe2(ep, O_CLOEXEC | O_NONBLOCK) < 0) {
        char e[16];
        snprintf(e, sizeof(e), "%d", prog ? errno : ENOMEM);
        send_reply(sock, "failed", id, e, prog ? "pipe" : "out of memory");
        free(prog);
        free(envp);
        goto out;
    }
    pid_t pid = fork();
    if (pid == 0)
        child_exec(cargv, envp, cwd, fds, ep[1]);
    int fork_errno = errno;
    free(envp);
    close(ep[1]);
    if (pid < 0) {
        char e[16], msg[160];
        snprintf(e, sizeof(e), "%d", fork_errno);
        /* EAGAIN is mostly the domain's own bound: say which. */
        int n = snprintf(msg, sizeof(msg), "cannot start a process: %s",
                         strerror(fork_errno));
        if (fork_errno == EAGAIN && n > 0 && (size_t)n < sizeof(msg))
            snprintf(msg + n, sizeof(msg) - (size_t)n,
                     " (a domain holds fewer than %d processes and threads)", DOM_PID_MAX);
        send_reply(sock, "failed", id, e, msg);
        close(ep[0]);
        free(prog);
        goto out;
    }
    /* Its exec's outcome comes through the poll loop (exec_outcome). */
    jobs[slot] = (struct job){ .id = id, .pid = pid, .errfd = ep[0], .prog = prog };
out:
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
}

/* The exec of job j ended, or so its pipe says: "started", or "failed"
 * with its errno.  False while the child has not got that far (never once
 * it is dead: it held the pipe's only write end). */
static bool exec_outcome(int sock, struct job *j, bool dead)
{
    int exec_errno = 0;
    ssize_t r;
    do
        r = read(j->errfd, &exec_errno, sizeof(exec_errno));
    while (r < 0 && errno == EINTR);
    if (r < 0 && errno == EAGAIN && !dead)
        return false;
    close(j->errfd);
    j->errfd = -1;
    if (r == (ssize_t)sizeof(exec_errno)) {
        /* The child exits 127: reap() clears the slot without a word. */
        char e[16], msg[512];
        snprintf(e, sizeof(e), "%d", exec_errno);
        snprintf(msg, sizeof(msg), "%s: %s", j->prog, strerror(exec_errno));
        send_reply(sock, "failed", j->id, e, msg);
        j->failed = true;
    } else {
        /* EOF (close-on-exec) or a short read: it exec'd, or died trying
         * (then its exit status tells). */
        char p[16];
        snprintf(p, sizeof(p), "%d", (int)j->pid);
        send_reply(sock, "started", j->id, p, NULL);
    }
    free(j->prog);
    j->prog = NULL;
    return true;
}

/* To the job's process group (its own: setsid), else to the job alone.
 * 0 or -errno. */
static int signal_job(pid_t pid, int sig)
{
    if (kill(-pid, sig) == 0 || kill(pid, sig) == 0)
        return 0;
    return -errno;
}

/* Whether process pid is stopped (state T; a traced stop is no job's). */
static bool stopped(pid_t pid)
{
    char path[32], st[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, st, sizeof(st) - 1);
    close(fd);
    if (n <= 0)
        return false;
    st[n] = '\0';
    /* The state follows the last ')': the name before it may hold one. */
    char *end = strrchr(st, ')');
    return end && end[1] == ' ' && end[2] == 'T';
}

static void do_kill(char **argv, int argc)
{
    if (argc < 3)
        return;
    unsigned long id = strtoul(argv[1], NULL, 10);
    int sig = atoi(argv[2]);
    /* A stopped job only queues a signal (and exec, answered, never falls
     * back to ending itself): continue it after, as shells do a stopped
     * job. Only when its leader is stopped: a process the job stopped on
     * purpose is not woken for a signal it may ignore. Not after a stop
     * (undone), SIGKILL (ends it anyway), 0 or a number that is no signal. */
    bool cont = sig > 0 && sig != SIGCONT && sig != SIGKILL && sig != SIGSTOP &&
                sig != SIGTSTP && sig != SIGTTIN && sig != SIGTTOU;
    for (int i = 0; i < MAX_JOBS; i++)
        if (jobs[i].pid && jobs[i].id == id) {
            bool was_stopped = cont && stopped(jobs[i].pid);
            if (signal_job(jobs[i].pid, sig) == 0 && was_stopped)
                signal_job(jobs[i].pid, SIGCONT);
        }
}

static void reap(int sock)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (int i = 0; i < MAX_JOBS; i++) {
            struct job *j = &jobs[i];
            if (j->pid != pid)
                continue;
            /* Dead before its pipe was read: its word comes first,
             * "started" (or "failed") before "exited". */
            if (j->errfd >= 0)
                exec_outcome(sock, j, true);
            if (!j->failed) {
                int code = WIFEXITED(status) ? WEXITSTATUS(status)
                                             : 128 + WTERMSIG(status);
                char c[16];
                snprintf(c, sizeof(c), "%d", code);
                send_reply(sock, "exited", j->id, c, NULL);
            }
            *j = (struct job){ 0 };
        }
        /* Anything else is an orphan that was reparented to us: just reaped. */
    }
}

void monitor_main(int sock)
{
    prctl(PR_SET_NAME, "xensim-domain", 0, 0, 0);
    /* Die with the daemon: a host without its hypervisor has no domains. */
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    signal(SIGPIPE, SIG_IGN);
    /* The daemon's socket, SIGCHLD, and the pipe of each child not yet
     * exec'd (job_of[] says whose). */
    static struct pollfd p[MAX_JOBS + 2];
    static int job_of[MAX_JOBS];
    for (;;) {
        p[0] = (struct pollfd){ sock, POLLIN, 0 };
        p[1] = (struct pollfd){ sfd, POLLIN, 0 };
        nfds_t n = 2;
        for (int i = 0; i < MAX_JOBS; i++)
            if (jobs[i].pid && jobs[i].errfd >= 0) {
                job_of[n - 2] = i;
                p[n++] = (struct pollfd){ jobs[i].errfd, POLLIN, 0 };
            }
        if (poll(p, n, -1) < 0) {
            if (errno == EINTR)
                continue;
            _exit(1);
        }
        /* Pipes first, then reaps: a child's "started" before its
         * "exited", and no pipe looked at after its slot was reused. */
        for (nfds_t k = 2; k < n; k++) {
            struct job *j = &jobs[job_of[k - 2]];
            if (p[k].revents && j->errfd == p[k].fd)
                exec_outcome(sock, j, false);
        }
        if (p[1].revents) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
                ;
            reap(sock);
        }
        if (p[0].revents) {
            static struct strmsg m;
            int fds[STRMSG_MAX_FDS], nfds = STRMSG_MAX_FDS;
            int r = strmsg_recv(sock, &m, fds, &nfds);
            if (r == 0 || (r < 0 && r != -EPROTO && r != -EAGAIN))
                _exit(0); /* the daemon is gone: the domain goes with it */
            if (r < 0)
                continue;
            char *argv[STRMSG_MAX_ARGS];
            int argc = strmsg_split(&m, argv, STRMSG_MAX_ARGS);
            if (argc <= 0) {
                for (int i = 0; i < nfds; i++)
                    close(fds[i]);
                continue;
            }
            if (!strcmp(argv[0], "spawn"))
                do_spawn(sock, argv, argc, fds, nfds);
            else {
                for (int i = 0; i < nfds; i++)
                    close(fds[i]);
                if (!strcmp(argv[0], "kill"))
                    do_kill(argv, argc);
            }
        }
    }
}
