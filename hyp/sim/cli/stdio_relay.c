/* xensim CLI: the command's stdio when it is a host file or a terminal
 * (see stdio_relay.h). */
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


const char *const stdio_name[3] = {
    "standard input", "standard output", "standard error",
};

/* Whether stdio i (st: its fstat) must reach the command as a pipe. */
static bool to_relay(int i, const struct stat *st)
{
    return S_ISREG(st->st_mode) || S_ISDIR(st->st_mode) || S_ISBLK(st->st_mode) ||
           isatty(i);
}

static volatile sig_atomic_t g_stop;
static void on_stop(int sig)
{
    (void)sig;
    g_stop = 1;
}

/* Close every descriptor from 3 up but a and b (-1: none). 0 or -errno. */
static int close_others(int a, int b)
{
    int keep[2], n = 0;
    if (a >= 3)
        keep[n++] = a;
    if (b >= 3)
        keep[n++] = b;
    if (n == 2 && keep[0] > keep[1]) {
        int t = keep[0];
        keep[0] = keep[1];
        keep[1] = t;
    }
    unsigned from = 3;
    for (int i = 0; i < n; i++) {
        if ((unsigned)keep[i] > from && close_range(from, (unsigned)keep[i] - 1, 0) < 0)
            return -errno;
        from = (unsigned)keep[i] + 1;
    }
    return close_range(from, ~0U, 0) < 0 ? -errno : 0;
}

/* A copier holds only what it copies between, and stderr for its word:
 * another copier's pipe end would keep that pipe from ever ending, and the
 * daemon's socket our command from being ended once we are gone. */
static void copier_setup(pid_t parent, int std, int end, int alive)
{
    /* Ours to the end: gone with us (a killed exec leaves none behind). */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
        _exit(1);
    signal(SIGPIPE, SIG_IGN);
    int r = close_others(end, alive);
    if (r) {
        fprintf(stderr, "xensim: cannot relay the command's %s: %s\n", stdio_name[std],
                strerror(-r));
        _exit(1);
    }
    int null = open("/dev/null", O_RDWR);
    for (int j = 0; j < 2 && null >= 0; j++)
        if (j != std)
            dup2(null, j);
    if (null >= 0)
        close(null);
}

/* Whether we may read the terminal on stdin: our process group is its
 * foreground one (or it is no controlling terminal of ours, whose reads
 * never stop us). A background job reading it would be stopped whole. */
static bool tty_ours(void)
{
    pid_t fg = tcgetpgrp(0);
    return fg < 0 || fg == getpgrp();
}

/* Whether the command has yet to read what we gave it. */
static bool pipe_holds(int to)
{
    int n = 0;
    return ioctl(to, FIONREAD, &n) == 0 && n > 0;
}

/* stdin into the pipe, in pieces of PIPE_BUF that a non-blocking pipe
 * takes whole or not at all. It reads only what poll says is there: never
 * sitting in a terminal's read when the command ends, it takes none of
 * what is typed at the host's shell after. On SIGUSR1 (the command is done)
 * a piece not taken goes back to the file's offset, so that the offset ends
 * where the pipe's data does (cmd_exec then takes back what is left
 * unread). A terminal is read only while exec is in the foreground (in the
 * background its job would be stopped as soon as the user typed at the
 * shell), and only once the command took the last line given: what it
 * never asks for stays the shell's, but for one line. */
static __attribute__((noreturn)) void copy_in(int to)
{
    static char buf[PIPE_BUF];
    sigset_t wait_mask;
    sigprocmask(SIG_SETMASK, NULL, &wait_mask);
    sigdelset(&wait_mask, SIGUSR1);
    struct sigaction sa = { .sa_handler = on_stop }; /* no SA_RESTART */
    sigaction(SIGUSR1, &sa, NULL);
    bool tty = isatty(0);
    /* Sent to the background between our look and our read, the read
     * fails (EIO) rather than stopping the job. */
    if (tty)
        signal(SIGTTIN, SIG_IGN);
    if (fcntl(to, F_SETFL, O_NONBLOCK) < 0)
        _exit(1);
    for (;;) {
        /* Not now: look again after a while (neither exec being put in
         * the foreground nor the command's read wakes a poll). */
        static const struct timespec bg_nap = { 0, 200000000 }, unread_nap = { 0, 50000000 };
        const struct timespec *nap = NULL;
        if (tty && !tty_ours())
            nap = &bg_nap;
        else if (tty && pipe_holds(to))
            nap = &unread_nap;
        /* SIGUSR1 is let in while waiting, here and for the pipe below only. */
        struct pollfd in = { 0, POLLIN, 0 };
        if (ppoll(&in, nap ? 0 : 1, nap, &wait_mask) < 0 && errno != EINTR) {
            fprintf(stderr, "xensim: cannot wait for the command's standard input: %s\n",
                    strerror(errno));
            _exit(1);
        }
        if (g_stop)
            _exit(0);
        if (nap || !in.revents)
            continue;
        ssize_t n = read(0, buf, sizeof(buf));
        if (n < 0 && (errno == EINTR || (tty && errno == EIO && !tty_ours())))
            continue;
        if (n < 0)
            fprintf(stderr, "xensim: cannot read the command's standard input: %s\n",
                    strerror(errno));
        if (n <= 0)
            _exit(n < 0);
        for (ssize_t off = 0; off < n;) {
            struct pollfd p = { to, POLLOUT, 0 };
            if (ppoll(&p, 1, NULL, &wait_mask) < 0 && errno != EINTR)
                g_stop = 1;
            ssize_t w = g_stop ? -1 : write(to, buf + off, (size_t)(n - off));
            if (w > 0) {
                off += w;
                continue;
            }
            if (!g_stop && w < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            /* Stopped, or nobody reads: the rest was not taken. */
            lseek(0, -(off_t)(n - off), SEEK_CUR);
            _exit(0);
        }
    }
}

/* The pipe into stdout's or stderr's file until every writer closed it. A
 * write that fails ends the copy: the command then sees its pipe closed,
 * as it would have seen the failure. */
static __attribute__((noreturn)) void copy_out(int from, int std)
{
    static char buf[65536];
    for (;;) {
        ssize_t n = read(from, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            _exit(n < 0);
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(std, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                fprintf(stderr, "xensim: cannot write the command's %s: %s\n",
                        stdio_name[std], w < 0 ? strerror(errno) : "nothing written");
                _exit(1);
            }
            off += w;
        }
    }
}

static void relays_kill(struct relays *rl)
{
    for (int i = 1; i < 3; i++)
        if (rl->pid[i] > 0) {
            kill(rl->pid[i], SIGKILL);
            waitpid(rl->pid[i], NULL, 0);
            rl->pid[i] = 0;
        }
}

/* Pipes in place of stdio that are host files or terminals, and their
 * copiers. 0, or -errno (said on stderr; nothing left running). */
int relays_start(struct relays *rl)
{
    *rl = (struct relays){ .give = { 0, 1, 2 }, .in_left = -1, .alive = -1,
                           .in_at = lseek(0, 0, SEEK_CUR) };
    struct stat st[3];
    bool relay[3];
    for (int i = 0; i < 3; i++)
        relay[i] = fstat(i, &st[i]) == 0 && to_relay(i, &st[i]);
    /* One file for both (2>&1): one pipe, so that their order stays. */
    bool shared = relay[1] && relay[2] && st[1].st_dev == st[2].st_dev &&
                  st[1].st_ino == st[2].st_ino;
    int pipes[3][2] = { { -1, -1 }, { -1, -1 }, { -1, -1 } }, alive[2] = { -1, -1 };
    int r = 0, failed = 0;
    for (int i = 0; i < 3 && !r; i++)
        if (relay[i] && !(i == 2 && shared) && pipe2(pipes[i], O_CLOEXEC) < 0)
            r = -errno, failed = i;
    if (!r && (relay[1] || relay[2]) && pipe2(alive, O_CLOEXEC) < 0)
        r = -errno, failed = relay[1] ? 1 : 2;
    /* SIGUSR1 stops the stdin copier: it must not come before its handler. */
    sigset_t usr1, old;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, &old);
    pid_t parent = getpid();
    for (int i = 0; i < 3 && !r; i++) {
        if (pipes[i][0] < 0)
            continue;
        /* stdin: the copier writes, the command reads; else the reverse. */
        int mine = pipes[i][i == 0], theirs = pipes[i][i != 0];
        pid_t pid = fork();
        if (pid == 0) {
            copier_setup(parent, i, mine, i ? alive[1] : -1);
            if (i == 0)
                copy_in(mine);
            copy_out(mine, i);
        }
        if (pid < 0) {
            r = -errno, failed = i;
            break;
        }
        rl->pid[i] = pid;
        close(mine);
        pipes[i][i == 0] = -1;
        rl->give[i] = theirs;
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (shared)
        rl->give[2] = rl->give[1];
    if (alive[1] >= 0)
        close(alive[1]);
    rl->alive = alive[0];
    if (rl->pid[0]) {
        rl->in_left = rl->give[0];
        rl->in_tty = isatty(0);
    }
    if (!r)
        return 0;
    fprintf(stderr, "xensim: cannot relay the command's %s: %s\n", stdio_name[failed],
            strerror(-r));
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 2; k++)
            if (pipes[i][k] >= 0)
                close(pipes[i][k]);
    if (rl->pid[0]) {
        kill(rl->pid[0], SIGKILL);
        waitpid(rl->pid[0], NULL, 0);
    }
    relays_kill(rl);
    if (rl->alive >= 0)
        close(rl->alive);
    return r;
}

/* The daemon has them now: only the copiers (and the command) hold the
 * pipes' other ends, so that they end with the command's output. */
void relays_sent(struct relays *rl)
{
    for (int i = 1; i < 3; i++)
        if (rl->give[i] != i && !(i == 2 && rl->give[2] == rl->give[1]))
            close(rl->give[i]);
}

/* Stop the stdin copier and give the file back what the command did not
 * read, as if it had read the file itself. */
static void stdin_done(struct relays *rl)
{
    if (!rl->pid[0])
        return;
    /* A terminal's copier has nothing to give back, and SIGUSR1 might not
     * reach it: stopped by SIGTTIN (exec in the background), or in a read
     * whose line another reader took first. */
    kill(rl->pid[0], rl->in_tty ? SIGKILL : SIGUSR1);
    waitpid(rl->pid[0], NULL, 0);
    rl->pid[0] = 0;
    /* The command may have written into its own stdin pipe: never back
     * past where the copy began. */
    int left = 0;
    off_t at = lseek(0, 0, SEEK_CUR);
    if (ioctl(rl->in_left, FIONREAD, &left) == 0 && left > 0 && rl->in_at >= 0 && at >= 0)
        lseek(0, at - left > rl->in_at ? at - left : rl->in_at, SEEK_SET);
    close(rl->in_left);
}

/* After the command: its output is complete once every writer closed it
 * (as through any pipe, a process it left behind may hold it open).
 * Returns 0, or a signal that came meanwhile (the copiers are stopped). */
int relays_finish(struct relays *rl, bool ran, int sfd)
{
    stdin_done(rl);
    int sig = 0;
    while (ran && rl->alive >= 0 && !sig) {
        struct pollfd p[2] = { { rl->alive, POLLIN, 0 }, { sfd, POLLIN, 0 } };
        if (poll(p, sfd >= 0 ? 2 : 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[0].revents)
            break;
        struct signalfd_siginfo si;
        if (p[1].revents && read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
            sig = (int)si.ssi_signo;
    }
    if (!ran || sig)
        relays_kill(rl);
    for (int i = 1; i < 3; i++)
        if (rl->pid[i] > 0)
            waitpid(rl->pid[i], NULL, 0);
    if (rl->alive >= 0)
        close(rl->alive);
    return sig;
}
