# (filled by its owner)
# The daemon loop's timers and a listener's back-off (loop.c, fd_accept.c).
check_PROGRAMS += unit/test_loop
TESTS += unit/test_loop
unit_test_loop_SOURCES = unit/test_loop.c
unit_test_loop_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
unit_test_loop_LDADD = $(top_builddir)/hyp/sim/libxensimd.a $(CMOCKA_LIBS)
# Fails the reopen of the spare descriptor (/dev/null) on demand.
unit_test_loop_LDFLAGS = -Wl,--wrap=open
# Who is on the other end of a socket (ident.c) when SO_PEERPIDFD fails: the
# test's own getsockopt fails it on demand (the real one through dlsym).
check_PROGRAMS += unit/test_ident
TESTS += unit/test_ident
unit_test_ident_SOURCES = unit/test_ident.c
unit_test_ident_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
unit_test_ident_LDADD = $(top_builddir)/hyp/sim/libxensimd.a $(CMOCKA_LIBS) -ldl
