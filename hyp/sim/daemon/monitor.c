/* xensim: the domain monitor (see monitor.h). */
#include "monitor.h"
#include "strmsg.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_JOBS 4096

struct job {
    unsigned long id;
    pid_t pid;
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
    int ep[2] = { -1, -1 };
    if (slot < 0 || pipe2(ep, O_CLOEXEC) < 0) {
        send_reply(sock, "failed", id, slot < 0 ? "11" : "24",
                   slot < 0 ? "too many processes started in this domain" : "pipe");
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
        char e[16];
        snprintf(e, sizeof(e), "%d", fork_errno);
        send_reply(sock, "failed", id, e, "fork");
        close(ep[0]);
        goto out;
    }
    int exec_errno = 0;
    ssize_t r;
    do
        r = read(ep[0], &exec_errno, sizeof(exec_errno));
    while (r < 0 && errno == EINTR);
    close(ep[0]);
    if (r == (ssize_t)sizeof(exec_errno)) {
        /* exec failed: the child is exiting 127; reap it here. */
        waitpid(pid, NULL, 0);
        char e[16], msg[512];
        snprintf(e, sizeof(e), "%d", exec_errno);
        snprintf(msg, sizeof(msg), "%s: %s", cargv[0], strerror(exec_errno));
        send_reply(sock, "failed", id, e, msg);
        goto out;
    }
    jobs[slot] = (struct job){ .id = id, .pid = pid };
    char p[16];
    snprintf(p, sizeof(p), "%d", (int)pid);
    send_reply(sock, "started", id, p, NULL);
out:
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
}

static void do_kill(char **argv, int argc)
{
    if (argc < 3)
        return;
    unsigned long id = strtoul(argv[1], NULL, 10);
    int sig = atoi(argv[2]);
    for (int i = 0; i < MAX_JOBS; i++)
        if (jobs[i].pid && jobs[i].id == id)
            if (kill(-jobs[i].pid, sig) < 0)
                kill(jobs[i].pid, sig);
}

static void reap(int sock)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (int i = 0; i < MAX_JOBS; i++) {
            if (jobs[i].pid != pid)
                continue;
            int code = WIFEXITED(status) ? WEXITSTATUS(status)
                                         : 128 + WTERMSIG(status);
            char c[16];
            snprintf(c, sizeof(c), "%d", code);
            send_reply(sock, "exited", jobs[i].id, c, NULL);
            jobs[i].pid = 0;
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
    for (;;) {
        struct pollfd p[2] = { { sock, POLLIN, 0 }, { sfd, POLLIN, 0 } };
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            _exit(1);
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
