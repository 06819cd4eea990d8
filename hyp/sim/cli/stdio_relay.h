/* xensim CLI: the command's stdio when it is a host file or a terminal
 * (see below). */
#ifndef XENSIM_CLI_STDIO_RELAY_H
#define XENSIM_CLI_STDIO_RELAY_H

#include <stdbool.h>
#include <sys/types.h>

/* A domain is never handed a descriptor of a host file, directory or block
 * device: reopened through /proc/self/fd/N it is the file itself, on the
 * host's writable mount whatever the domain's mounts say (the command would
 * rewrite the file given as its stdin, or list a folder it cannot see).
 * Nor a terminal: the command could change its modes, and keep a copy to
 * read what is typed at the host's shell once exec returned. Such stdio
 * reaches the command as a pipe that a child of ours copies (like `docker
 * exec -i` without -t), only while the command runs. Pipes, sockets and other
 * character devices go as they are: reopening one gives the same pipe or
 * device (a socket cannot be reopened), nothing the command could not read
 * or write already. */
struct relays {
    int give[3];  /* the command's stdin, stdout and stderr */
    pid_t pid[3]; /* the copier of each; 0: none (passed as it is, or shared) */
    int in_left;  /* the stdin pipe's read end, kept to count what is unread */
    off_t in_at;  /* stdin's offset before the copy */
    bool in_tty;  /* stdin is a terminal: nothing to give back */
    int alive;    /* hangs up once every output copier is done; -1: none */
};

extern const char *const stdio_name[3];

/* Pipes in place of stdio that are host files or terminals, and their
 * copiers: 0, or nonzero with a message said. */
int relays_start(struct relays *rl);
/* The daemon has the command's ends: drop ours. */
void relays_sent(struct relays *rl);
/* After the command (ran: it did run; sfd: the CLI's signalfd): wait for
 * the output to be complete. A signal to take on, or 0. */
int relays_finish(struct relays *rl, bool ran, int sfd);

#endif
