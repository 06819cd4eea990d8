# The xensim program: CLI and (for `xensim up`) the daemon itself.
bin_PROGRAMS += xensim
xensim_SOURCES = cli/main.c cli/cli.h cli/client.c cli/cfg.c \
	cli/cmd_host.c cli/cmd_domain.c cli/cmd_exec.c \
	cli/stdio_relay.c cli/stdio_relay.h
xensim_CFLAGS = $(AM_CFLAGS) $(XLUTIL_CFLAGS)
xensim_LDADD = libxensimd.a $(XLUTIL_LIBS)
man_MANS = xensim.1
EXTRA_DIST += xensim.1
