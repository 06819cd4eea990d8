/* xensim daemon: control-socket request arguments (see ctl_parse.h). */
#include "ctl_parse.h"
#include "dom_names.h"
#include "strmsg.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ctl_parse_u32(const char *s, uint32_t max, uint32_t *out)
{
    char *end;
    /* strtoul alone would take blanks and a sign: "-4294967295" is 1. */
    if (*s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v > max)
        return -EINVAL;
    *out = (uint32_t)v;
    return 0;
}

int ctl_split_command(char **argv, int argc, int i, const char **cwd,
                      char ***cargv, char ***envp)
{
    uint32_t nargs;
    if (argc - i < 3 || ctl_parse_u32(argv[i + 1], STRMSG_MAX_ARGS, &nargs) ||
        nargs < 1 || (int)nargs > argc - i - 2)
        return -EINVAL;
    *cwd = argv[i];
    int nenv = argc - i - 2 - (int)nargs;
    char **a = calloc(nargs + 1, sizeof(char *));
    char **e = calloc((size_t)nenv + 1, sizeof(char *));
    if (!a || !e) {
        free(a);
        free(e);
        return -ENOMEM;
    }
    memcpy(a, &argv[i + 2], nargs * sizeof(char *));
    memcpy(e, &argv[i + 2 + nargs], (size_t)nenv * sizeof(char *));
    *cargv = a;
    *envp = e;
    return 0;
}

static int bad(char *msg, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int bad(char *msg, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, len, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* One KEY=VALUE (cut at its '=' already) into cr. */
static int setting(struct ctl_create *cr, const char *k, const char *v, char *msg,
                   size_t len)
{
    struct domain_params *p = &cr->p;
    int r = 0;
    if (!strcmp(k, "name")) {
        /* First, so that the message below never prints one. */
        size_t at = dom_control_char_at(v);
        if (at)
            return bad(msg, len, "create: name has a control character at position %zu",
                       at);
        if (!*v || strlen(v) >= sizeof(p->name) || strchr(v, '/'))
            return bad(msg, len,
                       "name '%s' is not a valid domain name (1-%zu characters, no '/')",
                       v, sizeof(p->name) - 1);
        snprintf(p->name, sizeof(p->name), "%s", v);
    } else if (!strcmp(k, "uuid")) {
        r = dom_uuid_parse(v, p->uuid);
        p->has_uuid = true;
    } else if (!strcmp(k, "max_grant_frames"))
        r = ctl_parse_u32(v, 4096, &p->max_grant_frames);
    else if (!strcmp(k, "max_event_channels"))
        r = ctl_parse_u32(v, 131072, &p->max_event_channels);
    else if (!strcmp(k, "max_fds"))
        r = ctl_parse_u32(v, UINT32_MAX, &p->max_fds);
    else if (!strcmp(k, "console_limit"))
        r = ctl_parse_u32(v, UINT32_MAX, &p->console_limit);
    else if (!strcmp(k, "memory"))
        r = ctl_parse_u32(v, 1u << 30, &p->memory_mb);
    else if (!strcmp(k, "vcpus"))
        r = ctl_parse_u32(v, 512, &p->vcpus);
    else if (!strcmp(k, "console"))
        cr->console = v;
    else
        return bad(msg, len, "create: unknown setting '%s'", k);
    if (r)
        return bad(msg, len, "create: bad value '%s' for %s", v, k);
    return 0;
}

int ctl_parse_create(char **argv, int argc, struct ctl_create *cr, char *msg,
                     size_t msglen)
{
    *cr = (struct ctl_create){ 0 };
    int i = 1;
    for (; i < argc && strcmp(argv[i], "--"); i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq)
            return bad(msg, msglen, "create: malformed setting '%s'", argv[i]);
        *eq = '\0';
        int r = setting(cr, argv[i], eq + 1, msg, msglen);
        if (r)
            return r;
    }
    if (!cr->p.name[0])
        return bad(msg, msglen, "create: name= is required");
    if (i < argc) {
        int r = ctl_split_command(argv, argc, i + 1, &cr->cwd, &cr->argv, &cr->envp);
        if (r == -ENOMEM) {
            snprintf(msg, msglen, "create: %s", strerror(ENOMEM));
            return r;
        }
        if (r)
            return bad(msg, msglen, "create: malformed command");
    }
    return 0;
}

void ctl_create_free(struct ctl_create *cr)
{
    free(cr->argv);
    free(cr->envp);
    cr->argv = cr->envp = NULL;
}
