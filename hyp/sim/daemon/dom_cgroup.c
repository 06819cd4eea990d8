/* xensim: a domain's cgroups (see dom_cgroup.h). */
#include "dom_cgroup.h"
#include "dom_isolate.h"
#include "loop.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CG_ROOT_DEFAULT "/sys/fs/cgroup"
/* The daemon's own leaf on v2 (v2_delegate). */
#define CG_LEAF "xensim-daemons"
/* A cgroup the kernel still counts a process in is tried again this
 * often, this many times, before it is left (and logged). */
#define RM_EVERY_MS 100
#define RM_TRIES 50

static const char *const ctrl_name[CG_NCTRL] = { "pids", "memory" };
static char g_root[PATH_MAX] = CG_ROOT_DEFAULT;
static bool g_pid_max = true;
/* The daemon moved itself into CG_LEAF of its v2 cgroup. */
static bool g_in_leaf;

int dom_cgroup_init(void)
{
    const char *b = getenv("XENSIM_PID_BOUND");
    if (b && *b) {
        if (strcmp(b, "cgroup")) {
            fprintf(stderr, "xensim: XENSIM_PID_BOUND='%s' is not understood: 'cgroup' "
                            "(a domain's cgroup alone bounds its processes) or unset\n", b);
            return -EINVAL;
        }
        g_pid_max = false;
    }
    const char *r = getenv("XENSIM_CGROUP_ROOT");
    if (r && *r) {
        size_t n = strlen(r);
        if (r[0] != '/' || n >= sizeof(g_root)) {
            fprintf(stderr, "xensim: XENSIM_CGROUP_ROOT='%s' is not an absolute path "
                            "(of the folder holding the cgroup mounts)\n", r);
            return -EINVAL;
        }
        memcpy(g_root, r, n + 1);
        while (n > 1 && g_root[n - 1] == '/')
            g_root[--n] = '\0';
    }
    return 0;
}

bool dom_cgroup_pid_max(void)
{
    return g_pid_max;
}

const char *dom_cgroup_pid_knob(void)
{
    return "XENSIM_PID_BOUND=cgroup";
}

static int read_text(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, cap - 1);
    int e = errno;
    close(fd);
    if (n < 0)
        return -e;
    buf[n] = '\0';
    return 0;
}

/* cgroupfs answers a write it refuses with the write's errno. */
static int write_text(const char *path, const char *s)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t n = strlen(s);
    ssize_t w = write(fd, s, n);
    int r = w == (ssize_t)n ? 0 : w < 0 ? -errno : -EIO;
    close(fd);
    return r;
}

static int path_of(char *out, const char *dir, const char *file)
{
    return snprintf(out, PATH_MAX, "%s/%s", dir, file) < PATH_MAX ? 0 : -ENAMETOOLONG;
}

/* Whether word is one of list's, separated by any of seps. */
static bool has_word(const char *list, const char *word, const char *seps)
{
    size_t n = strlen(word);
    for (const char *p = list; *p;) {
        size_t k = strcspn(p, seps);
        if (k == n && !strncmp(p, word, n))
            return true;
        p += k;
        if (*p)
            p++;
    }
    return false;
}

/* Whether path is root or a path below it. */
static bool at_or_below(const char *path, const char *root)
{
    size_t n = strlen(root);
    if (n == 1)
        return path[0] == '/';
    return !strncmp(path, root, n) && (path[n] == '\0' || path[n] == '/');
}

/* mountinfo writes a space, tab, newline or backslash as \ooo. */
static void unescape(char *s)
{
    char *o = s;
    for (; *s; s++) {
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
            s[3] >= '0' && s[3] <= '7') {
            *o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
            s += 3;
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
}

/* The daemon's cgroup, as /proc/self/cgroup names it, in the v1 hierarchy
 * holding ctrl, or in the v2 one (ctrl NULL). */
static int own_cgroup(const char *ctrl, char *out, size_t cap)
{
    FILE *f = fopen("/proc/self/cgroup", "re");
    if (!f)
        return -errno;
    char *line = NULL;
    size_t len = 0;
    int r = -ENOENT;
    while (getline(&line, &len, f) > 0) {
        line[strcspn(line, "\n")] = '\0';
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c2 = '\0';
        const char *list = c1 + 1;
        if (ctrl ? !has_word(list, ctrl, ",") : *list || strncmp(line, "0:", 2))
            continue;
        r = snprintf(out, cap, "%s", c2 + 1) < (int)cap ? 0 : -ENAMETOOLONG;
        break;
    }
    free(line);
    fclose(f);
    /* Our own leaf is no place for the domains' cgroups: its parent is. */
    if (!r && !ctrl && g_in_leaf) {
        char *sl = strrchr(out, '/');
        if (sl && !strcmp(sl + 1, CG_LEAF))
            *(sl == out ? sl + 1 : sl) = '\0';
    }
    return r;
}

/* Where a domain's cgroup goes for one controller: below dir. */
struct hier {
    char dir[PATH_MAX]; /* the daemon's cgroup there */
    bool v2;
};

/* The daemon's cgroup own in the mount at point showing the cgroup mroot:
 * -ENOENT when the mount does not show it (a container's view of a
 * hierarchy, say). */
static int own_dir(const char *point, const char *mroot, const char *own, char *out)
{
    if (!at_or_below(own, mroot))
        return -ENOENT;
    const char *rel = strcmp(mroot, "/") ? own + strlen(mroot) : own;
    if (!strcmp(rel, "/"))
        rel = "";
    return snprintf(out, PATH_MAX, "%s%s", point, rel) < PATH_MAX ? 0 : -ENAMETOOLONG;
}

static int say(char *why, int r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* why = "what: strerror(-r)"; returns r. */
static int say(char *why, int r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(why, DOM_CG_WHY, fmt, ap);
    va_end(ap);
    if (n >= 0 && n < DOM_CG_WHY)
        snprintf(why + n, DOM_CG_WHY - (size_t)n, ": %s", strerror(-r));
    return r;
}

/* A mount of /proc/self/mountinfo that may hold controller c: a v1 one
 * listing it, or a v2 one. *v2 says which; point and mroot are unescaped
 * in place. False for any other line. */
static bool cgroup_mount(char *line, int c, bool *v2, char **point, char **mroot)
{
    char *fld[64], *save = NULL;
    int nf = 0, sep = -1;
    for (char *s = strtok_r(line, " \n", &save); s && nf < 64; s = strtok_r(NULL, " \n", &save)) {
        if (nf >= 6 && sep < 0 && !strcmp(s, "-"))
            sep = nf;
        fld[nf++] = s;
    }
    if (sep < 0 || sep + 3 >= nf)
        return false;
    const char *type = fld[sep + 1], *opts = fld[sep + 3];
    *v2 = !strcmp(type, "cgroup2");
    if (!*v2 && (strcmp(type, "cgroup") || !has_word(opts, ctrl_name[c], ",")))
        return false;
    unescape(fld[3]);
    unescape(fld[4]);
    *mroot = fld[3];
    *point = fld[4];
    return true;
}

/* Where controller c is: the first v1 mount at or below g_root listing
 * it and showing the daemon's cgroup, else the first such v2 mount if the
 * daemon's cgroup there has c. 0, or -errno and why. */
static int find_hier(int c, struct hier *h, char *why)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return say(why, -errno, "cgroup %s: cannot read /proc/self/mountinfo", ctrl_name[c]);
    char *line = NULL, *point, *mroot, own[PATH_MAX], dir[PATH_MAX];
    char v2dir[PATH_MAX] = "";
    size_t len = 0;
    bool v2, v1 = false;
    while (!v1 && getline(&line, &len, f) > 0) {
        if (!cgroup_mount(line, c, &v2, &point, &mroot) || !at_or_below(point, g_root) ||
            own_cgroup(v2 ? NULL : ctrl_name[c], own, sizeof(own)) ||
            own_dir(point, mroot, own, dir))
            continue;
        if (!v2) {
            memcpy(h->dir, dir, sizeof(dir));
            h->v2 = false;
            v1 = true;
        } else if (!v2dir[0]) {
            memcpy(v2dir, dir, sizeof(dir));
        }
    }
    free(line);
    fclose(f);
    if (v1)
        return 0;
    if (!v2dir[0])
        return say(why, -ENOENT, "cgroup %s: no cgroup mount holding it at or below %s",
                   ctrl_name[c], g_root);
    char path[PATH_MAX], has[512];
    int r = path_of(path, v2dir, "cgroup.controllers");
    if (!r)
        r = read_text(path, has, sizeof(has));
    if (r)
        return say(why, r, "cgroup %s: cannot read %s/cgroup.controllers", ctrl_name[c], v2dir);
    if (!has_word(has, ctrl_name[c], " \n"))
        return say(why, -EOPNOTSUPP, "cgroup %s: not in %s (the controllers the daemon's v2 cgroup "
                   "may give)", ctrl_name[c], path);
    memcpy(h->dir, v2dir, sizeof(v2dir));
    h->v2 = true;
    return 0;
}

/* v2 gives controllers to a cgroup's children (cgroup.subtree_control)
 * only when it holds no process itself, the hierarchy's root aside (the
 * no-internal-process rule), and the daemon's cgroup holds the daemon.
 * What we chose: the daemon moves into a leaf of its own there, CG_LEAF,
 * beside its domains' cgroups, and gives the controllers. If its cgroup
 * still holds other processes (the shell that ran `xensim up`), which are
 * not ours to move, the daemon moves back and the domain goes without
 * these bounds (EBUSY, logged). The leaf stays, empty once the daemon is
 * gone, for the next one started there. */
static int v2_delegate(const char *dir, unsigned mask, char *why)
{
    char path[PATH_MAX], leaf[PATH_MAX], procs[PATH_MAX], has[512], want[64] = "";
    int r = path_of(path, dir, "cgroup.subtree_control");
    if (!r)
        r = read_text(path, has, sizeof(has));
    if (r)
        return say(why, r, "cannot read %s/cgroup.subtree_control", dir);
    for (int c = 0; c < CG_NCTRL; c++)
        if (mask & (1u << c) && !has_word(has, ctrl_name[c], " \n")) {
            strcat(want, want[0] ? " +" : "+");
            strcat(want, ctrl_name[c]);
        }
    if (!want[0] || !(r = write_text(path, want)))
        return 0;
    if (r != -EBUSY)
        return say(why, r, "cannot write '%s' to %s", want, path);
    if ((r = path_of(leaf, dir, CG_LEAF)) || (r = path_of(procs, leaf, "cgroup.procs")))
        return say(why, r, "no room for a leaf in %s", dir);
    if (mkdir(leaf, 0755) < 0 && errno != EEXIST)
        return say(why, -errno, "cannot make a leaf for the daemon, %s", leaf);
    if ((r = write_text(procs, "0"))) {
        rmdir(leaf);
        return say(why, r, "cannot move the daemon into %s", leaf);
    }
    g_in_leaf = true;
    if (!(r = write_text(path, want)))
        return 0;
    if (!path_of(procs, dir, "cgroup.procs") && !write_text(procs, "0")) {
        g_in_leaf = false;
        rmdir(leaf);
    }
    return say(why, r, "cannot write '%s' to %s (the daemon left it for a leaf, but "
               "other processes stay there)", want, path);
}

static int set_limit(const char *dir, int c, bool v2, uint32_t memory_mb, char *why)
{
    char path[PATH_MAX], v[32];
    const char *file;
    if (c == CG_PIDS) {
        file = "pids.max";
        snprintf(v, sizeof(v), "%d", DOM_PID_MAX - 1);
    } else {
        file = v2 ? "memory.max" : "memory.limit_in_bytes";
        snprintf(v, sizeof(v), "%llu", (unsigned long long)memory_mb << 20);
    }
    int r = path_of(path, dir, file);
    if (!r)
        r = write_text(path, v);
    if (r)
        return say(why, r, "cgroup %s: cannot write %s to %s", ctrl_name[c], v, path);
    if (c != CG_MEMORY || !v2)
        return 0;
    /* No file: the kernel does not account swap, so nothing to bound. */
    r = path_of(path, dir, "memory.swap.max");
    if (!r && (r = write_text(path, "0")) == -ENOENT)
        r = 0;
    return r ? say(why, r, "cgroup memory: cannot write 0 to %s", path) : 0;
}

/* Folders a daemon that died without removing them left (SIGKILL, a
 * crash): xensim-PID-DOMID whose PID is no process here.  rmdir refuses
 * one that still holds a process (EBUSY), so a live domain's stays. */
static void reap_stale(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        int pid;
        unsigned domid;
        char more, path[PATH_MAX];
        if (sscanf(e->d_name, "xensim-%d-%u%c", &pid, &domid, &more) != 2 || pid <= 0 ||
            pid == getpid() || kill(pid, 0) == 0 || errno != ESRCH)
            continue;
        if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) < (int)sizeof(path) &&
            rmdir(path) == 0)
            fprintf(stderr, "xensim: removed the cgroup %s, left by a daemon that is gone\n",
                    path);
    }
    closedir(d);
}

/* The domain's cgroup below h for the controllers in mask. */
static void make_one(struct dom_cgroup *cg, const struct hier *h, unsigned mask,
                     uint32_t domid, uint32_t memory_mb)
{
    char dir[PATH_MAX], why[DOM_CG_WHY];
    reap_stale(h->dir);
    int r = h->v2 ? v2_delegate(h->dir, mask, why) : 0;
    if (!r && snprintf(dir, sizeof(dir), "%s/xensim-%d-%u", h->dir, (int)getpid(),
                       domid) >= (int)sizeof(dir))
        r = say(why, -ENAMETOOLONG, "no room for a cgroup in %s", h->dir);
    /* One left by a daemon of the same pid that was killed: empty, since
     * its monitors died with it. */
    if (!r && mkdir(dir, 0755) < 0 && (errno != EEXIST || rmdir(dir) < 0 || mkdir(dir, 0755) < 0))
        r = say(why, -errno, "cannot make %s", dir);
    char *copy = r ? NULL : strdup(dir);
    if (!r && !copy) {
        rmdir(dir);
        r = say(why, -ENOMEM, "cannot make %s", dir);
    }
    unsigned ok = 0;
    for (int c = 0; c < CG_NCTRL; c++) {
        if (!(mask & (1u << c)))
            continue;
        if (r) {
            cg->err[c] = r;
            /* Cut if need be: the log line stays one line. */
            if (snprintf(cg->why[c], DOM_CG_WHY, "cgroup %s: %s", ctrl_name[c], why) < 0)
                cg->why[c][0] = '\0';
        } else if (!(cg->err[c] = set_limit(dir, c, h->v2, memory_mb, cg->why[c]))) {
            ok |= 1u << c;
        }
    }
    if (r)
        return;
    if (!ok) {
        rmdir(dir);
        free(copy);
        return;
    }
    cg->dir[cg->n] = copy;
    cg->ctrls[cg->n++] = ok;
}

void dom_cgroup_make(struct dom_cgroup *cg, uint32_t domid, uint32_t memory_mb)
{
    memset(cg, 0, sizeof(*cg));
    struct hier h[CG_NCTRL];
    for (int c = 0; c < CG_NCTRL; c++)
        cg->err[c] = find_hier(c, &h[c], cg->why[c]);
    /* One cgroup per hierarchy, for the controllers it holds. */
    unsigned done = 0;
    for (int c = 0; c < CG_NCTRL; c++) {
        if (cg->err[c] || done & (1u << c))
            continue;
        unsigned mask = 0;
        for (int k = c; k < CG_NCTRL; k++)
            if (!cg->err[k] && h[k].v2 == h[c].v2 && !strcmp(h[k].dir, h[c].dir))
                mask |= 1u << k;
        done |= mask;
        make_one(cg, &h[c], mask, domid, memory_mb);
    }
}

void dom_cgroup_join(struct dom_cgroup *cg)
{
    for (int i = 0; i < cg->n; i++) {
        char path[PATH_MAX];
        int r = path_of(path, cg->dir[i], "cgroup.procs");
        if (!r)
            r = write_text(path, "0");
        for (int c = 0; r && c < CG_NCTRL; c++)
            if (cg->ctrls[i] & (1u << c)) {
                cg->err[c] = say(cg->why[c], r, "cgroup %s: cannot move the domain's "
                                 "monitor into %s", ctrl_name[c], cg->dir[i]);
            }
    }
}

/* Removal retried from the loop. */
struct pending {
    struct pending *next;
    char *dir;
    unsigned tries;
};
static struct pending *g_pending;
static struct loop_timer g_retry;
static bool g_retry_init;

static int rm_now(const char *dir)
{
    return rmdir(dir) < 0 && errno != ENOENT ? -errno : 0;
}

static void say_left(const char *dir, int r)
{
    fprintf(stderr, "xensim: cannot remove the cgroup %s: %s; it is left behind\n", dir,
            strerror(-r));
}

static void retry_rm(void *ctx)
{
    struct loop *l = ctx;
    for (struct pending **pp = &g_pending; *pp;) {
        struct pending *p = *pp;
        int r = rm_now(p->dir);
        if (r == -EBUSY && ++p->tries < RM_TRIES) {
            pp = &p->next;
            continue;
        }
        if (r)
            say_left(p->dir, r);
        *pp = p->next;
        free(p->dir);
        free(p);
    }
    if (g_pending)
        loop_timer_arm(l, &g_retry, RM_EVERY_MS);
}

void dom_cgroup_remove(struct loop *l, struct dom_cgroup *cg)
{
    for (int i = 0; i < cg->n; i++) {
        int r = rm_now(cg->dir[i]);
        struct pending *p = r == -EBUSY && l ? malloc(sizeof(*p)) : NULL;
        if (!p) {
            if (r)
                say_left(cg->dir[i], r);
            free(cg->dir[i]);
        } else {
            *p = (struct pending){ .next = g_pending, .dir = cg->dir[i] };
            g_pending = p;
            if (!g_retry_init) {
                loop_timer_init(&g_retry, retry_rm, l);
                g_retry_init = true;
            }
            if (!g_retry.armed)
                loop_timer_arm(l, &g_retry, RM_EVERY_MS);
        }
        cg->dir[i] = NULL;
    }
    cg->n = 0;
}

void dom_cgroup_shutdown(struct loop *l)
{
    if (g_retry_init)
        loop_timer_cancel(l, &g_retry);
    while (g_pending) {
        struct pending *p = g_pending;
        int r = rm_now(p->dir);
        if (r)
            say_left(p->dir, r);
        g_pending = p->next;
        free(p->dir);
        free(p);
    }
}
