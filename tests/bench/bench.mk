# Benchmarks (never timed tests): `make bench` prints tables and JSON.
noinst_PROGRAMS += bench/bench-evtchn bench/bench-grant
bench_bench_evtchn_SOURCES = bench/bench_evtchn.c bench/bench_stats.c bench/bench_stats.h
bench_bench_evtchn_CFLAGS = $(AM_CFLAGS) $(XENEVTCHN_CFLAGS)
bench_bench_evtchn_LDADD = $(XENEVTCHN_LIBS)
bench_bench_grant_SOURCES = bench/bench_grant.c bench/bench_stats.c bench/bench_stats.h
bench_bench_grant_CFLAGS = $(AM_CFLAGS) $(XENGNTTAB_CFLAGS)
bench_bench_grant_LDADD = $(XENGNTTAB_LIBS)
EXTRA_DIST += bench/xensim-bench.sh

# The bare ring peer of vipc-bench runs and frames correctly, and xensim's
# own benchmark programs run (not timed).
TESTS += bench/bench-smoke.sh bench/xensim-bench-smoke.sh
EXTRA_DIST += bench/bench-smoke.sh bench/xensim-bench-smoke.sh
# The bare ring against vipc's wire: quarter-ring pieces, and batches
# as runs that libvchan-cap's own checks parse.
check_PROGRAMS += bench/test_bench_ring
TESTS += bench/test_bench_ring
bench_test_bench_ring_SOURCES = bench/test_bench_ring.c \
	$(top_srcdir)/tools/bench_ring.c $(top_srcdir)/tools/bench_util.c \
	$(top_srcdir)/tools/bench.h
bench_test_bench_ring_CPPFLAGS = $(VCHAN_UNIT_CPPFLAGS) -I$(top_srcdir)/tools
bench_test_bench_ring_LDADD = $(VCHAN_UNIT_LDADD) -lm

bench-xensim: bench/bench-evtchn bench/bench-grant
	XENSIM=$(abs_top_builddir)/hyp/sim/xensim BENCH_BIN=$(abs_builddir)/bench \
		$(srcdir)/bench/xensim-bench.sh $(BENCH_FLAGS)
bench: bench-xensim
.PHONY: bench bench-xensim

# vipc-bench (tools/): the data channel between two xensim domains against
# libxenvchan, pipe, AF_UNIX, eventfd, busy-polling, the bare ring and memcpy.
bench-channel:
	XENSIM=$(abs_top_builddir)/hyp/sim/xensim $(top_builddir)/tools/vipc-bench channel $(BENCH_FLAGS)
bench: bench-channel
.PHONY: bench-channel
