# Unit tests of xensim's event-channel and grant tables (daemon side).
TABLES_TEST_LDADD = $(top_builddir)/hyp/sim/libxensimd.a $(CMOCKA_LIBS)
TABLES_TEST_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(XENEVTCHN_CFLAGS)

check_PROGRAMS += unit/test_evtchn_table unit/test_grant_table
TESTS += unit/test_evtchn_table unit/test_grant_table

unit_test_evtchn_table_SOURCES = unit/test_evtchn_table.c \
	unit/tables_stub.c unit/tables_stub.h
unit_test_evtchn_table_CFLAGS = $(TABLES_TEST_CFLAGS)
unit_test_evtchn_table_LDADD = $(TABLES_TEST_LDADD)

unit_test_grant_table_SOURCES = unit/test_grant_table.c \
	unit/tables_stub.c unit/tables_stub.h
unit_test_grant_table_CFLAGS = $(TABLES_TEST_CFLAGS)
unit_test_grant_table_LDADD = $(TABLES_TEST_LDADD)
# test_share_size_race truncates a memfd from inside the daemon's fstat().
unit_test_grant_table_LDFLAGS = -Wl,--wrap=fstat

# The per-domain descriptor budget (fd_budget.c) over both tables.
check_PROGRAMS += unit/test_fd_budget
TESTS += unit/test_fd_budget
unit_test_fd_budget_SOURCES = unit/test_fd_budget.c \
	unit/tables_stub.c unit/tables_stub.h
unit_test_fd_budget_CFLAGS = $(TABLES_TEST_CFLAGS)
unit_test_fd_budget_LDADD = $(TABLES_TEST_LDADD)
