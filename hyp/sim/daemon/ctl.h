/* xensim daemon: the control socket ($XENSIM_DIR/ctl.sock) the xensim CLI
 * talks to. Only dom0 processes may use it (checked with ident, not trusted
 * from the request). Requests and replies are strmsg string lists:
 *
 *   ping                                       -> ok
 *   create KEY=VALUE... [-- CWD NARGS ARG... ENV...]   -> ok DOMID
 *        keys: name (no control characters) uuid (8-4-4-4-12 hex)
 *        max_grant_frames max_event_channels max_fds memory vcpus
 *        console=PATH receives the first process's stdout and stderr,
 *        console_limit=BYTES of it at most (console.h)
 *        With a command, the answer comes once it started; if it could not,
 *        err (naming it and why) once the domain is gone again. A client
 *        that leaves before the answer takes the domain with it.
 *   exec DOMAIN CWD NARGS ARG... ENV...  (+ stdin, stdout, stderr fds)
 *                                              -> started, later: exit STATUS
 *   signal SIGNAL                 (to the running exec) -> signalled SIGNAL
 *   destroy DOMAIN                             -> ok once it is gone
 *   list                                       -> ok, then one row per domain:
 *        DOMID NAME UUID MEMORY VCPUS PROCESSES DYING CREATED_NS
 *   down                                       -> ok; every domain destroyed,
 *                                                 then the daemon exits
 * Errors: err ERRNO MESSAGE. DOMAIN is a name or a domid. */
#ifndef XENSIM_CTL_H
#define XENSIM_CTL_H

struct loop;
int ctl_listen(struct loop *loop, const char *path);

#endif
