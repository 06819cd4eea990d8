/* SPDX-License-Identifier: MIT */
/* libFuzzer target: `xensim create FILE.cfg` reading an xl.cfg
 * (hyp/sim/cli/cfg.c over libxlutil, the parser xl itself uses).  The
 * input is the file's contents, given to cli_cfg_parse() as cli_cfg_read()
 * does once it has read them.
 *
 * A config read is one the daemon may be asked for: a name of 1-63
 * characters without a control character or '/' (dom_names.c's rules,
 * checked again here), a UUID that is empty or 8-4-4-4-12 hex digits,
 * every string ending inside its field, every number absent (0) or within
 * the bounds the daemon's ctl_parse.c takes and above 0 (0 is the
 * daemon's "not given").  A refusal is an -errno with a message on stderr
 * naming the file and, unless the file is not text or does not parse at
 * all, the key; for a number, also the range it takes.  Never a crash: libxlutil itself aborts
 * on some files (a NUL inside a string), which cfg.c must keep from it.
 * A violation abort()s. */
#include "config.h"
#include "fuzz_names.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fuzz_stderr.h"

#define FAIL(...) do { \
	cap_end(); \
	fprintf(stderr, "fuzz_xl_cfg: " __VA_ARGS__); \
	fputc('\n', stderr); \
	abort(); \
} while (0)

#define PATH "in.cfg"

/* Xen 4.17's parser drops the values it built for a file that does not
 * parse: libxlutil's leaks, not cfg.c's.  A config cfg.c fails to destroy
 * still shows (xlu_cfg_init and the settings it keeps are not listed). */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:xlu__cfg_string_mk\n"
	       "leak:xlu__cfg_list_mk\n"
	       "leak:xlu__cfg_list_append\n"
	       "leak:xlu__cfgl_strdup\n"
	       "leak:xlu__cfgl_dequote\n";
}

/* Nor a table of them after every leak check, all through the log. */
const char *__lsan_default_options(void);
const char *__lsan_default_options(void)
{
	return "print_suppressions=0";
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

static bool ok_uuid(const char *v)
{
	if (strlen(v) != 36)
		return false;
	for (unsigned i = 0; i < 36; i++)
		if (i == 8 || i == 13 || i == 18 || i == 23 ? v[i] != '-'
							   : !is_hex(v[i]))
			return false;
	return true;
}

/* A number's key as a refusal names it, and its largest value. */
static const struct {
	const char *key;
	long max;
} nums[] = {
	{ "memory=", 1L << 30 },
	{ "vcpus=", 512 },
	{ "max_grant_frames=", 4096 },
	{ "max_event_channels=", 131072 },
	{ "xensim_max_fds=", 4294967295L },
	{ "xensim_console_limit=", 4294967295L },
};

/* The message starts "xensim: FILE: KEY=": any key cfg.c reads. */
static bool named_key(const char *msg)
{
	const char *p = "xensim: " PATH ": ";
	size_t n = strlen(p), k;

	if (strncmp(msg, p, n))
		return false;
	k = strspn(msg + n, "abcdefghijklmnopqrstuvwxyz0123456789_");
	return k && msg[n + k] == '=';
}

static void check_num(const char *key, long v, long max)
{
	if (v < 0 || v > max)
		FAIL("accepted %s%ld (at most %ld)", key, v, max);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const keys[] = { "name=", "uuid=", "kernel=",
		"extra=", "cmdline=" };
	static struct cli_cfg cfg;
	const char *msg;
	bool key = false;
	int r;

	cap_begin();
	r = cli_cfg_parse(PATH, (const char *)data, size, &cfg);
	msg = cap_end();
	if (r > 0 || r < -4095)
		FAIL("cli_cfg_parse: %d", r);
	if (r) {
		if (!strstr(msg, PATH))
			FAIL("refused (%d) without naming the file: '%s'", r, msg);
		for (unsigned i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			key |= strstr(msg, keys[i]) != NULL;
		key |= named_key(msg);
		/* Only at the key's place: a value quoted in the message
		 * may spell another key. */
		for (unsigned i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
			char want[64];

			snprintf(want, sizeof(want), "xensim: %s: %s", PATH,
				 nums[i].key);
			if (strncmp(msg, want, strlen(want)))
				continue;
			snprintf(want, sizeof(want), "(accepted: 1 to %ld)\n",
				 nums[i].max);
			if (!strstr(msg, want))
				FAIL("refused %s without its range: '%s'",
				     nums[i].key, msg);
			key = true;
		}
		if (!key && !strstr(msg, "is not a valid xl.cfg file") &&
		    !strstr(msg, "not a text file"))
			FAIL("refused (%d) without naming the key: '%s'", r, msg);
		return 0;
	}
	if (!fuzz_name_ok(cfg.name))
		FAIL("accepted the name '%.64s'", cfg.name);
	if (cfg.uuid[0] && !ok_uuid(cfg.uuid))
		FAIL("accepted the uuid '%.64s'", cfg.uuid);
	if (strnlen(cfg.uuid, sizeof(cfg.uuid)) == sizeof(cfg.uuid) ||
	    strnlen(cfg.kernel, sizeof(cfg.kernel)) == sizeof(cfg.kernel) ||
	    strnlen(cfg.cmdline, sizeof(cfg.cmdline)) == sizeof(cfg.cmdline))
		FAIL("a string runs past its field");
	check_num(nums[0].key, cfg.memory, nums[0].max);
	check_num(nums[1].key, cfg.vcpus, nums[1].max);
	check_num(nums[2].key, cfg.max_grant_frames, nums[2].max);
	check_num(nums[3].key, cfg.max_event_channels, nums[3].max);
	check_num(nums[4].key, cfg.max_fds, nums[4].max);
	check_num(nums[5].key, cfg.console_limit, nums[5].max);
	return 0;
}
