# Unit tests of hyp/ (cmocka).  The Xen library calls are replaced at link
# time (-Wl,--wrap=SYM) by the fakes in unit/test_hyp_mock.c, so that every
# error path can be driven without Xen.
# Every Xen call hyp/ makes (keep in step with hyp/hyp_*.c).
HYP_WRAP_FLAGS = \
	-Wl,--wrap=xenevtchn_open \
	-Wl,--wrap=xenevtchn_close \
	-Wl,--wrap=xenevtchn_fd \
	-Wl,--wrap=xenevtchn_notify \
	-Wl,--wrap=xenevtchn_bind_unbound_port \
	-Wl,--wrap=xenevtchn_bind_interdomain \
	-Wl,--wrap=xenevtchn_unbind \
	-Wl,--wrap=xenevtchn_pending \
	-Wl,--wrap=xenevtchn_unmask \
	-Wl,--wrap=xengntshr_open \
	-Wl,--wrap=unshare \
	-Wl,--wrap=xengntshr_close \
	-Wl,--wrap=xengntshr_fd \
	-Wl,--wrap=xengnttab_fd \
	-Wl,--wrap=xengntshr_share_pages \
	-Wl,--wrap=xengntshr_share_page_notify \
	-Wl,--wrap=xengntshr_unshare \
	-Wl,--wrap=xengnttab_open \
	-Wl,--wrap=xengnttab_close \
	-Wl,--wrap=xengnttab_map_domain_grant_refs \
	-Wl,--wrap=xengnttab_map_grant_ref_notify \
	-Wl,--wrap=xengnttab_unmap \
	-Wl,--wrap=xs_open \
	-Wl,--wrap=xs_close \
	-Wl,--wrap=xs_daemon_destroy_postfork \
	-Wl,--wrap=xs_read \
	-Wl,--wrap=xs_write \
	-Wl,--wrap=xs_mkdir \
	-Wl,--wrap=xs_rm \
	-Wl,--wrap=xs_directory \
	-Wl,--wrap=xs_get_permissions \
	-Wl,--wrap=xs_set_permissions \
	-Wl,--wrap=xs_transaction_start \
	-Wl,--wrap=xs_transaction_end \
	-Wl,--wrap=xs_watch \
	-Wl,--wrap=xs_unwatch \
	-Wl,--wrap=xs_fileno \
	-Wl,--wrap=xs_get_domain_path \
	-Wl,--wrap=xs_check_watch \
	-Wl,--wrap=xc_interface_open \
	-Wl,--wrap=xc_interface_close \
	-Wl,--wrap=xc_domain_getinfo
HYP_TEST_INCLUDES = $(AM_CPPFLAGS) $(CMOCKA_CFLAGS) \
	$(XENEVTCHN_CFLAGS) $(XENGNTTAB_CFLAGS) $(XENSTORE_CFLAGS) \
	$(XENCONTROL_CFLAGS)
HYP_TEST_LIBS = $(top_builddir)/hyp/libhyp.la $(CMOCKA_LIBS)
# The fakes every hyp test links with.
HYP_MOCK_SOURCES = unit/test_hyp_mock.c unit/test_hyp_mock.h

HYP_TESTS = unit/test_hyp_evtchn unit/test_hyp_gnt unit/test_hyp_store \
	unit/test_hyp_domain
check_PROGRAMS += $(HYP_TESTS)
TESTS += $(HYP_TESTS)

unit_test_hyp_evtchn_SOURCES = unit/test_hyp_evtchn.c $(HYP_MOCK_SOURCES)
unit_test_hyp_evtchn_CPPFLAGS = $(HYP_TEST_INCLUDES)
unit_test_hyp_evtchn_LDFLAGS = $(HYP_WRAP_FLAGS)
unit_test_hyp_evtchn_LDADD = $(HYP_TEST_LIBS)

unit_test_hyp_gnt_SOURCES = unit/test_hyp_gnt.c $(HYP_MOCK_SOURCES)
unit_test_hyp_gnt_CPPFLAGS = $(HYP_TEST_INCLUDES)
unit_test_hyp_gnt_LDFLAGS = $(HYP_WRAP_FLAGS)
unit_test_hyp_gnt_LDADD = $(HYP_TEST_LIBS)

unit_test_hyp_store_SOURCES = unit/test_hyp_store.c $(HYP_MOCK_SOURCES)
unit_test_hyp_store_CPPFLAGS = $(HYP_TEST_INCLUDES)
unit_test_hyp_store_LDFLAGS = $(HYP_WRAP_FLAGS)
unit_test_hyp_store_LDADD = $(HYP_TEST_LIBS)

unit_test_hyp_domain_SOURCES = unit/test_hyp_domain.c $(HYP_MOCK_SOURCES)
unit_test_hyp_domain_CPPFLAGS = $(HYP_TEST_INCLUDES)
unit_test_hyp_domain_LDFLAGS = $(HYP_WRAP_FLAGS)
unit_test_hyp_domain_LDADD = $(HYP_TEST_LIBS)
