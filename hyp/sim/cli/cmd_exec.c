/* xensim CLI: exec DOMAIN -- CMD... */
#include "cli.h"
#include "stdio_relay.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int cli_add_command(struct strmsg *m, char **cmd, int ncmd);

/* Exit status for a command that never ran, as shells and env(1) use. */
static int status_for_errno(int e)
{
    return e == ENOENT ? 127 : e == EACCES || e == ENOEXEC ? 126 : 125;
}

static bool is_dom0(const char *d)
{
    return !strcmp(d, "0") || !strcmp(d, "Domain-0");
}

static int exec_in_dom0(char **cmd)
{
    /* dom0 is the host: run here, with the host's Xen pointing at xensim. */
    int fd = cli_connect(false);
    if (fd < 0)
        return 125;
    close(fd);
    char **env = cli_domain_env();
    if (!env)
        return 125;
    execvpe(cmd[0], cmd, env);
    int e = errno;
    fprintf(stderr, "xensim: %s: %s\n", cmd[0], strerror(e));
    return status_for_errno(e);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Take sig's default action (we had it blocked, for passing on); the
 * status is for a signal whose default is to be ignored. */
static int die_of(int sig)
{
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    signal(sig, SIG_DFL);
    raise(sig);
    sigprocmask(SIG_UNBLOCK, &one, NULL);
    return 128 + sig;
}

/* Serve the running command: pass signals on, until its exit (*ran) or a
 * failure. Returns the exit status for cmd_exec. */
static int exec_wait(int fd, int sfd, const char *dom, const char *prog, bool *ran)
{
    static struct strmsg rep;
    /* The daemon answers the request (started) and every signal passed on
     * (signalled) at once; the command itself may run for ever. */
    int limit = cli_timeout_ms();
    long long deadline = now_ms() + limit;
    bool started = false;
    int unanswered = 0, last_sig = 0;
    for (;;) {
        int wait = -1;
        if (limit && (!started || unanswered)) {
            long long left = deadline - now_ms();
            wait = left > 0 ? (int)left : 0;
        }
        struct pollfd p[2] = { { fd, POLLIN, 0 }, { sfd, POLLIN, 0 } };
        int k = poll(p, sfd >= 0 ? 2 : 1, wait);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return 125;
        }
        if (k == 0) {
            cli_report_timeout(limit);
            if (unanswered)
                return die_of(last_sig);
            return 125;
        }
        if (sfd >= 0 && p[1].revents) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                int sig = (int)si.ssi_signo;
                /* Again before the daemon took the first: it cannot pass
                 * signals on, so do what the signal asks of us. */
                if (unanswered)
                    return die_of(sig);
                struct strmsg s;
                strmsg_init(&s);
                strmsg_add(&s, "signal");
                strmsg_addf(&s, "%d", sig);
                (void)strmsg_send(fd, &s, NULL, 0);
                unanswered++;
                last_sig = sig;
                long long by = now_ms() + limit;
                if (started || by < deadline)
                    deadline = by;
            }
        }
        if (!p[0].revents)
            continue;
        int nf = 0;
        int r = strmsg_recv(fd, &rep, NULL, &nf);
        if (r <= 0) {
            fprintf(stderr, "xensim: lost the daemon while '%s' ran in %s\n", prog, dom);
            return 125;
        }
        char *av[8];
        int n = strmsg_split(&rep, av, 8);
        if (n <= 0)
            continue;
        if (!strcmp(av[0], "started")) {
            started = true;
            continue;
        }
        if (!strcmp(av[0], "signalled")) {
            if (unanswered)
                unanswered--;
            continue;
        }
        if (!strcmp(av[0], "exit") && n == 2) {
            *ran = true;
            return atoi(av[1]);
        }
        if (!strcmp(av[0], "err")) {
            int e = -cli_report_err(av, n);
            return status_for_errno(e);
        }
    }
}

int cmd_exec(int argc, char **argv)
{
    if (argc < 4 || strcmp(argv[2], "--")) {
        fprintf(stderr, "usage: xensim exec DOMAIN -- CMD...\n");
        return 2;
    }
    const char *dom = argv[1];
    char **cmd = &argv[3];
    int ncmd = argc - 3;
    if (is_dom0(dom))
        return exec_in_dom0(cmd);

    /* A closed stdio is /dev/null to the command, and no descriptor of
     * ours lands in its place. */
    for (int i = 0; i < 3; i++)
        if (fcntl(i, F_GETFD) < 0 && open("/dev/null", O_RDWR) != i) {
            fprintf(stderr, "xensim: cannot open /dev/null for the closed %s: %s\n",
                    stdio_name[i], strerror(errno));
            return 125;
        }
    static struct strmsg req;
    strmsg_init(&req);
    strmsg_add(&req, "exec");
    strmsg_add(&req, dom);
    if (cli_add_command(&req, cmd, ncmd))
        return 125;
    int fd = cli_connect(false);
    if (fd < 0)
        return 125;
    /* Signals for the command go to it in its domain, not to us. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGQUIT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int sfd = signalfd(-1, &set, SFD_CLOEXEC);
    struct relays rl;
    if (relays_start(&rl))
        return 125;
    int r = strmsg_send(fd, &req, rl.give, 3);
    relays_sent(&rl);
    bool ran = false;
    int status = 125;
    if (r == -EAGAIN)
        cli_report_timeout(cli_timeout_ms());
    else if (r)
        fprintf(stderr, "xensim: cannot talk to the daemon: %s\n", strerror(-r));
    else
        status = exec_wait(fd, sfd, dom, cmd[0], &ran);
    int sig = relays_finish(&rl, ran, sfd);
    return sig ? die_of(sig) : status;
}
