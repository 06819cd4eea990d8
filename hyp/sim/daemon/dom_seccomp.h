/* xensim: the system calls a domain's processes are refused.
 *
 * Kernel keyrings are kept per user, and a domain's processes are the
 * host's uid 0: root's user keyring, and the session keyring the daemon
 * was started with, would be theirs to read, replace or unlink (and a
 * channel between domains). So add_key, request_key and keyctl fail with
 * EPERM in a domain, as in Docker's default profile. And so do clone and
 * unshare with CLONE_NEWUSER (clone3 says ENOSYS: its flags are out of
 * the filter's sight, and the C library falls back to clone): a user
 * namespace would hand a domain's process every capability over new
 * mounts and network namespaces, kernel surface it has no need of.
 * Nor may it make a setuid or setgid file (chmod, fchmod, fchmodat,
 * fchmodat2, mknod, mknodat, or a creating open, creat: EPERM): what it
 * writes in the host's /tmp is root's, and would run as root for any
 * host user. openat2 and io_uring_setup, whose modes the filter cannot
 * read, say ENOSYS. Other ABIs of the machine (i386 and x32 beside
 * x86-64) are checked alike. */
#ifndef XENSIM_DOM_SECCOMP_H
#define XENSIM_DOM_SECCOMP_H

/* Install the filter in the calling process (a domain's monitor, still
 * holding its capabilities); its children inherit it. 0 or -errno. */
int dom_seccomp_install(void);

#endif
