/* xensim CLI: shared helpers between the subcommands. */
#ifndef XENSIM_CLI_H
#define XENSIM_CLI_H

#include "strmsg.h"
#include <stdbool.h>
#include <stdint.h>

/* The host's state folder: $XENSIM_DIR, or /run/xensim for root and
 * /tmp/xensim-UID otherwise. Absolute. */
const char *cli_state_dir(void);
/* Where the drop-in Xen libraries are: $XENSIM_LIBDIR, the build tree next
 * to this program, or the installed folder. */
const char *cli_lib_dir(void);
/* The environment a simulated domain's process gets: the caller's, with
 * LD_LIBRARY_PATH, XENSTORED_PATH and XENSIM_DIR pointing at this host.
 * NULL-terminated, malloc'd. */
char **cli_domain_env(void);
void cli_domain_env_free(char **env);

/* Control-socket client. No request waits for the daemon forever: a
 * stopped or wedged one must not hang every caller. */
/* $XENSIM_TIMEOUT in ms (seconds in the variable; default 30 s, far more
 * than any request takes); 0: no limit. */
int cli_timeout_ms(void);
/* Bound sends and receives on fd to ms (0: no bound). */
void cli_set_timeout(int fd, int ms);
/* "the daemon ... did not answer within N s" for the host's folder. */
void cli_report_timeout(int ms);
int cli_connect(bool quiet);            /* fd or -errno (message printed) */
int cli_connect_within(bool quiet, int ms); /* same, bounded to ms */
/* argc or -errno (message printed; -ETIMEDOUT when the daemon does not
 * answer in cli_timeout_ms()). */
int cli_request(int fd, struct strmsg *req, const int *fds, int nfds,
                struct strmsg *rep, char **argv, int max);
/* Print "xensim: MESSAGE" for an "err ERRNO MESSAGE" reply; returns -ERRNO. */
int cli_report_err(char **argv, int argc);

/* xl.cfg, parsed with libxlutil. */
struct cli_cfg {
    char name[64];
    char uuid[64];
    char kernel[4096];
    char cmdline[8192];
    long memory, vcpus, max_grant_frames, max_event_channels;
    long max_fds; /* xensim_max_fds: not an xl key, the daemon's budget */
    long console_limit; /* xensim_console_limit: bytes of console log */
};
/* 0, or -errno with a message naming the file (and the key) on stderr. */
int cli_cfg_read(const char *path, struct cli_cfg *cfg);
/* The same for the file's contents already read (path only names it). */
int cli_cfg_parse(const char *path, const char *data, size_t len, struct cli_cfg *cfg);

int cmd_up(int argc, char **argv);
int cmd_down(int argc, char **argv);
int cmd_create(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_destroy(int argc, char **argv);
int cmd_console(int argc, char **argv);

#endif
