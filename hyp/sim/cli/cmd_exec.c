/* xensim CLI: exec DOMAIN -- CMD... */
#include "cli.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
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

    static struct strmsg req, rep;
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
    int stdfds[3] = { 0, 1, 2 };
    int r = strmsg_send(fd, &req, stdfds, 3);
    if (r) {
        fprintf(stderr, "xensim: cannot talk to the daemon: %s\n", strerror(-r));
        return 125;
    }
    for (;;) {
        struct pollfd p[2] = { { fd, POLLIN, 0 }, { sfd, POLLIN, 0 } };
        if (poll(p, sfd >= 0 ? 2 : 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            return 125;
        }
        if (sfd >= 0 && p[1].revents) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                struct strmsg s;
                strmsg_init(&s);
                strmsg_add(&s, "signal");
                strmsg_addf(&s, "%u", si.ssi_signo);
                (void)strmsg_send(fd, &s, NULL, 0);
            }
        }
        if (!p[0].revents)
            continue;
        int nf = 0;
        r = strmsg_recv(fd, &rep, NULL, &nf);
        if (r <= 0) {
            fprintf(stderr, "xensim: lost the daemon while '%s' ran in %s\n", cmd[0], dom);
            return 125;
        }
        char *av[8];
        int n = strmsg_split(&rep, av, 8);
        if (n <= 0)
            continue;
        if (!strcmp(av[0], "started"))
            continue;
        if (!strcmp(av[0], "exit") && n == 2)
            return atoi(av[1]);
        if (!strcmp(av[0], "err")) {
            int e = -cli_report_err(av, n);
            return status_for_errno(e);
        }
    }
}
