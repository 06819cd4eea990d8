/* xensim CLI: up and down (the host itself). */
#include "cli.h"
#include "xensimd.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Quiet and quick: up asks again and again while a daemon starts. */
static int ping(int ms)
{
    int fd = cli_connect_within(true, ms);
    if (fd < 0)
        return fd;
    struct strmsg req;
    static struct strmsg rep;
    char *argv[8];
    strmsg_init(&req);
    strmsg_add(&req, "ping");
    int nf = 0;
    int r = strmsg_send(fd, &req, NULL, 0);
    if (!r)
        r = strmsg_recv(fd, &rep, NULL, &nf);
    close(fd);
    if (r > 0)
        r = strmsg_split(&rep, argv, 8);
    return r > 0 && !strcmp(argv[0], "ok") ? 0 : r < 0 ? r : -EPROTO;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int cmd_up(int argc, char **argv)
{
    if (argc != 1) {
        fprintf(stderr, "usage: xensim up\n");
        return 2;
    }
    const char *dir = cli_state_dir();
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        fprintf(stderr, "xensim: cannot make the state folder %s: %s\n", dir, strerror(errno));
        return 1;
    }
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/console", dir);
    if (mkdir(path, 0755) < 0 && errno != EEXIST) {
        fprintf(stderr, "xensim: cannot make %s: %s\n", path, strerror(errno));
        return 1;
    }
    /* One daemon per state folder, even when two `up` race: the lock is
     * held by the daemon for its whole life. */
    snprintf(path, sizeof(path), "%s/xensimd.lock", dir);
    int lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock < 0) {
        fprintf(stderr, "xensim: cannot open %s: %s\n", path, strerror(errno));
        return 1;
    }
    if (flock(lock, LOCK_EX | LOCK_NB) < 0) {
        close(lock);
        /* Someone holds it: either up already, or starting right now.
         * A start takes well under 5 s; XENSIM_TIMEOUT may shorten it. */
        int window = cli_timeout_ms();
        if (!window || window > 5000)
            window = 5000;
        long long end = now_ms() + window;
        for (;;) {
            long long left = end - now_ms();
            if (ping(left < 250 ? (left > 0 ? (int)left : 1) : 250) == 0) {
                printf("xensim: already up in %s\n", dir);
                return 0;
            }
            if (now_ms() >= end)
                break;
            usleep(50000);
        }
        fprintf(stderr, "xensim: a daemon holds %s but does not answer within %g s "
                "(stopped or wedged? see %s/xensimd.log)\n", path, window / 1000.0, dir);
        return 1;
    }
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) < 0) {
        perror("xensim: pipe");
        return 1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("xensim: fork");
        return 1;
    }
    if (pid == 0) {
        close(ready[0]);
        setsid();
        snprintf(path, sizeof(path), "%s/xensimd.log", dir);
        int log = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        if (log >= 0) {
            dup2(log, 1);
            dup2(log, 2);
        }
        /* The lock fd stays open in the daemon (CLOEXEC only matters for
         * exec, and the daemon does not exec). */
        int r = xensimd_run(dir, ready[1]);
        if (r)
            fprintf(stderr, "xensim: daemon failed: %s\n", strerror(-r));
        _exit(r ? 1 : 0);
    }
    close(ready[1]);
    close(lock);
    char c;
    ssize_t n;
    do
        n = read(ready[0], &c, 1);
    while (n < 0 && errno == EINTR);
    close(ready[0]);
    if (n != 1) {
        waitpid(pid, NULL, 0);
        fprintf(stderr, "xensim: the daemon failed to start; see %s/xensimd.log\n", dir);
        return 1;
    }
    printf("xensim: up in %s\n", dir);
    return 0;
}

int cmd_down(int argc, char **argv)
{
    if (argc != 1) {
        fprintf(stderr, "usage: xensim down\n");
        return 2;
    }
    int fd = cli_connect(true);
    if (fd == -EAGAIN) {
        cli_report_timeout(cli_timeout_ms());
        return 1;
    }
    if (fd < 0) {
        printf("xensim: not running in %s\n", cli_state_dir());
        return 0;
    }
    struct strmsg req, rep;
    char *av[8];
    strmsg_init(&req);
    strmsg_add(&req, "down");
    int r = cli_request(fd, &req, NULL, 0, &rep, av, 8);
    if (r > 0 && !strcmp(av[0], "err"))
        r = cli_report_err(av, r);
    /* Wait for the daemon to let go of its lock: down means down (unless
     * it did not answer: then it holds the lock on). */
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/xensimd.lock", cli_state_dir());
    int lock = r == -ETIMEDOUT ? -1 : open(path, O_RDWR | O_CLOEXEC);
    if (lock >= 0) {
        for (int i = 0; i < 200 && flock(lock, LOCK_EX | LOCK_NB) < 0; i++)
            usleep(25000);
        close(lock);
    }
    close(fd);
    if (r < 0)
        return 1;
    printf("xensim: down\n");
    return 0;
}
