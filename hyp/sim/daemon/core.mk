# The daemon's core (loop, identity, domains, monitor, control socket); the
# tables add their sources with += in xs.mk and tables.mk.
noinst_LIBRARIES += libxensimd.a
libxensimd_a_CFLAGS = $(AM_CFLAGS) -fPIC $(XENSTORE_CFLAGS)
libxensimd_a_SOURCES = \
	strmsg.c strmsg.h \
	daemon/loop.c daemon/loop.h \
	daemon/ident.c daemon/ident.h \
	daemon/domain.c daemon/domain.h daemon/domain_ops.h \
	daemon/dom_isolate.c daemon/dom_isolate.h \
	daemon/dom_cgroup.c daemon/dom_cgroup.h \
	daemon/dom_seccomp.c daemon/dom_seccomp.h \
	daemon/monitor.c daemon/monitor.h \
	daemon/ctl.c daemon/ctl.h \
	daemon/console.c daemon/console.h \
	daemon/ctl_parse.c daemon/ctl_parse.h \
	daemon/dom_names.c daemon/dom_names.h \
	daemon/main.c daemon/xensimd.h \
	daemon/fd_budget.c daemon/fd_budget.h \
	daemon/fd_accept.c daemon/fd_accept.h daemon/ratelimit.h
