/* xensim daemon: the arguments of control-socket requests (see ctl.h),
 * read apart from the socket and the domain table, so that a fuzz target
 * reaches them (tests/fuzz/fuzz_ctl_request.c). */
#ifndef XENSIM_CTL_PARSE_H
#define XENSIM_CTL_PARSE_H

#include "domain_ops.h"

#include <stddef.h>
#include <stdint.h>

/* A decimal number of at most max: digits only, no blank or sign. */
int ctl_parse_u32(const char *s, uint32_t max, uint32_t *out);

/* Split "CWD NARGS ARG... ENV..." starting at argv[i]: NARGS (1 or more) of
 * the strings after it are the command, the rest its environment. Fills a
 * NULL-terminated cargv and envp (pointers into argv, arrays malloc'd).
 * -EINVAL when malformed, -ENOMEM. */
int ctl_split_command(char **argv, int argc, int i, const char **cwd,
                      char ***cargv, char ***envp);

/* "create KEY=VALUE... [-- CWD NARGS ARG... ENV...]" (argv[0] is "create";
 * each '=' is cut to a NUL in place). */
struct ctl_create {
    struct domain_params p;
    const char *console; /* console=PATH, or NULL */
    const char *cwd;     /* NULL: no first process */
    char **argv, **envp; /* malloc'd, NULL-terminated; NULL without one */
};
/* 0, or -EINVAL with a message for the client in msg, or -ENOMEM. */
int ctl_parse_create(char **argv, int argc, struct ctl_create *cr, char *msg,
                     size_t msglen);
void ctl_create_free(struct ctl_create *cr);

#endif
