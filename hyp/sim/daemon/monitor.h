/* xensim: the domain monitor, init (pid 1) of a domain's PID namespace.
 *
 * It holds the domain open (a domain with no process left stays, like an
 * idle VM), reaps orphans, and starts processes inside the domain on the
 * daemon's word. When it dies, the kernel kills everything in the domain:
 * that is how `xensim destroy` works.
 *
 * Daemon -> monitor (strmsg on a SEQPACKET socketpair):
 *   "spawn" ID CWD ARGC ARG... ENV...     with fds stdin, stdout, stderr
 *   "kill" ID SIGNAL
 * Monitor -> daemon:
 *   "started" ID PID  |  "failed" ID ERRNO MESSAGE
 *   "exited" ID STATUS    (STATUS as a shell reports it: code, or 128+signal)
 * "started" or "failed" comes once the child has exec'd or failed to; a
 * child stopped before that (a guest may stop every process but init) is
 * just not answered for yet, while the monitor serves on; "kill" reaches
 * it, and killed it says "started" then "exited".  The monitor never
 * blocks but in its poll and in sending to the daemon. */
#ifndef XENSIM_MONITOR_H
#define XENSIM_MONITOR_H

/* Run the monitor on sock; never returns. */
__attribute__((noreturn)) void monitor_main(int sock);

#endif
