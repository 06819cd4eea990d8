/* xensim xenstore: path rules, as xenstored applies them (docs/misc/
 * xenstore.txt): absolute or relative to /local/domain/<domid>; only
 * [A-Za-z0-9-/_@]; no "//", no trailing "/"; at most max_abs_len bytes,
 * and at most XENSTORE_REL_PATH_MAX below a domain's home. */
#include "xs_path.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <xen/io/xs_wire.h>

static bool valid_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '/' || c == '_' ||
           c == '@';
}

/* Length of "/local/domain/<domid>/" at the start of path, else 0: the
 * relative-length limit applies below it. */
static size_t home_prefix_len(const char *path)
{
    static const char pre[] = "/local/domain/";
    size_t i = sizeof(pre) - 1;
    if (strncmp(path, pre, i) != 0)
        return 0;
    size_t digits = 0;
    while (path[i] >= '0' && path[i] <= '9' && digits < 5) {
        i++;
        digits++;
    }
    if (!digits || path[i] != '/')
        return 0;
    return i + 1;
}

bool xs_path_valid(const char *path, unsigned max_abs_len)
{
    size_t len = strlen(path);
    if (len == 0 || path[0] != '/')
        return false;
    if (len > 1 && path[len - 1] == '/')
        return false;
    if (strstr(path, "//"))
        return false;
    if (len > max_abs_len)
        return false;
    if (len - home_prefix_len(path) > XENSTORE_REL_PATH_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!valid_char(path[i]))
            return false;
    return true;
}

int xs_path_canonical(uint32_t domid, const char *in, unsigned max_abs_len,
                      char *out, size_t outsz, bool *relative)
{
    /* xenstored leaves "@..." as it is, not a node's name: EINVAL. */
    if (in[0] == '@')
        return -EINVAL;
    bool rel = in[0] != '/';
    int n = rel ? snprintf(out, outsz, "/local/domain/%u/%s", domid, in)
                : snprintf(out, outsz, "%s", in);
    if (n < 0 || (size_t)n >= outsz)
        return -EINVAL;
    if (relative)
        *relative = rel;
    /* An empty relative path would name the home with a trailing "/". */
    if (!xs_path_valid(out, max_abs_len))
        return -EINVAL;
    return 0;
}

bool xs_path_is_child(const char *child, const char *parent)
{
    if (strcmp(parent, "/") == 0)
        return true;
    size_t len = strlen(parent);
    return strncmp(child, parent, len) == 0 &&
           (child[len] == '/' || child[len] == '\0');
}

void xs_path_parent(const char *path, char *out, size_t outsz)
{
    const char *slash = strrchr(path, '/');
    size_t len = slash ? (size_t)(slash - path) : 0;
    if (len == 0)
        len = 1; /* parent of "/x" is "/" */
    if (len >= outsz)
        len = outsz - 1;
    memcpy(out, path, len);
    out[len] = '\0';
}

const char *xs_path_base(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

bool xs_path_is_special(const char *path)
{
    return strcmp(path, "@introduceDomain") == 0 ||
           strcmp(path, "@releaseDomain") == 0;
}
