/* xensim: what a domain's processes may reach of the machine (see
 * dom_isolate.h). */
#include "dom_isolate.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

/* Linux's struct mount_attr (5.12) under a name of our own: whether
 * glibc's <sys/mount.h> declares it depends on its version. */
struct mnt_setattr {
    uint64_t attr_set, attr_clr, propagation, userns_fd;
};

/* Shared with the host, where tests and CI keep the programs and files a
 * domain runs: read-only to it but for its host's work folder. */
static const char *const scratch[] = { "/tmp", "/var/tmp" };
#define NSCRATCH (sizeof(scratch) / sizeof(scratch[0]))

/* The host's device nodes a program expects; nothing that reaches a disk,
 * the kernel's log or memory. */
static const char *const dev_nodes[] = { "null", "zero", "full",
                                         "random", "urandom", "tty" };
#define NDEV (sizeof(dev_nodes) / sizeof(dev_nodes[0]))

static int read_only(const char *path, bool ro, unsigned flags)
{
    struct mnt_setattr a = { 0 };
    if (ro)
        a.attr_set = MOUNT_ATTR_RDONLY;
    else
        a.attr_clr = MOUNT_ATTR_RDONLY;
    return syscall(SYS_mount_setattr, AT_FDCWD, path, flags, &a,
                   sizeof(a)) < 0 ? -errno : 0;
}

static bool is_dir(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int mkdir_p(const char *path)
{
    char p[PATH_MAX];
    if (snprintf(p, sizeof(p), "%s", path) >= (int)sizeof(p))
        return -ENAMETOOLONG;
    for (char *s = p + 1;; s++) {
        if (*s && *s != '/')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0755) < 0 && errno != EEXIST)
            return -errno;
        *s = c;
        if (!c)
            return 0;
    }
}

/* Mount what an O_PATH descriptor opened before a cover was put over it. */
static int bind_fd(int fd, const char *target, unsigned long flags)
{
    char src[64];
    snprintf(src, sizeof(src), "/proc/self/fd/%d", fd);
    return mount(src, target, NULL, MS_BIND | flags, NULL) < 0 ? -errno : 0;
}

static int private_dev(const int *devfd)
{
    if (mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC,
              "mode=0755,size=1024k,nr_inodes=64") < 0)
        return -errno;
    char path[64];
    for (unsigned i = 0; i < NDEV; i++) {
        if (devfd[i] < 0)
            continue; /* not on this machine either */
        snprintf(path, sizeof(path), "/dev/%s", dev_nodes[i]);
        int f = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
        if (f < 0)
            return -errno;
        close(f);
        int r = bind_fd(devfd[i], path, 0);
        if (r)
            return r;
    }
    if (mkdir("/dev/pts", 0755) < 0 || mkdir("/dev/shm", 01777) < 0)
        return -errno;
    if (mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
              "newinstance,ptmxmode=0666,mode=0620,max=64") < 0 ||
        mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV,
              "mode=01777,size=65536k,nr_inodes=4096") < 0)
        return -errno;
    if (symlink("pts/ptmx", "/dev/ptmx") < 0 ||
        symlink("/proc/self/fd", "/dev/fd") < 0 ||
        symlink("/proc/self/fd/0", "/dev/stdin") < 0 ||
        symlink("/proc/self/fd/1", "/dev/stdout") < 0 ||
        symlink("/proc/self/fd/2", "/dev/stderr") < 0)
        return -errno;
    return 0;
}

/* The length of the writable scratch mount that path is strictly below,
 * 0 if none. */
static size_t below_scratch(const char *path, const bool *bound)
{
    for (unsigned i = 0; i < NSCRATCH; i++) {
        size_t n = strlen(scratch[i]);
        if (bound[i] && strncmp(path, scratch[i], n) == 0 && path[n] == '/')
            return n;
    }
    return 0;
}

/* Calls fn on each folder strictly between a writable scratch mount and
 * the host's folder, top down: a domain must not rename one of them and
 * put a folder of its own, with sockets of its own, at the host's path. */
static int each_ancestor(const char *host_dir, const bool *bound,
                         int (*fn)(const char *))
{
    char p[PATH_MAX];
    if (snprintf(p, sizeof(p), "%s", host_dir) >= (int)sizeof(p))
        return -ENAMETOOLONG;
    size_t n = below_scratch(p, bound);
    if (!n)
        return 0;
    for (char *s = p + n + 1; (s = strchr(s, '/')); s++) {
        *s = '\0';
        int r = fn(p);
        *s = '/';
        if (r)
            return r;
    }
    return 0;
}

/* The folder holding the host's folder, when it is one of its own below
 * /tmp or /var/tmp (a test's work folder, made with mktemp -d): the one
 * place there its domains may write. The rest of /tmp stays read-only,
 * other hosts' folders with it. 1 if there is one, in out. */
static int work_folder(const char *host_dir, const bool *bound, char *out,
                       size_t cap)
{
    if (snprintf(out, cap, "%s", host_dir) >= (int)cap)
        return 0;
    char *sl = strrchr(out, '/');
    if (!sl || sl == out)
        return 0;
    *sl = '\0';
    return below_scratch(out, bound) != 0;
}

/* A mount point cannot be renamed or removed from its namespace. */
static int pin(const char *path)
{
    return mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0 ? -errno : 0;
}

static int writable(const char *path)
{
    return read_only(path, false, 0);
}

/* The host's folder as the domain sees it: a read-only tmpfs at its path
 * holding the daemon's three sockets, bound from hfd (so also where /run
 * now covers it). Not the console logs of other domains, nor the
 * daemon's log: on Xen a guest sees neither. */
static int host_view(const char *host_dir, int hfd)
{
    static const char *const socks[] = { "hyp.sock", "xenstored.sock",
                                         "ctl.sock" };
    enum { NSOCK = sizeof(socks) / sizeof(socks[0]) };
    int fd[NSOCK], r = 0;
    char path[PATH_MAX];
    for (unsigned i = 0; i < NSOCK; i++) {
        fd[i] = openat(hfd, socks[i], O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd[i] < 0 && errno != ENOENT && !r)
            r = -errno;
    }
    if (!r)
        r = mkdir_p(host_dir);
    if (!r && mount("tmpfs", host_dir, "tmpfs",
                    MS_NOSUID | MS_NODEV | MS_NOEXEC,
                    "mode=0755,size=64k,nr_inodes=16") < 0)
        r = -errno;
    for (unsigned i = 0; i < NSOCK && !r; i++) {
        if (fd[i] < 0)
            continue;
        if (snprintf(path, sizeof(path), "%s/%s", host_dir, socks[i]) >=
            (int)sizeof(path))
            r = -ENAMETOOLONG;
        int f = r ? -1 : open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        if (!r && f < 0)
            r = -errno;
        if (f >= 0)
            close(f);
        if (!r)
            r = bind_fd(fd[i], path, 0);
    }
    for (unsigned i = 0; i < NSOCK; i++)
        if (fd[i] >= 0)
            close(fd[i]);
    return r;
}

/* The domain's own /proc, writable for its processes' own files (as
 * proc(5) lets root's: oom_score_adj, comm, uid_map), read-only where a
 * write reaches the machine (sysctls, sysrq-trigger: no capability is
 * asked of uid 0 there), and with root's keys masked. */
static int own_proc(int nullfd)
{
    static const char *const ro[] = { "sys", "sysrq-trigger", "irq", "bus",
                                      "fs", "acpi", "asound", "scsi",
                                      "driver", "pressure" };
    static const char *const masked[] = { "keys", "key-users" };
    char path[64];
    struct stat st;
    if (umount2("/proc", MNT_DETACH) < 0 && errno != EINVAL)
        return -errno;
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              NULL) < 0)
        return -errno;
    for (unsigned i = 0; i < sizeof(ro) / sizeof(ro[0]); i++) {
        snprintf(path, sizeof(path), "/proc/%s", ro[i]);
        if (lstat(path, &st) == 0 && pin(path) < 0)
            return -errno;
    }
    for (unsigned i = 0; i < sizeof(masked) / sizeof(masked[0]); i++) {
        snprintf(path, sizeof(path), "/proc/%s", masked[i]);
        int r = lstat(path, &st) == 0 ? bind_fd(nullfd, path, 0) : 0;
        if (r)
            return r;
    }
    return 0;
}

/* Linux 6.14 made pid_max one per PID namespace. Before, the file is the
 * machine's: written from here it would bound every process of the host,
 * so it is not touched there. */
static bool pid_max_per_ns(void)
{
    struct utsname u;
    unsigned major, minor;
    if (uname(&u) < 0 || sscanf(u.release, "%u.%u", &major, &minor) != 2)
        return false;
    return major > 6 || (major == 6 && minor >= 14);
}

/* A PID namespace hands out pids below its pid_max, and each of its
 * processes and threads holds one: so at most DOM_PID_MAX - 1 of them,
 * however a guest forks, and the host's pids stay the host's. Written
 * while /proc/sys is still writable: uid 0 of the domain may write it
 * too (the kernel asks no capability of the namespace's root). */
static int bound_pids(void)
{
    if (!pid_max_per_ns())
        return -EOPNOTSUPP;
    int fd = open("/proc/sys/kernel/pid_max", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    char v[16];
    int n = snprintf(v, sizeof(v), "%d\n", DOM_PID_MAX);
    int r = write(fd, v, (size_t)n) == n ? 0 : -errno;
    close(fd);
    return r;
}

static int loopback_up(void)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
    int r = 0;
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
        r = -errno;
    ifr.ifr_flags |= IFF_UP;
    if (!r && ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
        r = -errno;
    close(s);
    return r;
}

static int isolate(const char *host_dir, int hfd, const int *devfd,
                   bool *bound, bool pid_max, const char **what, int *pids)
{
    int r;
    *what = "make the mounts private";
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return -errno;
    *what = "keep /tmp and /var/tmp writable";
    for (unsigned i = 0; i < NSCRATCH; i++) {
        if (!is_dir(scratch[i]) || strcmp(scratch[i], host_dir) == 0)
            continue;
        if (mount(scratch[i], scratch[i], NULL, MS_BIND | MS_REC, NULL) < 0)
            return -errno;
        bound[i] = true;
    }
    *what = "mount a /run of the domain's own";
    if (is_dir("/run") &&
        mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV,
              "mode=0755,size=16384k,nr_inodes=4096") < 0)
        return -errno;
    *what = "mount a /dev of the domain's own";
    if ((r = private_dev(devfd)))
        return r;
    *what = "pin the folders above the host's folder";
    if ((r = each_ancestor(host_dir, bound, pin)))
        return r;
    *what = "show the host's folder's sockets, read-only";
    if ((r = host_view(host_dir, hfd)))
        return r;
    *what = "mount the domain's /proc";
    if (devfd[0] < 0) /* dev_nodes[0]: null, to mask root's keys with */
        return -ENODEV;
    if ((r = own_proc(devfd[0])))
        return r;
    /* Not fatal: the domain runs unbounded, and the caller says so. */
    *pids = pid_max ? bound_pids() : -ECANCELED;
    /* Read-only, sysctls and sysfs included; then the domain's own
     * scratch (its /run, /dev/shm, ptys, its /proc) and the host's /tmp
     * writable again, each mount alone: one mounted below them stays
     * read-only, the host's folder above all. */
    *what = "make every mount read-only (Linux 5.12's mount_setattr)";
    if ((r = read_only("/", true, AT_RECURSIVE)))
        return r;
    *what = "make the domain's scratch writable";
    static const char *const own[] = { "/run", "/dev/shm", "/dev/pts",
                                       "/proc" };
    for (unsigned i = 0; i < sizeof(own) / sizeof(own[0]); i++)
        if (is_dir(own[i]) && (r = read_only(own[i], false, 0)))
            return r;
    char work[PATH_MAX];
    if (work_folder(host_dir, bound, work, sizeof(work)) &&
        (r = writable(work)))
        return r;
    *what = "bring up the domain's loopback";
    return loopback_up();
}

int dom_isolate_mounts(const char *host_dir, bool pid_max, const char **what, int *pids)
{
    /* Opened before /run and /dev are covered: bound back from these. */
    int devfd[NDEV], r;
    bool bound[NSCRATCH] = { false };
    char path[64];
    *pids = 0;
    for (unsigned i = 0; i < NDEV; i++) {
        snprintf(path, sizeof(path), "/dev/%s", dev_nodes[i]);
        devfd[i] = open(path, O_PATH | O_CLOEXEC);
    }
    int hfd = open(host_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (hfd < 0) {
        *what = "open the host's folder";
        r = -errno;
    } else {
        r = isolate(host_dir, hfd, devfd, bound, pid_max, what, pids);
        close(hfd);
    }
    for (unsigned i = 0; i < NDEV; i++)
        if (devfd[i] >= 0)
            close(devfd[i]);
    return r;
}
