/* xensim: the simulated Xen host's command line, mirroring xl. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
        "usage: xensim COMMAND [ARGS]\n"
        "  up                           start the simulated host (idempotent)\n"
        "  create FILE.cfg [-- CMD...]  create a domain from an xl.cfg file; CMD (or kernel=\n"
        "                               and cmdline= of the file) is its first process;\n"
        "                               prints the domid\n"
        "  exec DOMAIN -- CMD...        run CMD inside DOMAIN (name or id; 0 is dom0) with\n"
        "                               this terminal's stdio; exits with CMD's status\n"
        "  list [--json]                list domains, like xl list\n"
        "  console DOMAIN               print the domain's console log\n"
        "  destroy DOMAIN               end every process of DOMAIN, like xl destroy\n"
        "  down                         stop the host and every domain in it\n"
        "XENSIM_DIR selects the host's state folder (default /run/xensim);\n"
        "XENSIM_TIMEOUT bounds the wait for its daemon (seconds, default 30).\n");
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {
        { "up", cmd_up },           { "down", cmd_down },
        { "create", cmd_create },   { "exec", cmd_exec },
        { "list", cmd_list },       { "destroy", cmd_destroy },
        { "console", cmd_console },
    };
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
        !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        if (!strcmp(argv[1], cmds[i].name))
            return cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "xensim: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
