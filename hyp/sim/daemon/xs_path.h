/* xensim xenstore: path rules (canonical form, characters, length limits),
 * as xenstored applies them. */
#ifndef XENSIM_XS_PATH_H
#define XENSIM_XS_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Room for any canonical path: a payload is at most 4096 bytes, plus the
 * "/local/domain/<domid>/" prefix a relative path gets. */
#define XS_PATH_BUF 4160

/* Make path absolute (relative paths are under /local/domain/<domid>; one
 * starting with "@" is not relative, and no node's) and check it. Returns
 * 0, -EINVAL (bad path) or -E2BIG (does not fit out).
 * *relative tells whether the caller gave a relative path. */
int xs_path_canonical(uint32_t domid, const char *in, unsigned max_abs_len,
                      char *out, size_t outsz, bool *relative);
/* The checks alone, on an absolute path. */
bool xs_path_valid(const char *path, unsigned max_abs_len);
/* child is path itself or below it ("/" is everybody's ancestor). */
bool xs_path_is_child(const char *child, const char *parent);
/* Parent of an absolute path other than "/", written to out. */
void xs_path_parent(const char *path, char *out, size_t outsz);
/* Last component. */
const char *xs_path_base(const char *path);
/* "@introduceDomain" or "@releaseDomain". */
bool xs_path_is_special(const char *path);

#endif
