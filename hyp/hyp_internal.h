/* hyp_internal.h: helpers shared by the hyp_*.c files (not installed). */
#ifndef VIPC_HYP_INTERNAL_H
#define VIPC_HYP_INTERNAL_H

#include <errno.h>

/*
 * The Xen libraries report failure as -1/NULL/false plus errno.  Turn that
 * into -errno; a library that failed without setting errno must still not
 * look like success, hence -EIO.
 */
static inline int hyp_neg_errno(void)
{
	return errno > 0 ? -errno : -EIO;
}

#endif /* VIPC_HYP_INTERNAL_H */
