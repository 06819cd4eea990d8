/* xensim CLI: state folder, library path, domain environment, and the
 * control-socket client. */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

extern char **environ;

const char *cli_state_dir(void)
{
    static char dir[PATH_MAX];
    if (dir[0])
        return dir;
    const char *e = getenv("XENSIM_DIR");
    if (e && *e) {
        /* Domains get it as an absolute path: they may chdir anywhere. */
        if (e[0] != '/') {
            char *abs = realpath(e, NULL);
            snprintf(dir, sizeof(dir), "%s", abs ? abs : e);
            free(abs);
        } else
            snprintf(dir, sizeof(dir), "%s", e);
    } else if (geteuid() == 0)
        snprintf(dir, sizeof(dir), "/run/xensim");
    else
        snprintf(dir, sizeof(dir), "/tmp/xensim-%u", (unsigned)geteuid());
    return dir;
}

static bool has_dropins(const char *dir)
{
    char p[PATH_MAX + 32];
    snprintf(p, sizeof(p), "%s/libxenevtchn.so.1", dir);
    return access(p, R_OK) == 0;
}

const char *cli_lib_dir(void)
{
    static char dir[PATH_MAX];
    if (dir[0])
        return dir;
    const char *e = getenv("XENSIM_LIBDIR");
    if (e && *e) {
        snprintf(dir, sizeof(dir), "%s", e);
        return dir;
    }
    /* In the build tree the libraries sit in lib/ next to this program. */
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            int k = snprintf(dir, sizeof(dir), "%.*s/lib", (int)(sizeof(dir) - 8), exe);
            if (k > 0 && has_dropins(dir))
                return dir;
        }
    }
    snprintf(dir, sizeof(dir), "%s", XENSIM_LIBDIR);
    return dir;
}

char **cli_domain_env(void)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 4, sizeof(char *));
    if (!env)
        return NULL;
    const char *dir = cli_state_dir(), *lib = cli_lib_dir();
    const char *old_ld = getenv("LD_LIBRARY_PATH");
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "LD_LIBRARY_PATH=", 16) &&
            strncmp(environ[i], "XENSTORED_PATH=", 15) &&
            strncmp(environ[i], "XENSIM_DIR=", 11))
            env[k++] = environ[i];
    if (asprintf(&env[k++], "LD_LIBRARY_PATH=%s%s%s", lib, old_ld && *old_ld ? ":" : "",
                 old_ld && *old_ld ? old_ld : "") < 0 ||
        asprintf(&env[k++], "XENSTORED_PATH=%s/xenstored.sock", dir) < 0 ||
        asprintf(&env[k++], "XENSIM_DIR=%s", dir) < 0)
        return NULL;
    env[k] = NULL;
    return env;
}

void cli_domain_env_free(char **env)
{
    if (!env)
        return;
    /* Only the last three entries are ours; the rest is environ's. */
    size_t n = 0;
    while (env[n])
        n++;
    for (size_t i = n >= 3 ? n - 3 : 0; i < n; i++)
        free(env[i]);
    free(env);
}

int cli_timeout_ms(void)
{
    static int ms = -1;
    if (ms >= 0)
        return ms;
    ms = 30000;
    const char *e = getenv("XENSIM_TIMEOUT");
    if (e && *e) {
        char *end;
        errno = 0;
        double s = strtod(e, &end);
        if (errno || *end || !(s >= 0 && s <= 86400))
            fprintf(stderr, "xensim: ignoring XENSIM_TIMEOUT=%s (not 0 to 86400 seconds); "
                    "waiting up to %d s\n", e, ms / 1000);
        else
            ms = s > 0 && s < 0.001 ? 1 : (int)(s * 1000);
    }
    return ms;
}

void cli_set_timeout(int fd, int ms)
{
    struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

void cli_report_timeout(int ms)
{
    fprintf(stderr, "xensim: the daemon of the host in %s did not answer within %g s "
            "(stopped or wedged? see %s/xensimd.log)\n",
            cli_state_dir(), ms / 1000.0, cli_state_dir());
}

int cli_connect(bool quiet)
{
    return cli_connect_within(quiet, cli_timeout_ms());
}

int cli_connect_within(bool quiet, int ms)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/ctl.sock", cli_state_dir());
    if (n < 0 || (size_t)n >= sizeof(sa.sun_path)) {
        fprintf(stderr, "xensim: state folder path too long: %s\n", cli_state_dir());
        return -ENAMETOOLONG;
    }
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    /* Also bounds connect, which waits while the daemon's backlog is full. */
    cli_set_timeout(fd, ms);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        close(fd);
        if (quiet)
            return -e;
        if (e == EAGAIN || e == EINPROGRESS) {
            cli_report_timeout(ms);
            return -ETIMEDOUT;
        }
        fprintf(stderr, "xensim: the simulated host in %s is not up (%s): run 'xensim up'\n",
                cli_state_dir(), strerror(e));
        return -e;
    }
    return fd;
}

int cli_request(int fd, struct strmsg *req, const int *fds, int nfds,
                struct strmsg *rep, char **argv, int max)
{
    int r = strmsg_send(fd, req, fds, nfds);
    if (r == -EAGAIN) {
        cli_report_timeout(cli_timeout_ms());
        return -ETIMEDOUT;
    }
    if (r) {
        fprintf(stderr, "xensim: cannot talk to the daemon: %s\n", strerror(-r));
        return r;
    }
    int nf = 0;
    r = strmsg_recv(fd, rep, NULL, &nf);
    if (r == -EAGAIN) {
        cli_report_timeout(cli_timeout_ms());
        return -ETIMEDOUT;
    }
    if (r <= 0) {
        fprintf(stderr, "xensim: the daemon closed the connection%s%s\n",
                r < 0 ? ": " : "", r < 0 ? strerror(-r) : "");
        return r < 0 ? r : -ECONNRESET;
    }
    r = strmsg_split(rep, argv, max);
    if (r <= 0) {
        fprintf(stderr, "xensim: malformed reply from the daemon\n");
        return -EPROTO;
    }
    return r;
}

int cli_report_err(char **argv, int argc)
{
    int e = argc > 1 ? atoi(argv[1]) : EPROTO;
    fprintf(stderr, "xensim: %s\n", argc > 2 ? argv[2] : strerror(e));
    return e > 0 ? -e : -EPROTO;
}
