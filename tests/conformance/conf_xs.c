/* conf-xs: the few xenstore operations a scenario makes from dom0, with the
 * raw libxenstore (so that scenarios need no xenstore-utils in dom0).
 *
 *   conf-xs write PATH VALUE     conf-xs read PATH     conf-xs rm PATH
 * Exit 0 on success; on failure the error is on stderr and the exit is 1. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenstore.h>

int main(int argc, char **argv)
{
    struct xs_handle *xs;
    bool ok = false;

    if (argc < 3 || (!strcmp(argv[1], "write") ? argc != 4 : argc != 3)) {
        fprintf(stderr, "usage: %s write PATH VALUE | read PATH | rm PATH\n", argv[0]);
        return 2;
    }
    xs = xs_open(0);
    if (!xs) {
        fprintf(stderr, "conf-xs: xs_open: %s\n", strerror(errno));
        return 1;
    }
    if (!strcmp(argv[1], "write")) {
        ok = xs_write(xs, XBT_NULL, argv[2], argv[3], strlen(argv[3]));
    } else if (!strcmp(argv[1], "read")) {
        char *v = xs_read(xs, XBT_NULL, argv[2], NULL);

        if (v)
            printf("%s\n", v);
        ok = v != NULL;
        free(v);
    } else if (!strcmp(argv[1], "rm")) {
        ok = xs_rm(xs, XBT_NULL, argv[2]);
    } else {
        errno = EINVAL;
    }
    if (!ok)
        fprintf(stderr, "conf-xs: %s %s: %s\n", argv[1], argv[2], strerror(errno));
    xs_close(xs);
    return ok ? 0 : 1;
}
