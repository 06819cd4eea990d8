/* xensim daemon entry point (run by `xensim up`). */
#ifndef XENSIM_XENSIMD_H
#define XENSIM_XENSIMD_H

/* Serve the host whose state folder is dir until `xensim down` or SIGTERM.
 * ready_fd (or -1) gets one byte once every socket listens, then is closed.
 * Returns 0 or -errno. */
int xensimd_run(const char *dir, int ready_fd);

#endif
