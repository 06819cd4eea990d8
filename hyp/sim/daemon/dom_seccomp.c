/* xensim: the system calls a domain's processes are refused (see
 * dom_seccomp.h). */
#include "dom_seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#ifndef __NR_clone3
#define __NR_clone3 435
#endif
#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup 425
#endif
#ifndef __NR_openat2
#define __NR_openat2 437
#endif
#ifndef __NR_fchmodat2
#define __NR_fchmodat2 452
#endif

/* The kernel's __O_TMPFILE bit (glibc's O_TMPFILE adds O_DIRECTORY):
 * with it, as with O_CREAT, open's mode argument makes a file. */
#define CREATES (O_CREAT | (O_TMPFILE & ~O_DIRECTORY))
/* A domain's uid 0 owns what it makes in the host's /tmp: a setuid or
 * setgid file there would run as root for any host user. */
#define SETID (S_ISUID | S_ISGID)

/* The program is written with absolute targets (labels), turned into
 * BPF's relative jumps at the end: hand-counted offsets are how such
 * filters go wrong. L_OPENn: flags in args[n], mode in args[n + 1];
 * L_MODEn: mode in args[n]. */
enum label { NEXT = -1, L_REFUSE = 1000, L_NOSYS, L_ALLOW, L_FLAGS,
             L_MODE3, L_MODE2, L_MODE1, L_OPEN2, L_OPEN1, L_OTHER_ABI };

struct ins {
    uint16_t code;
    uint32_t k;
    int jt, jf; /* labels or NEXT */
};

#define LD(field) { BPF_LD | BPF_W | BPF_ABS, \
                    offsetof(struct seccomp_data, field), NEXT, NEXT }
#define IF_NR(n, to) { BPF_JMP | BPF_JEQ | BPF_K, (n), (to), NEXT }
#define RET(v) { BPF_RET | BPF_K, (v), NEXT, NEXT }

#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#else
#error "xensim: dom_seccomp.c knows x86-64 and arm64 only"
#endif

static const struct ins prog[] = {
    LD(arch),
    { BPF_JMP | BPF_JEQ | BPF_K, NATIVE_ARCH, NEXT, L_OTHER_ABI },
    LD(nr),
#if defined(__x86_64__)
    /* x32's calls (the native arch with bit 30 in nr): all refused, the
     * chmods and opens below included. */
    { BPF_JMP | BPF_JGE | BPF_K, 0x40000000, L_REFUSE, NEXT },
#endif
    IF_NR(__NR_add_key, L_REFUSE),
    IF_NR(__NR_request_key, L_REFUSE),
    IF_NR(__NR_keyctl, L_REFUSE),
    /* clone3's flags are in memory BPF cannot read: ENOSYS, and the C
     * library falls back to clone. */
    IF_NR(__NR_clone3, L_NOSYS),
    IF_NR(__NR_clone, L_FLAGS),
    IF_NR(__NR_unshare, L_FLAGS),
    /* No setuid or setgid file made (mkdir is left alone: a setgid
     * directory runs nothing). openat2 and io_uring (whose openat takes
     * a mode) keep theirs in memory: ENOSYS, and the C library does not
     * need them. */
#ifdef __NR_open
    IF_NR(__NR_open, L_OPEN1),
    IF_NR(__NR_creat, L_MODE1),
    IF_NR(__NR_mknod, L_MODE1),
    IF_NR(__NR_chmod, L_MODE1),
#endif
    IF_NR(__NR_openat, L_OPEN2),
    IF_NR(__NR_mknodat, L_MODE2),
    IF_NR(__NR_fchmod, L_MODE1),
    IF_NR(__NR_fchmodat, L_MODE2),
    IF_NR(__NR_fchmodat2, L_MODE2),
    IF_NR(__NR_openat2, L_NOSYS),
    IF_NR(__NR_io_uring_setup, L_NOSYS),
    RET(SECCOMP_RET_ALLOW),
    /* L_OTHER_ABI: i386 (int 0x80, from a 64-bit process too) has numbers
     * of its own; any other ABI is refused whole. */
#if defined(__x86_64__)
    { BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_I386, NEXT, L_REFUSE },
    LD(nr),
    IF_NR(286, L_REFUSE), /* add_key */
    IF_NR(287, L_REFUSE), /* request_key */
    IF_NR(288, L_REFUSE), /* keyctl */
    IF_NR(435, L_NOSYS),  /* clone3 */
    IF_NR(120, L_FLAGS),  /* clone */
    IF_NR(310, L_FLAGS),  /* unshare */
    IF_NR(5, L_OPEN1),    /* open */
    IF_NR(8, L_MODE1),    /* creat */
    IF_NR(14, L_MODE1),   /* mknod */
    IF_NR(15, L_MODE1),   /* chmod */
    IF_NR(295, L_OPEN2),  /* openat */
    IF_NR(297, L_MODE2),  /* mknodat */
    IF_NR(94, L_MODE1),   /* fchmod */
    IF_NR(306, L_MODE2),  /* fchmodat */
    IF_NR(452, L_MODE2),  /* fchmodat2 */
    IF_NR(437, L_NOSYS),  /* openat2 */
    IF_NR(425, L_NOSYS),  /* io_uring_setup */
    RET(SECCOMP_RET_ALLOW),
#else
    RET(SECCOMP_RET_ERRNO | EPERM),
#endif
    /* Arguments are read by their low word (the kernel reads flags and
     * modes as 32 bits or less; i386's are zero-extended). */
    /* L_OPEN1, L_OPEN2: open's and openat's flags; creating, the mode. */
    LD(args[1]),
    { BPF_JMP | BPF_JSET | BPF_K, CREATES, L_MODE2, L_ALLOW },
    LD(args[2]),
    { BPF_JMP | BPF_JSET | BPF_K, CREATES, L_MODE3, L_ALLOW },
    /* L_MODE1, L_MODE2, L_MODE3 */
    LD(args[1]),
    { BPF_JMP | BPF_JSET | BPF_K, SETID, L_REFUSE, L_ALLOW },
    LD(args[2]),
    { BPF_JMP | BPF_JSET | BPF_K, SETID, L_REFUSE, L_ALLOW },
    LD(args[3]),
    { BPF_JMP | BPF_JSET | BPF_K, SETID, L_REFUSE, L_ALLOW },
    /* L_FLAGS: clone's and unshare's first argument. */
    LD(args[0]),
    { BPF_JMP | BPF_JSET | BPF_K, CLONE_NEWUSER, L_REFUSE, L_ALLOW },
    /* L_ALLOW, L_NOSYS, L_REFUSE */
    RET(SECCOMP_RET_ALLOW),
    RET(SECCOMP_RET_ERRNO | ENOSYS),
    RET(SECCOMP_RET_ERRNO | EPERM),
};
#define LEN (sizeof(prog) / sizeof(prog[0]))

/* Where each label stands: the last fifteen instructions are fixed,
 * and the other ABIs' part starts after the native part's ALLOW. */
static int where(int label)
{
    switch (label) {
    case L_REFUSE: return (int)LEN - 1;
    case L_NOSYS: return (int)LEN - 2;
    case L_ALLOW: return (int)LEN - 3;
    case L_FLAGS: return (int)LEN - 5;
    case L_MODE3: return (int)LEN - 7;
    case L_MODE2: return (int)LEN - 9;
    case L_MODE1: return (int)LEN - 11;
    case L_OPEN2: return (int)LEN - 13;
    case L_OPEN1: return (int)LEN - 15;
    default: break;
    }
    /* L_OTHER_ABI: the instruction after the native part's ALLOW. */
    for (unsigned i = 2; i < LEN; i++)
        if (prog[i].code == (BPF_RET | BPF_K) &&
            prog[i].k == SECCOMP_RET_ALLOW)
            return (int)i + 1;
    return -1;
}

static int rel(unsigned at, int target)
{
    if (target == NEXT)
        return 0;
    int to = where(target);
    return to > (int)at && to - (int)at - 1 < 256 ? to - (int)at - 1 : -1;
}

int dom_seccomp_install(void)
{
    struct sock_filter f[LEN];
    for (unsigned i = 0; i < LEN; i++) {
        int jt = rel(i, prog[i].jt), jf = rel(i, prog[i].jf);
        if (jt < 0 || jf < 0)
            return -EINVAL; /* a label behind or out of reach */
        f[i] = (struct sock_filter){ prog[i].code, (uint8_t)jt, (uint8_t)jf,
                                     prog[i].k };
    }
    struct sock_fprog fp = { .len = LEN, .filter = f };
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fp, 0, 0) < 0)
        return -errno;
    return 0;
}
