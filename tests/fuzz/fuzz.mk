# Fuzz targets, run for a bounded time in `make check` when configure found
# clang (libFuzzer).  FUZZ_TIME=seconds overrides the default of 30.
if HAVE_CLANG
FUZZ_VCHAN_SRCS = \
	$(top_srcdir)/libvchan-cap/layout.c \
	$(top_srcdir)/libvchan-cap/ring.c \
	$(top_srcdir)/libvchan-cap/frame.c \
	$(top_srcdir)/libvchan-cap/spin.c \
	$(top_srcdir)/libvchan-cap/wait.c \
	$(top_srcdir)/libvchan-cap/log.c \
	$(top_srcdir)/libvchan-cap/lock.c \
	$(top_srcdir)/libvchan-cap/endpoint.c \
	$(top_srcdir)/libvchan-cap/send.c \
	$(top_srcdir)/libvchan-cap/recv.c \
	$(top_srcdir)/libvchan-cap/stream.c
FUZZ_CFLAGS = -std=gnu11 -g -O1 -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined

fuzz_vchan_peer$(EXEEXT): $(srcdir)/fuzz/fuzz_vchan_peer.c \
		$(FUZZ_VCHAN_SRCS) $(top_srcdir)/libvchan-cap/vchan_priv.h
	$(AM_V_CC)$(CLANG) $(FUZZ_CFLAGS) -I$(top_builddir) \
		-I$(top_srcdir)/libvchan-cap \
		-I$(top_srcdir)/libvchan-cap/include \
		$(srcdir)/fuzz/fuzz_vchan_peer.c $(FUZZ_VCHAN_SRCS) \
		-lpthread -o $@

# Built before the tests run (check_DATA), run by the wrapper script.
check_DATA += fuzz_vchan_peer$(EXEEXT)
TESTS += fuzz/fuzz_vchan_peer.sh
CLEANFILES += fuzz_vchan_peer$(EXEEXT)
endif
EXTRA_DIST += fuzz/fuzz_vchan_peer.c fuzz/fuzz_vchan_peer.sh
