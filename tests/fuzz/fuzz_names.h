/* The fuzz targets' own model of a domain name (not dom_names.c's code,
 * which they check): 1 to 63 bytes, no control character, no '/'. */
#ifndef VIPC_FUZZ_NAMES_H
#define VIPC_FUZZ_NAMES_H

#include <stdbool.h>
#include <string.h>

static inline bool fuzz_name_ok(const char *v)
{
	size_t n = strnlen(v, 64);

	if (n < 1 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f || v[i] == '/')
			return false;
	return true;
}

#endif
