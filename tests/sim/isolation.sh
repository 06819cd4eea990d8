#!/bin/sh
# What a domain's processes can see and reach (xensim.1, "Isolation"):
# only their own domain's processes, through a /proc of their own, with no
# capability to mount or unmount their way out; the machine read-only
# (sysctls, sysfs, /etc), a /dev, /run and network of their own; the
# host's folder only to read and connect, even under /run; the daemon's
# sockets are root's only; and a process of a PID namespace that is no
# domain of this host (another host's domain, a container) is not Domain-0.
. "$(dirname "$0")/lib.sh"

"$XENSIM" up >/dev/null || { bad "up"; finish; exit 1; }
daemon=$(for f in /proc/[0-9]*/fd/*; do
    [ "$(readlink "$f" 2>/dev/null)" = "$XENSIM_DIR/xensimd.lock" ] && { f=${f#/proc/}; echo "${f%%/*}"; }
done | sort -u)
a=$("$XENSIM" create "$(mkcfg alpha)" -- sleep 600)
b=$("$XENSIM" create "$(mkcfg beta)" -- sleep 600)
check "two domains ($a, $b)" test -n "$a" -a -n "$b"

# Its /proc shows the domain's processes only: its monitor is pid 1, and
# the daemon's descriptors are out of reach.
out=$("$XENSIM" exec alpha -- cat /proc/1/comm 2>&1)
check "a domain's pid 1 is its own monitor ($out)" test "$out" = xensim-domain
n=$("$XENSIM" exec alpha -- sh -c 'ls -d /proc/[0-9]* | wc -l')
check "a domain sees a handful of processes, not the host's ($n)" test "$n" -lt 10
n=$("$XENSIM" exec alpha -- sh -c "for f in /proc/[0-9]*/fd/*; do readlink \$f; done 2>/dev/null | grep -c '$XENSIM_DIR/xensimd.lock'")
check "the daemon's descriptors are out of a domain's reach (${n:-none} seen)" test "${n:-x}" = 0
out=$("$XENSIM" exec alpha -- sh -c 'sleep 60 & echo $!')
check "a domain's pids are its own ($out)" test "${out:-99999}" -lt 100

# No capabilities, in the bounding set too: no mount, no unmount.
caps=$("$XENSIM" exec alpha -- grep -E '^Cap(Eff|Prm|Bnd):' /proc/self/status | awk '{print $2}' | sort -u)
check "a domain's processes hold no capability ($caps)" test "$caps" = 0000000000000000
"$XENSIM" exec alpha -- umount -l /proc 2>/dev/null && bad "a domain unmounts its /proc" ||
    ok "a domain cannot unmount its /proc"
"$XENSIM" exec alpha -- mount -t proc proc /mnt 2>/dev/null && bad "a domain mounts a proc" ||
    ok "a domain cannot mount"
# Its mounts are its own: the host's /proc is still there.
check "the host's /proc is untouched" test -e "/proc/$daemon/comm"

# The host's folder is read-only to a domain: it cannot put a listener of
# its own in a socket's place, nor write the daemon's or a console log.
"$XENSIM" exec alpha -- sh -c "mv '$XENSIM_DIR/hyp.sock' '$XENSIM_DIR/moved'" 2>/dev/null &&
    bad "a domain moves hyp.sock away" || ok "a domain cannot move hyp.sock"
check "hyp.sock is where it was" test -S "$XENSIM_DIR/hyp.sock"
"$XENSIM" exec alpha -- sh -c "echo forged >> '$XENSIM_DIR/xensimd.log'" 2>/dev/null &&
    bad "a domain writes the daemon's log" || ok "a domain cannot write the daemon's log"
# Nor take its monitor's socket to the daemon (the monitor is not dumpable).
"$XENSIM" exec alpha -- readlink /proc/1/fd/3 >/dev/null 2>&1 &&
    bad "a domain reads its monitor's descriptors" ||
    ok "a domain cannot reach its monitor's descriptors"

# The machine is read-only to a domain: no sysctl (core_pattern would run
# a program as the host's root), no file of the host's root, no disk in its
# /dev, none of root's daemons' sockets in its /run, no network but its own
# loopback; the host's /tmp stays writable (tests and CI keep files there).
"$XENSIM" exec alpha -- sh -c 'v=$(cat /proc/sys/kernel/core_pattern) && echo "$v" > /proc/sys/kernel/core_pattern' 2>/dev/null &&
    bad "a domain writes a kernel sysctl" || ok "a domain cannot write a sysctl"
probe=/etc/vipc-isolation-probe.$$
"$XENSIM" exec alpha -- touch "$probe" 2>/dev/null &&
    bad "a domain writes in the host's /etc" || ok "a domain cannot write in /etc"
rm -f "$probe"
# sysfs (uevent_helper, where built, runs a program as root): a module
# parameter of the host's root, written back with its own value.
"$XENSIM" exec alpha -- sh -c 'v=$(cat /sys/module/printk/parameters/time) && echo "$v" > /sys/module/printk/parameters/time' 2>/dev/null &&
    bad "a domain writes sysfs" || ok "a domain cannot write sysfs"
n=$("$XENSIM" exec alpha -- find /dev -type b 2>/dev/null | wc -l)
check "a domain's /dev has no block device ($n)" test "$n" = 0
check "a domain still writes /dev/null and its /dev/shm" \
    "$XENSIM" exec alpha -- sh -c 'echo x > /dev/null && echo x > /dev/shm/probe'
touch /run/vipc-isolation-probe.$$
"$XENSIM" exec alpha -- test -e /run/vipc-isolation-probe.$$ &&
    bad "a domain sees the host's /run" || ok "a domain's /run is its own"
rm -f /run/vipc-isolation-probe.$$
n=$("$XENSIM" exec alpha -- sh -c 'tail -n +3 /proc/net/dev' | awk -F: '{print $1}' | tr -d ' ' | tr '\n' ' ')
check "a domain's network is its loopback alone ($n)" test "$n" = "lo "
check "a domain writes its host's work folder in /tmp" "$XENSIM" exec alpha -- touch "$work/from-alpha"
check "the host sees it" test -f "$work/from-alpha"
"$XENSIM" exec alpha -- touch /tmp/vipc-isolation-probe.$$ 2>/dev/null &&
    { rm -f /tmp/vipc-isolation-probe.$$; bad "a domain writes elsewhere in /tmp"; } ||
    ok "a domain cannot write elsewhere in /tmp"
# Bounded scratch of its own: /dev/shm 64 MiB, at most 64 ptys.
n=$("$XENSIM" exec alpha -- df -k /dev/shm | awk 'NR == 2 { print $2 }')
check "a domain's /dev/shm is 64 MiB ($n KiB)" test "$n" = 65536
check "a domain's devpts holds at most 64 ptys" \
    sh -c "'$XENSIM' exec alpha -- grep ' /dev/pts ' /proc/self/mountinfo | grep -q 'max=64'"
# No user namespace: it would give a domain's process every capability
# over new mounts and network namespaces.
"$XENSIM" exec alpha -- unshare -U true 2>/dev/null &&
    bad "a domain makes a user namespace" || ok "a domain cannot make a user namespace"

# Its /proc is its own to write where a process's own files are
# (oom_score_adj, as proc(5) lets root), read-only where the machine is
# (sysrq-trigger asks uid 0 for no capability), root's keys masked.
check "a domain writes its own oom_score_adj" \
    "$XENSIM" exec alpha -- sh -c 'echo 100 > /proc/self/oom_score_adj'
"$XENSIM" exec alpha -- test -w /proc/sysrq-trigger &&
    bad "a domain may write sysrq-trigger" || ok "sysrq-trigger is read-only to a domain"
n=$("$XENSIM" exec alpha -- cat /proc/keys | wc -l)
check "a domain's /proc/keys shows no key ($n)" test "$n" = 0
# Kernel keyrings are per user, and a domain's processes are uid 0: the
# keyring calls are refused (seccomp), or they would reach root's keys.
cat > "$work/keys.c" <<'EOF'
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/syscall.h>
int main(void)
{
    long a = syscall(SYS_add_key, "user", "vipc-isolation", "x", 1, -4L);
    int ea = errno;
    long k = syscall(SYS_keyctl, 0L, -4L, 0L);
    printf("%ld %d %ld %d\n", a, ea, k, errno);
    return 0;
}
EOF
if ${CC:-cc} -o "$work/keys" "$work/keys.c" 2> "$work/keys.err"; then
    out=$("$XENSIM" exec alpha -- "$work/keys")
    check "a domain's keyring calls are refused ($out)" test "$out" = "-1 1 -1 1"
else
    bad "the keyring probe does not compile: $(cat "$work/keys.err")"
fi
# No setuid or setgid file: a domain's uid 0 owns what it makes in its
# host's work folder, which any host user could then run as root. Seccomp
# refuses the set-id bits in chmod, mknod and the opens that create.
s=$work/setid; mkdir "$s"
# eperm WHAT CMD...: CMD, run in alpha, fails with "Operation not permitted"
eperm() {
    w=$1; shift
    err=$("$XENSIM" exec alpha -- "$@" 2>&1) && bad "a domain's $w succeeds" ||
        { echo "$err" | grep -q "Operation not permitted" && ok "a domain's $w is refused" ||
          bad "a domain's $w: $err"; }
}
check "a domain copies a program to its host's work folder" "$XENSIM" exec alpha -- cp /usr/bin/id "$s/id"
eperm "chmod 4755" chmod 4755 "$s/id"
eperm "chmod 2755" chmod 2755 "$s/id"
eperm "install -m 4755" install -m 4755 /usr/bin/id "$s/installed"
py=/usr/bin/python3; [ -x "$py" ] || py=$(command -v python3)
if [ -n "$py" ]; then
    eperm "open(O_CREAT, 04755)" "$py" -c 'import os, sys; os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY, 0o4755)' "$s/py"
    eperm "mknod of a FIFO, 04644" "$py" -c 'import os, stat, sys; os.mknod(sys.argv[1], stat.S_IFIFO | 0o4644)' "$s/fifo"
    # A file capability (CAP_SETUID) is as good as setuid: setting it
    # asks for CAP_SETFCAP, which a domain does not hold.
    eperm "setxattr of security.capability" "$py" -c 'import os, struct, sys; os.setxattr(sys.argv[1], "security.capability", struct.pack("<5I", 0x02000001, 1 << 7, 0, 0, 0))' "$s/id"
else
    bad "python3 is missing"
fi
# The system calls themselves, in each ABI: each one's errno (0 when it
# succeeds): openat, open(O_TMPFILE), creat, mknodat with set-id bits;
# a plain openat(O_CREAT, 0644); fchmod, fchmodat2 set-id; openat2 and
# io_uring_setup (ENOSYS: their modes are out of seccomp's sight); i386's
# chmod and creat (int 0x80, in a child: it dies where the kernel has no
# i386 ABI), x32's chmod.
cat > "$work/setid-probe.c" <<'EOF'
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
static void say(long r) { printf(" %d", r < 0 ? errno : 0); }
static void call32(long nr, const char *path, long mode)
{
#ifdef __x86_64__
    /* i386's pointers are 32 bits: the path below 4 GiB. */
    char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
    strcpy(p, path);
    pid_t c = fork();
    if (c == 0) {
        long r;
        __asm__ volatile("int $0x80" : "=a"(r) : "a"(nr), "b"(p), "c"(mode) : "memory");
        _exit(r < 0 ? -r : 0);
    }
    int st;
    waitpid(c, &st, 0);
    printf(" %d", WIFEXITED(st) ? WEXITSTATUS(st) : EPERM);
#else
    (void)nr, (void)path, (void)mode;
    printf(" %d", EPERM);
#endif
}
int main(int argc, char **argv)
{
    if (argc != 2 || chdir(argv[1]) < 0)
        return 2;
    say(syscall(SYS_openat, AT_FDCWD, "a", O_CREAT | O_WRONLY, 04755));
    say(syscall(SYS_open, ".", O_TMPFILE | O_WRONLY, 02755));
    say(syscall(SYS_creat, "c", 04755));
    say(syscall(SYS_mknodat, AT_FDCWD, "f", S_IFIFO | 04644, 0));
    int fd = syscall(SYS_openat, AT_FDCWD, "plain", O_CREAT | O_WRONLY, 0644);
    say(fd);
    say(fchmod(fd, 04755));
    say(syscall(452, AT_FDCWD, "plain", 02755, 0));
    struct { unsigned long long flags, mode, resolve; } how = { O_CREAT | O_WRONLY, 04755, 0 };
    say(syscall(437, AT_FDCWD, "o", &how, sizeof how));
    char params[120] = { 0 };
    say(syscall(425, 1, params));
    call32(15, "plain", 04755);
    call32(8, "i", 04755);
    say(syscall(0x40000000 | 90, "plain", 04755));
    printf("\n");
    return 0;
}
EOF
if ${CC:-cc} -o "$work/setid-probe" "$work/setid-probe.c" 2> "$work/setid-probe.err"; then
    out=$("$XENSIM" exec alpha -- "$work/setid-probe" "$s")
    check "a domain's set-id system calls are refused, in each ABI ($out)" \
        test "$out" = " 1 1 1 1 0 1 1 38 38 1 1 1"
else
    bad "the set-id probe does not compile: $(cat "$work/setid-probe.err")"
fi
out=$(find "$s" -perm -4000 -o -perm -2000)
check "a domain made no set-id file (${out:-none})" test -z "$out"
# What a domain's programs do every day still works.
check "a domain still chmods 755" "$XENSIM" exec alpha -- chmod 755 "$s/id"
check "a domain still creates a file" "$XENSIM" exec alpha -- sh -c "echo x > '$s/made'"
out=$(stat -c %a "$s/id" "$s/made" "$s/plain" | tr '\n' ' ')
check "with the modes asked ($out)" test "$out" = "755 644 644 "
# Another domain's console and the daemon's log are not a domain's to read;
# in the host's folder it finds the daemon's sockets alone.
"$XENSIM" create "$(mkcfg eps)" -- sh -c 'echo eps-secret; sleep 600' >/dev/null
"$XENSIM" exec alpha -- cat "$XENSIM_DIR/console/eps.log" 2>/dev/null | grep -q eps-secret &&
    bad "a domain reads another's console" || ok "a domain cannot read another's console"
"$XENSIM" exec alpha -- cat "$XENSIM_DIR/xensimd.log" >/dev/null 2>&1 &&
    bad "a domain reads the daemon's log" || ok "a domain cannot read the daemon's log"
out=$("$XENSIM" exec alpha -- ls "$XENSIM_DIR" | tr '\n' ' ')
check "a domain sees the daemon's sockets alone ($out)" test "$out" = "ctl.sock hyp.sock xenstored.sock "
# Nor can it rename the folders above the host's folder, and put its own
# (with sockets of its own) in its place.
"$XENSIM" exec alpha -- mv "$work" "$work.moved" 2>/dev/null &&
    { mv "$work.moved" "$work"; bad "a domain renames the folder above the host's"; } ||
    ok "a domain cannot rename the folders above the host's folder"

# The daemon's sockets: root's only (as /dev/xen/* and xenstored's).
for s in hyp.sock xenstored.sock ctl.sock; do
    m=$(stat -c %a "$XENSIM_DIR/$s")
    check "$s is root's only ($m)" test "$m" = 600 -o "$m" = 700
done

# A PID namespace below the host's that is no domain: not Domain-0.
if command -v unshare >/dev/null; then
    err=$(unshare --pid --fork "$XENSIM" list 2>&1) && bad "a foreign namespace acts as Domain-0" ||
        { echo "$err" | grep -q "Domain-0 only" && ok "a foreign PID namespace is not Domain-0" ||
          bad "foreign namespace message: $err"; }
else
    bad "unshare(1) is missing (util-linux)"
fi
# Nor a domain of another xensim host.
# (In a work folder of its own, as each test keeps its host: a domain may
# write its host's work folder, and none other.)
other_work=$(mktemp -d /tmp/vipc-test.XXXXXX); other=$other_work/host; sim_host "$other"
XENSIM_DIR=$other "$XENSIM" up >/dev/null || bad "a second host"
c=$(XENSIM_DIR=$other "$XENSIM" create "$(mkcfg gamma)" -- sleep 600)
XENSIM_DIR=$other "$XENSIM" exec gamma -- touch "$other_work/from-gamma" 2>/dev/null ||
    bad "a domain cannot write its host's work folder"
XENSIM_DIR=$other "$XENSIM" exec gamma -- touch "$work/from-gamma" 2>/dev/null &&
    bad "a domain writes another host's work folder" ||
    ok "a domain cannot write another host's work folder"
XENSIM_DIR=$other "$XENSIM" exec gamma -- mv "$XENSIM_DIR" "$XENSIM_DIR.moved" 2>/dev/null &&
    { mv "$XENSIM_DIR.moved" "$XENSIM_DIR"; bad "a domain moves another host's folder"; } ||
    ok "a domain cannot move another host's folder"
err=$(XENSIM_DIR=$other "$XENSIM" exec gamma -- env -u LD_LIBRARY_PATH XENSIM_DIR="$XENSIM_DIR" "$XENSIM" destroy alpha 2>&1) &&
    bad "another host's domain destroyed one of ours" ||
    { echo "$err" | grep -q "Domain-0 only" && ok "another host's domain is not our Domain-0" ||
      bad "other host's message: $err"; }
check "alpha still there" sh -c "'$XENSIM' list | grep -q '^alpha '"
XENSIM_DIR=$other "$XENSIM" down >/dev/null 2>&1
rm -rf "$other_work"
# A host whose folder is under /run (the default, /run/xensim): a domain's
# own /run still holds the folder, read-only, and its sockets answer.
run_host=/run/vipc-isolation.$$; sim_host "$run_host"
XENSIM_DIR=$run_host "$XENSIM" up >/dev/null || bad "a host in /run"
XENSIM_DIR=$run_host "$XENSIM" create "$(mkcfg delta)" -- sleep 600 >/dev/null
err=$(XENSIM_DIR=$run_host "$XENSIM" exec delta -- env -u LD_LIBRARY_PATH "$XENSIM" destroy delta 2>&1)
echo "$err" | grep -q "Domain-0 only" && ok "a domain of a host in /run reaches its daemon" ||
    bad "a domain of a host in /run: $err"
XENSIM_DIR=$run_host "$XENSIM" exec delta -- touch "$run_host/probe" 2>/dev/null &&
    bad "a domain writes its host's folder in /run" || ok "its host's folder in /run is read-only"
finish
