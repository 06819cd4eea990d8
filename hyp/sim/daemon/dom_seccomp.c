/* xensim: the system calls a domain's processes are refused (see
 * dom_seccomp.h). */
#include "dom_seccomp.h"

#include <errno.h>
#include <stddef.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#define LD_FIELD(f) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, \
                             offsetof(struct seccomp_data, f))
/* Jump to the refusal (the last instruction) when nr == n. */
#define REFUSE_IF(n, at, len) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (n), \
                                       (len) - (at) - 2, 0)
#define ALLOW BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)
#define REFUSE BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM)

int dom_seccomp_install(void)
{
#if defined(__x86_64__)
    /* x86-64, then i386 (int 0x80 from a 64-bit process too), x32 (the
     * 64-bit arch with bit 30 in nr): the keyring calls of each refused. */
    enum { LEN = 16 };
    struct sock_filter f[LEN] = {
        /* 0 */ LD_FIELD(arch),
        /* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 6),
        /* 2 */ LD_FIELD(nr),
        /* 3 */ BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, LEN - 5, 0),
        /* 4 */ REFUSE_IF(__NR_add_key, 4, LEN),
        /* 5 */ REFUSE_IF(__NR_request_key, 5, LEN),
        /* 6 */ REFUSE_IF(__NR_keyctl, 6, LEN),
        /* 7 */ ALLOW,
        /* 8 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_I386, 0, 5),
        /* 9 */ LD_FIELD(nr),
        /* 10 */ REFUSE_IF(286, 10, LEN), /* i386 add_key */
        /* 11 */ REFUSE_IF(287, 11, LEN), /* i386 request_key */
        /* 12 */ REFUSE_IF(288, 12, LEN), /* i386 keyctl */
        /* 13 */ ALLOW,
        /* 14 */ REFUSE, /* an ABI this filter does not know */
        /* 15 */ REFUSE,
    };
#elif defined(__aarch64__)
    /* arm64; 32-bit arm programs: refused whole (numbers of their own). */
    enum { LEN = 8 };
    struct sock_filter f[LEN] = {
        /* 0 */ LD_FIELD(arch),
        /* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_AARCH64, 0, 5),
        /* 2 */ LD_FIELD(nr),
        /* 3 */ REFUSE_IF(__NR_add_key, 3, LEN),
        /* 4 */ REFUSE_IF(__NR_request_key, 4, LEN),
        /* 5 */ REFUSE_IF(__NR_keyctl, 5, LEN),
        /* 6 */ ALLOW,
        /* 7 */ REFUSE,
    };
#else
#error "xensim: dom_seccomp.c knows x86-64 and arm64 only"
#endif
    struct sock_fprog prog = { .len = LEN, .filter = f };
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
        return -errno;
    return 0;
}
