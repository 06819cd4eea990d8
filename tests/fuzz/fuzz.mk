# Fuzz targets, run for a bounded time in `make check` when configure found
# clang (libFuzzer).  FUZZ_TIME=seconds overrides the default of 30.
if HAVE_CLANG
FUZZ_VCHAN_SRCS = $(VCHAN_CORE_SOURCES)
FUZZ_PAIR_SRCS = $(VCHAN_CORE_SOURCES) \
	$(top_srcdir)/libvchan-cap/transport_shm.c
FUZZ_CFLAGS = -std=gnu11 -g -O1 -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined

FUZZ_VCHAN_CC = $(CLANG) $(FUZZ_CFLAGS) -I$(top_builddir) \
	-I$(top_srcdir)/libvchan-cap -I$(top_srcdir)/libvchan-cap/include
FUZZ_VCHAN_DEPS = $(srcdir)/fuzz/fuzz_input.h \
	$(top_srcdir)/libvchan-cap/vchan_priv.h

fuzz_vchan_peer$(EXEEXT): $(srcdir)/fuzz/fuzz_vchan_peer.c $(FUZZ_VCHAN_SRCS) \
		$(FUZZ_VCHAN_DEPS)
	$(AM_V_CC)$(FUZZ_VCHAN_CC) $(srcdir)/fuzz/fuzz_vchan_peer.c \
		$(FUZZ_VCHAN_SRCS) -lpthread -o $@

# Both ends the library's own, against a model of what delivery promises.
fuzz_vchan_pair$(EXEEXT): $(srcdir)/fuzz/fuzz_vchan_pair.c $(FUZZ_PAIR_SRCS) \
		$(FUZZ_VCHAN_DEPS)
	$(AM_V_CC)$(FUZZ_VCHAN_CC) $(srcdir)/fuzz/fuzz_vchan_pair.c \
		$(FUZZ_PAIR_SRCS) -lpthread -o $@

# The xenstore server (hyp/sim/daemon/xs.mk's list) and the loop it links
# against; ident is stubbed in the target.
FUZZ_XS_DIR = $(top_srcdir)/hyp/sim/daemon
FUZZ_XS_SRCS = \
	$(FUZZ_XS_DIR)/xs_path.c \
	$(FUZZ_XS_DIR)/xs_store.c \
	$(FUZZ_XS_DIR)/xs_perms.c \
	$(FUZZ_XS_DIR)/xs_tree.c \
	$(FUZZ_XS_DIR)/xs_txn.c \
	$(FUZZ_XS_DIR)/xs_watch.c \
	$(FUZZ_XS_DIR)/xs_domain.c \
	$(FUZZ_XS_DIR)/xs_quota.c \
	$(FUZZ_XS_DIR)/xs_ops.c \
	$(FUZZ_XS_DIR)/xs_wire.c \
	$(FUZZ_XS_DIR)/xs_server.c \
	$(FUZZ_XS_DIR)/fd_accept.c \
	$(FUZZ_XS_DIR)/loop.c
FUZZ_XS_HDRS = \
	$(FUZZ_XS_DIR)/xs_core.h $(FUZZ_XS_DIR)/xs_server.h \
	$(FUZZ_XS_DIR)/xs_store.h $(FUZZ_XS_DIR)/xs_path.h \
	$(FUZZ_XS_DIR)/loop.h $(FUZZ_XS_DIR)/ident.h \
	$(FUZZ_XS_DIR)/fd_accept.h $(FUZZ_XS_DIR)/ratelimit.h

fuzz_xs_wire$(EXEEXT): $(srcdir)/fuzz/fuzz_xs_wire.c $(srcdir)/fuzz/fuzz_input.h \
		$(FUZZ_XS_SRCS) \
		$(FUZZ_XS_HDRS)
	$(AM_V_CC)$(CLANG) $(FUZZ_CFLAGS) -Wall -Wextra -Werror \
		-I$(top_builddir) -I$(FUZZ_XS_DIR) \
		$(srcdir)/fuzz/fuzz_xs_wire.c $(FUZZ_XS_SRCS) -o $@

# A client's liveness nodes: clean-up and claim (live_reap.c) against a
# hostile directory; the store is faked in the target.
FUZZ_LIVE_SRCS = $(top_srcdir)/libvchan-cap/live_reap.c \
	$(top_srcdir)/libvchan-cap/fork.c \
	$(top_srcdir)/libvchan-cap/lock_order.c \
	$(top_srcdir)/libvchan-cap/log.c
fuzz_live_nodes$(EXEEXT): $(srcdir)/fuzz/fuzz_live_nodes.c \
		$(srcdir)/fuzz/fuzz_input.h $(FUZZ_LIVE_SRCS) \
		$(top_srcdir)/libvchan-cap/live_reap.h \
		$(top_srcdir)/libvchan-cap/vchan_priv.h
	$(AM_V_CC)$(CLANG) $(FUZZ_CFLAGS) -D_GNU_SOURCE -Wall -Wextra -Werror \
		-I$(top_builddir) -I$(top_srcdir)/libvchan-cap \
		-I$(top_srcdir)/libvchan-cap/include \
		-I$(top_srcdir)/hyp/include \
		$(srcdir)/fuzz/fuzz_live_nodes.c $(FUZZ_LIVE_SRCS) \
		-lpthread -o $@

# Built before the tests run (check_DATA), run by the wrapper scripts.
check_DATA += fuzz_vchan_peer$(EXEEXT) fuzz_xs_wire$(EXEEXT) \
	fuzz_live_nodes$(EXEEXT) fuzz_vchan_pair$(EXEEXT)
TESTS += fuzz/fuzz_vchan_peer.sh fuzz/fuzz_xs_wire.sh \
	fuzz/fuzz_live_nodes.sh fuzz/fuzz_vchan_pair.sh
CLEANFILES += fuzz_vchan_peer$(EXEEXT) fuzz_xs_wire$(EXEEXT) \
	fuzz_live_nodes$(EXEEXT) fuzz_vchan_pair$(EXEEXT)
endif
EXTRA_DIST += fuzz/fuzz_run.sh fuzz/fuzz_input.h \
	fuzz/fuzz_vchan_peer.c fuzz/fuzz_vchan_peer.sh \
	fuzz/fuzz_xs_wire.c fuzz/fuzz_xs_wire.sh \
	fuzz/fuzz_live_nodes.c fuzz/fuzz_live_nodes.sh \
	fuzz/fuzz_vchan_pair.c fuzz/fuzz_vchan_pair.sh

# Hostile processes on xensim's hypervisor socket: the daemon's request
# handling and tables, driven in-process (fuzz_hypsock.c stands in for the
# domain table).
if HAVE_CLANG
FUZZ_HYPSOCK_SRCS = \
	$(top_srcdir)/hyp/sim/daemon/hypsock.c \
	$(top_srcdir)/hyp/sim/daemon/evtchn_table.c \
	$(top_srcdir)/hyp/sim/daemon/grant_table.c \
	$(top_srcdir)/hyp/sim/daemon/fd_budget.c \
	$(top_srcdir)/hyp/sim/daemon/loop.c
FUZZ_HYPSOCK_HDRS = \
	$(top_srcdir)/hyp/sim/proto.h \
	$(top_srcdir)/hyp/sim/daemon/hypsock.h \
	$(top_srcdir)/hyp/sim/daemon/domain.h \
	$(top_srcdir)/hyp/sim/daemon/evtchn_table.h \
	$(top_srcdir)/hyp/sim/daemon/grant_table.h \
	$(top_srcdir)/hyp/sim/daemon/fd_budget.h \
	$(top_srcdir)/hyp/sim/daemon/loop.h \
	$(top_srcdir)/hyp/sim/daemon/ratelimit.h

fuzz_hypsock$(EXEEXT): $(srcdir)/fuzz/fuzz_hypsock.c $(srcdir)/fuzz/fuzz_input.h \
		$(FUZZ_HYPSOCK_SRCS) $(FUZZ_HYPSOCK_HDRS)
	$(AM_V_CC)$(CLANG) $(FUZZ_CFLAGS) -D_GNU_SOURCE -Wall -Wextra -Werror \
		-I$(top_builddir) -I$(top_srcdir)/hyp/sim \
		-I$(top_srcdir)/hyp/sim/daemon \
		$(srcdir)/fuzz/fuzz_hypsock.c $(FUZZ_HYPSOCK_SRCS) -o $@

check_DATA += fuzz_hypsock$(EXEEXT)
TESTS += fuzz/fuzz_hypsock.sh
CLEANFILES += fuzz_hypsock$(EXEEXT)
endif
EXTRA_DIST += fuzz/fuzz_hypsock.c fuzz/fuzz_hypsock.sh

# Readers of text others wrote, outside the daemon's sockets: vipc-bench's
# result rows and option lists (tools/bench_util.c), xensim's control
# requests as the daemon splits and reads them (strmsg.c, ctl_parse.c,
# dom_names.c), and xensim create's xl.cfg (cli/cfg.c over libxlutil).
if HAVE_CLANG
FUZZ_WARN = -D_GNU_SOURCE -Wall -Wextra -Werror

FUZZ_BENCH_SRCS = $(top_srcdir)/tools/bench_util.c
fuzz_bench_args$(EXEEXT): $(srcdir)/fuzz/fuzz_bench_args.c \
		$(srcdir)/fuzz/fuzz_stderr.h $(FUZZ_BENCH_SRCS) \
		$(top_srcdir)/tools/bench.h
	$(AM_V_CC)$(CLANG) $(FUZZ_CFLAGS) $(FUZZ_WARN) -I$(top_builddir) \
		-I$(top_srcdir)/tools -I$(top_srcdir)/libvchan-cap/include \
		$(srcdir)/fuzz/fuzz_bench_args.c $(FUZZ_BENCH_SRCS) -lm -o $@

FUZZ_CTL_SRCS = \
	$(top_srcdir)/hyp/sim/strmsg.c \
	$(top_srcdir)/hyp/sim/proto_io.c \
	$(top_srcdir)/hyp/sim/daemon/ctl_parse.c \
	$(top_srcdir)/hyp/sim/daemon/dom_names.c
FUZZ_CTL_HDRS = \
	$(top_srcdir)/hyp/sim/strmsg.h \
	$(top_srcdir)/hyp/sim/proto.h \
	$(top_srcdir)/hyp/sim/daemon/ctl_parse.h \
	$(top_srcdir)/hyp/sim/daemon/domain_ops.h \
	$(top_srcdir)/hyp/sim/daemon/domain.h \
	$(top_srcdir)/hyp/sim/daemon/dom_names.h
fuzz_ctl_request$(EXEEXT): $(srcdir)/fuzz/fuzz_ctl_request.c $(srcdir)/fuzz/fuzz_names.h \
		$(FUZZ_CTL_SRCS) $(FUZZ_CTL_HDRS)
	$(AM_V_CC)$(CLANG) $(FUZZ_CFLAGS) $(FUZZ_WARN) -I$(top_builddir) \
		-I$(top_srcdir)/hyp/sim -I$(top_srcdir)/hyp/sim/daemon \
		$(srcdir)/fuzz/fuzz_ctl_request.c $(FUZZ_CTL_SRCS) -o $@

FUZZ_CFG_SRCS = $(top_srcdir)/hyp/sim/cli/cfg.c \
	$(top_srcdir)/hyp/sim/daemon/dom_names.c
fuzz_xl_cfg$(EXEEXT): $(srcdir)/fuzz/fuzz_xl_cfg.c $(srcdir)/fuzz/fuzz_names.h \
		$(srcdir)/fuzz/fuzz_stderr.h $(FUZZ_CFG_SRCS) \
		$(top_srcdir)/hyp/sim/cli/cli.h $(top_srcdir)/hyp/sim/strmsg.h \
		$(top_srcdir)/hyp/sim/daemon/dom_names.h
	$(AM_V_CC)$(CLANG) $(FUZZ_CFLAGS) $(FUZZ_WARN) $(XLUTIL_CFLAGS) \
		-I$(top_builddir) -I$(top_srcdir)/hyp/sim \
		-I$(top_srcdir)/hyp/sim/cli -I$(top_srcdir)/hyp/sim/daemon \
		$(srcdir)/fuzz/fuzz_xl_cfg.c $(FUZZ_CFG_SRCS) $(XLUTIL_LIBS) -o $@

check_DATA += fuzz_bench_args$(EXEEXT) fuzz_ctl_request$(EXEEXT) \
	fuzz_xl_cfg$(EXEEXT)
TESTS += fuzz/fuzz_bench_args.sh fuzz/fuzz_ctl_request.sh fuzz/fuzz_xl_cfg.sh
CLEANFILES += fuzz_bench_args$(EXEEXT) fuzz_ctl_request$(EXEEXT) \
	fuzz_xl_cfg$(EXEEXT)
endif
EXTRA_DIST += fuzz/fuzz_stderr.h fuzz/fuzz_names.h \
	fuzz/fuzz_bench_args.c fuzz/fuzz_bench_args.sh \
	fuzz/fuzz_ctl_request.c fuzz/fuzz_ctl_request.sh \
	fuzz/fuzz_xl_cfg.c fuzz/fuzz_xl_cfg.sh
