/* SPDX-License-Identifier: MIT */
/* What the code under a fuzz target prints on stderr, caught in memory:
 * so that a refusal can be checked for its message, and a long run's log
 * is not flooded.  The stdio stream is swapped, not fd 2, so that the
 * sanitizers' and libFuzzer's own reports (written to fd 2) still show. */
#ifndef FUZZ_STDERR_H
#define FUZZ_STDERR_H

#include <stdio.h>
#include <stdlib.h>

static char cap_buf[16384];
static FILE *cap_real, *cap_mem;

static inline void cap_begin(void)
{
	/* One byte kept back: the text is a string even when cut. */
	cap_buf[0] = '\0';
	cap_mem = fmemopen(cap_buf, sizeof(cap_buf) - 1, "w");
	if (!cap_mem)
		abort();
	cap_real = stderr;
	stderr = cap_mem;
}

/* The stream back; the text printed since cap_begin() (cut at the
 * buffer's size). */
static inline const char *cap_end(void)
{
	if (cap_mem) {
		stderr = cap_real;
		fclose(cap_mem);        /* writes the terminating NUL */
		cap_mem = NULL;
	}
	return cap_buf;
}

#endif
