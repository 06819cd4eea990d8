/* xensim CLI: read an xl.cfg with libxlutil, the parser xl itself uses. */
#include "cli.h"

#include <errno.h>
#include <libxlutil.h>
#include <stdio.h>
#include <string.h>

static void get_str(XLU_Config *c, const char *key, char *out, size_t len)
{
    const char *v;
    if (!xlu_cfg_get_string(c, key, &v, 0))
        snprintf(out, len, "%s", v);
}

static void get_long(XLU_Config *c, const char *key, long *out)
{
    long v;
    if (!xlu_cfg_get_long(c, key, &v, 0))
        *out = v;
}

int cli_cfg_read(const char *path, struct cli_cfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    /* libxlutil reports syntax errors (file:line) on the stream we give it. */
    XLU_Config *c = xlu_cfg_init(stderr, path);
    if (!c)
        return -ENOMEM;
    int r = xlu_cfg_readfile(c, path);
    if (r) {
        if (r == ENOENT || r == EACCES)
            fprintf(stderr, "xensim: cannot read %s: %s\n", path, strerror(r));
        else
            fprintf(stderr, "xensim: %s is not a valid xl.cfg file\n", path);
        xlu_cfg_destroy(c);
        return -(r > 0 ? r : EINVAL);
    }
    get_str(c, "name", cfg->name, sizeof(cfg->name));
    get_str(c, "uuid", cfg->uuid, sizeof(cfg->uuid));
    get_str(c, "kernel", cfg->kernel, sizeof(cfg->kernel));
    /* xl takes extra= as the kernel command line too. */
    get_str(c, "extra", cfg->cmdline, sizeof(cfg->cmdline));
    get_str(c, "cmdline", cfg->cmdline, sizeof(cfg->cmdline));
    get_long(c, "memory", &cfg->memory);
    get_long(c, "vcpus", &cfg->vcpus);
    get_long(c, "max_grant_frames", &cfg->max_grant_frames);
    get_long(c, "max_event_channels", &cfg->max_event_channels);
    get_long(c, "xensim_max_fds", &cfg->max_fds);
    xlu_cfg_destroy(c);
    if (!cfg->name[0]) {
        fprintf(stderr, "xensim: %s: name= is required\n", path);
        return -EINVAL;
    }
    return 0;
}
