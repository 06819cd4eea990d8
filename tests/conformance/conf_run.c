/* conf-run: run several programs as one domain's first process, and report
 * each one's exit status as a check.
 *
 *   conf-run [-p] PROG [ARGS...] [-- PROG [ARGS...]]...
 *
 * In order, or all at once with -p. A PROG without a slash is taken from the
 * folder conf-run itself is in (the conformance bin folder). Each prints
 * CONF-PASS run-<prog> (exit 0) or CONF-FAIL run-<prog>: <status>. Arguments
 * are plain words, so the launcher survives toolstacks that pass a domain's
 * command line through a kernel command line. */
#include "conf_util.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct job {
    char **argv;
    char path[2 * PATH_MAX];
    pid_t pid;
};

static char self_dir[PATH_MAX];

static void resolve(struct job *j)
{
    if (strchr(j->argv[0], '/'))
        snprintf(j->path, sizeof(j->path), "%s", j->argv[0]);
    else
        snprintf(j->path, sizeof(j->path), "%s/%s", self_dir, j->argv[0]);
}

static pid_t start(struct job *j)
{
    pid_t pid;

    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        execv(j->path, j->argv);
        fprintf(stderr, "conf-run: exec %s: %s\n", j->path, strerror(errno));
        _exit(127);
    }
    return pid;
}

static void report(struct job *j, int status)
{
    char test[160];
    char *name = strrchr(j->argv[0], '/');

    snprintf(test, sizeof(test), "run-%s", name ? name + 1 : j->argv[0]);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        conf_pass(test);
    else if (WIFEXITED(status))
        conf_fail(test, "exit status %d", WEXITSTATUS(status));
    else
        conf_fail(test, "killed by %s", strsignal(WTERMSIG(status)));
}

int main(int argc, char **argv)
{
    struct job jobs[16];
    int njobs = 0, first = 1, status;
    bool parallel = false;
    char exe[PATH_MAX];
    ssize_t n;

    conf_init(argv[0]);
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        conf_die("readlink /proc/self/exe: %s", strerror(errno));
    exe[n] = 0;
    snprintf(self_dir, sizeof(self_dir), "%s", dirname(exe));

    if (argc > 1 && !strcmp(argv[1], "-p")) {
        parallel = true;
        first = 2;
    }
    for (int i = first; i < argc && njobs < 16;) {
        int k = i;

        while (k < argc && strcmp(argv[k], "--"))
            k++;
        if (k > i) {
            jobs[njobs].argv = &argv[i];
            argv[k < argc ? k : argc] = NULL; /* argv[argc] is already NULL */
            resolve(&jobs[njobs]);
            njobs++;
        }
        i = k + 1;
    }
    if (!njobs) {
        fprintf(stderr, "usage: %s [-p] PROG [ARGS...] [-- PROG [ARGS...]]...\n", argv[0]);
        return 2;
    }
    for (int j = 0; j < njobs; j++) {
        jobs[j].pid = start(&jobs[j]);
        if (jobs[j].pid < 0)
            conf_die("fork: %s", strerror(errno));
        if (!parallel) {
            waitpid(jobs[j].pid, &status, 0);
            report(&jobs[j], status);
        }
    }
    if (parallel) {
        for (int left = njobs; left > 0; left--) {
            pid_t pid = wait(&status);

            for (int j = 0; j < njobs; j++)
                if (jobs[j].pid == pid)
                    report(&jobs[j], status);
        }
    }
    return conf_done();
}
