/* xensim CLI: read an xl.cfg with libxlutil, the parser xl itself uses. */
#include "cli.h"
#include "dom_names.h"

#include <errno.h>
#include <libxlutil.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A value that does not fit is refused, never cut: a cut name hides the
 * daemon's own limit, a cut kernel= or cmdline= runs another command. */
static int get_str(XLU_Config *c, const char *path, const char *key, char *out,
                   size_t len)
{
    const char *v;
    int r = xlu_cfg_get_string(c, key, &v, 1);
    if (r == ESRCH)
        return 0;
    if (r) {
        fprintf(stderr, "xensim: %s: %s= must be a single string\n", path, key);
        return -EINVAL;
    }
    size_t n = strlen(v);
    if (n >= len) {
        fprintf(stderr, "xensim: %s: %s= is too long (%zu characters; at most %zu)\n",
                path, key, n, len - 1);
        return -ENAMETOOLONG;
    }
    memcpy(out, v, n + 1);
    return 0;
}

static int check_name(const char *path, const char *name)
{
    size_t at = dom_control_char_at(name);
    if (at) {
        fprintf(stderr, "xensim: %s: name= has a control character (0x%02x) at position %zu\n",
                path, (unsigned char)name[at - 1], at);
        return -EINVAL;
    }
    for (size_t i = 0; name[i]; i++) {
        if (name[i] == '/') {
            fprintf(stderr, "xensim: %s: name= may not contain '/' (position %zu)\n",
                    path, i + 1);
            return -EINVAL;
        }
    }
    return 0;
}

/* The daemon's bounds (ctl_parse.c), so that what passes here passes there.
 * 0 is the daemon's "not given", so a 0 in the file is refused, not sent. */
#define MEMORY_MAX (1L << 30) /* MiB */
#define VCPUS_MAX 512L
#define GRANT_FRAMES_MAX 4096L
#define EVENT_CHANNELS_MAX 131072L
#if LONG_MAX > UINT32_MAX
#define MAX_FDS_MAX ((long)UINT32_MAX)
#else
#define MAX_FDS_MAX LONG_MAX
#endif
#define CONSOLE_LIMIT_MAX MAX_FDS_MAX /* bytes; a u32 in the daemon too */

/* A value as the message shows it: cut, and no control character that
 * would reach the terminal. */
static void show(const char *v, char *out, size_t len)
{
    size_t i = 0;
    for (; v[i] && i + 4 < len; i++)
        out[i] = (unsigned char)v[i] < 0x20 || v[i] == 0x7f ? '?' : v[i];
    if (v[i])
        memcpy(out + i, "...", 4);
    else
        out[i] = '\0';
}

/* A number xl reads (strtol base 0: 0x and 0 prefixes too) in 1..max.
 * libxlutil only warns and leaves the default; we refuse, so that a typo
 * never starts a domain configured otherwise than the file says. */
static int get_num(XLU_Config *c, const char *path, const char *key, long max,
                   long *out)
{
    long v = 0;
    const char *s;
    int r = xlu_cfg_get_long(c, key, &v, 1);
    if (r == ESRCH)
        return 0;
    if (xlu_cfg_get_string(c, key, &s, 1)) {
        fprintf(stderr, "xensim: %s: %s= must be a single number (accepted: 1 to %ld)\n", path,
                key, max);
        return -EINVAL;
    }
    const char *what = r == ERANGE ? "is out of range"
                       : r         ? "is not a number"
                       : v < 0     ? "is negative"
                       : v == 0    ? "is zero"
                       : v > max   ? "is too large"
                                   : NULL;
    if (!what) {
        *out = v;
        return 0;
    }
    char shown[48];
    show(s, shown, sizeof(shown));
    fprintf(stderr, "xensim: %s: %s= '%s' %s (accepted: 1 to %ld)\n", path, key, shown,
            what, max);
    return -EINVAL;
}

/* An xl.cfg is a few hundred bytes: the bound keeps a wrong path (a disk
 * image, /dev/zero) from being read whole. */
#define CFG_MAX (1024 * 1024)

int cli_cfg_read(const char *path, struct cli_cfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    FILE *f = fopen(path, "r");
    if (!f) {
        int e = errno;
        fprintf(stderr, "xensim: cannot read %s: %s\n", path, strerror(e));
        return -e;
    }
    char *buf = malloc(CFG_MAX + 1);
    if (!buf) {
        fclose(f);
        return -ENOMEM;
    }
    size_t n = fread(buf, 1, CFG_MAX + 1, f);
    int e = ferror(f) ? (errno ? errno : EIO) : 0;
    fclose(f);
    int r;
    if (e) {
        fprintf(stderr, "xensim: cannot read %s: %s\n", path, strerror(e));
        r = -e;
    } else {
        r = cli_cfg_parse(path, buf, n, cfg);
    }
    free(buf);
    return r;
}

int cli_cfg_parse(const char *path, const char *data, size_t len, struct cli_cfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    if (len > CFG_MAX) {
        fprintf(stderr, "xensim: %s: too big for an xl.cfg (over %d bytes)\n", path,
                CFG_MAX);
        return -EFBIG;
    }
    /* libxlutil's lexer fails an assertion (and so aborts, xl too) on a
     * string with a NUL in it: no text file has one. */
    const char *nul = memchr(data, '\0', len);
    if (nul) {
        fprintf(stderr, "xensim: %s: not a text file (a NUL byte at offset %zu)\n", path,
                (size_t)(nul - data));
        return -EINVAL;
    }
    /* libxlutil reports syntax errors (file:line) on the stream we give it. */
    XLU_Config *c = xlu_cfg_init(stderr, path);
    if (!c)
        return -ENOMEM;
    int r = xlu_cfg_readdata(c, data, (int)len);
    if (r) {
        fprintf(stderr, "xensim: %s is not a valid xl.cfg file\n", path);
        xlu_cfg_destroy(c);
        return -(r > 0 ? r : EINVAL);
    }
    r = get_str(c, path, "name", cfg->name, sizeof(cfg->name));
    if (!r)
        r = get_str(c, path, "uuid", cfg->uuid, sizeof(cfg->uuid));
    if (!r)
        r = get_str(c, path, "kernel", cfg->kernel, sizeof(cfg->kernel));
    /* xl takes extra= as the kernel command line too. */
    if (!r)
        r = get_str(c, path, "extra", cfg->cmdline, sizeof(cfg->cmdline));
    if (!r)
        r = get_str(c, path, "cmdline", cfg->cmdline, sizeof(cfg->cmdline));
    if (r) {
        xlu_cfg_destroy(c);
        return r;
    }
    r = get_num(c, path, "memory", MEMORY_MAX, &cfg->memory);
    if (!r)
        r = get_num(c, path, "vcpus", VCPUS_MAX, &cfg->vcpus);
    if (!r)
        r = get_num(c, path, "max_grant_frames", GRANT_FRAMES_MAX, &cfg->max_grant_frames);
    if (!r)
        r = get_num(c, path, "max_event_channels", EVENT_CHANNELS_MAX,
                    &cfg->max_event_channels);
    if (!r)
        r = get_num(c, path, "xensim_max_fds", MAX_FDS_MAX, &cfg->max_fds);
    if (!r)
        r = get_num(c, path, "xensim_console_limit", CONSOLE_LIMIT_MAX, &cfg->console_limit);
    xlu_cfg_destroy(c);
    if (r)
        return r;
    if (!cfg->name[0]) {
        fprintf(stderr, "xensim: %s: name= is required\n", path);
        return -EINVAL;
    }
    if ((r = check_name(path, cfg->name)))
        return r;
    if (cfg->uuid[0] && dom_uuid_parse(cfg->uuid, NULL) < 0) {
        fprintf(stderr, "xensim: %s: uuid= '%s' is not a UUID (8-4-4-4-12 hex digits)\n",
                path, cfg->uuid);
        return -EINVAL;
    }
    return 0;
}
