# The xensim xenstore server: cmocka units, and Debian's unmodified
# test-xenstore (plus xenstore-* tools if present) against unit/xs_standalone.
XS_TEST_LIBS = $(top_builddir)/hyp/sim/libxensimd.a $(CMOCKA_LIBS)
XS_TEST_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)

check_PROGRAMS += unit/test_xs_tree unit/test_xs_txn unit/test_xs_watch \
	unit/test_xs_quota unit/test_xs_wire unit/xs_standalone
TESTS += unit/test_xs_tree unit/test_xs_txn unit/test_xs_watch \
	unit/test_xs_quota unit/test_xs_wire unit/xs_test_xenstore.sh
EXTRA_DIST += unit/xs_test_xenstore.sh unit/test_xs_util.h

unit_test_xs_tree_SOURCES = unit/test_xs_tree.c unit/test_xs_util.h
unit_test_xs_tree_CFLAGS = $(XS_TEST_CFLAGS)
unit_test_xs_tree_LDADD = $(XS_TEST_LIBS)
unit_test_xs_txn_SOURCES = unit/test_xs_txn.c unit/test_xs_util.h
unit_test_xs_txn_CFLAGS = $(XS_TEST_CFLAGS)
unit_test_xs_txn_LDADD = $(XS_TEST_LIBS)
unit_test_xs_watch_SOURCES = unit/test_xs_watch.c unit/test_xs_util.h
unit_test_xs_watch_CFLAGS = $(XS_TEST_CFLAGS)
unit_test_xs_watch_LDADD = $(XS_TEST_LIBS)
unit_test_xs_quota_SOURCES = unit/test_xs_quota.c unit/test_xs_util.h
unit_test_xs_quota_CFLAGS = $(XS_TEST_CFLAGS)
unit_test_xs_quota_LDADD = $(XS_TEST_LIBS)
unit_test_xs_wire_SOURCES = unit/test_xs_wire.c unit/test_xs_util.h
unit_test_xs_wire_CFLAGS = $(XS_TEST_CFLAGS)
unit_test_xs_wire_LDADD = $(XS_TEST_LIBS)
unit_xs_standalone_SOURCES = unit/xs_standalone.c
unit_xs_standalone_LDADD = $(top_builddir)/hyp/sim/libxensimd.a
