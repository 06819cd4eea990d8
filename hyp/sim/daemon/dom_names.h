/* xensim: what a domain's name and UUID may be, for the CLI (which reads
 * them from an xl.cfg) and the daemon (which takes them from any client). */
#ifndef XENSIM_DOM_NAMES_H
#define XENSIM_DOM_NAMES_H

#include <stddef.h>
#include <stdint.h>

/* Exactly 8-4-4-4-12 hex digits, as libuuid's uuid_parse (and so xl) takes
 * them: 0 and the 16 bytes in out (NULL: only check), or -EINVAL. */
int dom_uuid_parse(const char *s, uint8_t out[16]);
/* 1-based position of the first control character in s, 0 if none: such a
 * name would break list's tab-separated rows and every terminal. */
size_t dom_control_char_at(const char *s);

#endif
