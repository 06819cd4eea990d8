/* xensim CLI: create, destroy, list, console. */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <wordexp.h>

/* Append "CWD NARGS ARG... ENV..." for a command to run in a domain. */
int cli_add_command(struct strmsg *m, char **cmd, int ncmd);
int cli_add_command(struct strmsg *m, char **cmd, int ncmd)
{
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof(cwd)))
        strcpy(cwd, "/");
    char **env = cli_domain_env();
    if (!env)
        return -ENOMEM;
    int r = strmsg_add(m, cwd);
    if (!r) r = strmsg_addf(m, "%d", ncmd);
    for (int i = 0; !r && i < ncmd; i++)
        r = strmsg_add(m, cmd[i]);
    for (int i = 0; !r && env[i]; i++)
        r = strmsg_add(m, env[i]);
    cli_domain_env_free(env);
    if (r)
        fprintf(stderr, "xensim: command line and environment too long (over %d bytes)\n",
                STRMSG_MAX);
    return r;
}

int cmd_create(int argc, char **argv)
{
    if (argc < 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: xensim create FILE.cfg [-- CMD...]\n");
        return 2;
    }
    const char *file = argv[1];
    char **cmd = NULL;
    int ncmd = 0;
    if (argc > 2) {
        if (strcmp(argv[2], "--") || argc < 4) {
            fprintf(stderr, "usage: xensim create FILE.cfg [-- CMD...]\n");
            return 2;
        }
        cmd = &argv[3];
        ncmd = argc - 3;
    }
    struct cli_cfg cfg;
    if (cli_cfg_read(file, &cfg))
        return 1;
    wordexp_t we = { 0 };
    bool have_we = false;
    if (!cmd && cfg.kernel[0]) {
        /* kernel= is the program, cmdline=/extra= its arguments, split as a
         * shell would but never running anything (WRDE_NOCMD). */
        char line[sizeof(cfg.kernel) + sizeof(cfg.cmdline) + 8];
        snprintf(line, sizeof(line), "'%s' %s", cfg.kernel, cfg.cmdline);
        int r = wordexp(line, &we, WRDE_NOCMD | WRDE_UNDEF);
        if (r) {
            fprintf(stderr, "xensim: %s: cannot split kernel= and cmdline= into a command (%s)\n",
                    file, r == WRDE_CMDSUB ? "command substitution is not allowed"
                                           : "bad quoting or undefined variable");
            return 1;
        }
        have_we = true;
        cmd = we.we_wordv;
        ncmd = (int)we.we_wordc;
    }
    static struct strmsg req, rep;
    strmsg_init(&req);
    strmsg_add(&req, "create");
    strmsg_addf(&req, "name=%s", cfg.name);
    if (cfg.uuid[0])
        strmsg_addf(&req, "uuid=%s", cfg.uuid);
    if (cfg.memory)
        strmsg_addf(&req, "memory=%ld", cfg.memory);
    if (cfg.vcpus)
        strmsg_addf(&req, "vcpus=%ld", cfg.vcpus);
    if (cfg.max_grant_frames)
        strmsg_addf(&req, "max_grant_frames=%ld", cfg.max_grant_frames);
    if (cfg.max_event_channels)
        strmsg_addf(&req, "max_event_channels=%ld", cfg.max_event_channels);
    if (cfg.max_fds)
        strmsg_addf(&req, "max_fds=%ld", cfg.max_fds);
    if (cfg.console_limit)
        strmsg_addf(&req, "console_limit=%ld", cfg.console_limit);
    strmsg_addf(&req, "console=%s/console/%s.log", cli_state_dir(), cfg.name);
    int rc = 1;
    if (ncmd > 0) {
        strmsg_add(&req, "--");
        if (cli_add_command(&req, cmd, ncmd))
            goto out;
    }
    int fd = cli_connect(false);
    if (fd < 0)
        goto out;
    char *av[8];
    int n = cli_request(fd, &req, NULL, 0, &rep, av, 8);
    close(fd);
    if (n > 0 && !strcmp(av[0], "ok") && n == 2) {
        printf("%s\n", av[1]);
        rc = 0;
    } else if (n > 0)
        cli_report_err(av, n);
out:
    if (have_we)
        wordfree(&we);
    return rc;
}

int cmd_destroy(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: xensim destroy DOMAIN\n");
        return 2;
    }
    int fd = cli_connect(false);
    if (fd < 0)
        return 1;
    struct strmsg req, rep;
    char *av[8];
    strmsg_init(&req);
    strmsg_add(&req, "destroy");
    strmsg_add(&req, argv[1]);
    int n = cli_request(fd, &req, NULL, 0, &rep, av, 8);
    close(fd);
    if (n > 0 && !strcmp(av[0], "ok"))
        return 0;
    if (n > 0)
        cli_report_err(av, n);
    return 1;
}

/* The daemon's list fields: domid, name, uuid, memory, vcpus, processes,
 * dying, created; then, from a daemon that has them, fds used and max. */
#define ROW_BASE 8
#define ROW_FIELDS 10
struct row {
    char *f[ROW_FIELDS];
};

static int fetch_list(struct strmsg *rep, struct row *rows, int max)
{
    int fd = cli_connect(false);
    if (fd < 0)
        return fd;
    struct strmsg req;
    static char *av[STRMSG_MAX_ARGS];
    strmsg_init(&req);
    strmsg_add(&req, "list");
    int n = cli_request(fd, &req, NULL, 0, rep, av, STRMSG_MAX_ARGS);
    close(fd);
    if (n <= 0)
        return n ? n : -EPROTO;
    if (strcmp(av[0], "ok"))
        return cli_report_err(av, n);
    int k = 0;
    for (int i = 1; i < n && k < max; i++) {
        char *save = NULL, *p = av[i];
        int j = 0;
        for (char *t = strtok_r(p, "\t", &save); t && j < ROW_FIELDS;
             t = strtok_r(NULL, "\t", &save))
            rows[k].f[j++] = t;
        if (j < ROW_FIELDS) /* an older daemon: fds unknown */
            rows[k].f[ROW_BASE] = rows[k].f[ROW_BASE + 1] = NULL;
        if (j >= ROW_BASE)
            k++;
    }
    return k;
}

static const char *state_of(const struct row *r)
{
    if (atoi(r->f[6]))
        return "-----d";
    int procs = atoi(r->f[5]);
    return procs != 0 ? "r-----" : "-b----";
}

static double uptime_of(const struct row *r)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    return now - strtod(r->f[7], NULL) / 1e9;
}

/* "used/max", "used/-" without a budget (dom0), "?" if unknown. */
static const char *fds_of(const struct row *r, char *buf, size_t len)
{
    if (!r->f[ROW_BASE] || !r->f[ROW_BASE + 1])
        return "?";
    bool unlimited = !strcmp(r->f[ROW_BASE + 1], "0");
    snprintf(buf, len, "%s/%s", r->f[ROW_BASE], unlimited ? "-" : r->f[ROW_BASE + 1]);
    return buf;
}

static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            printf("\\u%04x", *s);
        else
            putchar(*s);
    }
    putchar('"');
}

int cmd_list(int argc, char **argv)
{
    bool json = argc == 2 && !strcmp(argv[1], "--json");
    if (argc > 2 || (argc == 2 && !json)) {
        fprintf(stderr, "usage: xensim list [--json]\n");
        return 2;
    }
    static struct strmsg rep;
    static struct row rows[1024];
    int n = fetch_list(&rep, rows, 1024);
    if (n < 0)
        return 1;
    if (json) {
        printf("[");
        for (int i = 0; i < n; i++) {
            printf("%s\n  {\"domid\": %s, \"name\": ", i ? "," : "", rows[i].f[0]);
            json_str(rows[i].f[1]);
            printf(", \"uuid\": \"%s\", \"memory_mb\": %s, \"vcpus\": %s, "
                   "\"processes\": %s, \"state\": \"%s\", \"uptime_s\": %.1f",
                   rows[i].f[2], rows[i].f[3], rows[i].f[4],
                   atoi(rows[i].f[5]) < 0 ? "null" : rows[i].f[5], state_of(&rows[i]),
                   uptime_of(&rows[i]));
            /* New keys only after the old ones; null: unlimited/unknown. */
            const char *used = rows[i].f[ROW_BASE], *max = rows[i].f[ROW_BASE + 1];
            printf(", \"fds_used\": %s, \"fds_max\": %s}", used ? used : "null",
                   max && strcmp(max, "0") ? max : "null");
        }
        printf("\n]\n");
        return 0;
    }
    /* fds last: the columns before it keep their places for scripts. */
    printf("%-40s %5s %5s %5s %10s %9s %11s\n", "Name", "ID", "Mem", "VCPUs", "State",
           "Time(s)", "fds");
    for (int i = 0; i < n; i++) {
        char fds[32];
        printf("%-40s %5s %5s %5s %10s %9.1f %11s\n", rows[i].f[1], rows[i].f[0],
               rows[i].f[3], rows[i].f[4], state_of(&rows[i]), uptime_of(&rows[i]),
               fds_of(&rows[i], fds, sizeof(fds)));
    }
    return 0;
}

int cmd_console(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: xensim console DOMAIN\n");
        return 2;
    }
    const char *name = argv[1];
    static struct strmsg rep;
    static struct row rows[1024];
    char *end;
    strtoul(name, &end, 10);
    if (!*end) {
        /* A domid: ask the daemon for its name. */
        int n = fetch_list(&rep, rows, 1024);
        if (n < 0)
            return 1;
        name = NULL;
        for (int i = 0; i < n; i++)
            if (!strcmp(rows[i].f[0], argv[1]))
                name = rows[i].f[1];
        if (!name) {
            fprintf(stderr, "xensim: no domain %s\n", argv[1]);
            return 1;
        }
    }
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/console/%s.log", cli_state_dir(), name);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "xensim: no console log for '%s' (%s): %s\n", name, path, strerror(errno));
        return 1;
    }
    char buf[65536];
    size_t k;
    while ((k = fread(buf, 1, sizeof(buf), f)) > 0)
        fwrite(buf, 1, k, stdout);
    fclose(f);
    return 0;
}
