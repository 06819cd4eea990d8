# libvchan-cap unit tests (cmocka), over the shared-memory transport.
# They call internal functions too, which libvchan-cap.so does not export:
# linked with the library's objects (its convenience library).
VCHAN_UNIT_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/libvchan-cap \
	-I$(top_srcdir)/libvchan-cap/include $(CMOCKA_CFLAGS)
VCHAN_UNIT_LDADD = $(top_builddir)/libvchan-cap/libvchan-cap-internal.la \
	$(CMOCKA_LIBS) -lpthread
VCHAN_UNIT_TESTS = test_vchan_ring test_vchan_frame test_vchan_run \
	test_vchan_rights \
	test_vchan_peer test_vchan_spin test_vchan_lock test_vchan_grace \
	test_vchan_evloop test_vchan_log \
	test_vchan_race test_vchan_stress test_vchan_stress_raw
check_PROGRAMS += $(VCHAN_UNIT_TESTS)
TESTS += $(VCHAN_UNIT_TESTS)
EXTRA_DIST += unit/test_vchan_util.h unit/test_vchan_stress_util.h

test_vchan_ring_SOURCES = unit/test_vchan_ring.c
test_vchan_ring_CPPFLAGS = $(VCHAN_UNIT_CPPFLAGS)
test_vchan_ring_LDADD = $(VCHAN_UNIT_LDADD)
test_vchan_frame_SOURCES = unit/test_vchan_frame.c
test_vchan_frame_CPPFLAGS = $(VCHAN_UNIT_CPPFLAGS)
test_vchan_frame_LDADD = $(VCHAN_UNIT_LDADD)
test_vchan_run_SOURCES = unit/test_vchan_run.c
test_vchan_run_CPPFLAGS = $(VCHAN_UNIT_CPPFLAGS)
test_vchan_run_LDADD = $(VCHAN_UNIT_LDADD)
test_vchan_rights_SOURCES = unit/test_vchan_rights.c
test_vchan_rights_CPPFLAGS = $(VCHAN_UNIT_CPPFLAGS)
test_vchan_rights_LDADD = $(VCHAN_UNIT_LDADD)
test_vchan_peer_SOURCES = unit/test_vchan_peer.c
test_vchan_peer_CPPFLAGS = $(VCHAN_UNIT_CPPFLAGS)
test_vchan_peer_LDADD = $(VCHAN_UNIT_LDADD)
test_vchan_spin_SOURCES = unit/test_vchan_spin.c
test_vchan_spin_CPPFLAGS = $(VCHAN_UNIT_CPPFLAGS)
test_vchan_spin_LDADD = $(VCHAN_UNIT_LDADD)
test_vchan_lock_SOURCES = unit/test_vchan_lock.c
test_vchan_lock_CPPFLAGS = $(VCHAN_UNIT_CPPFLAGS)
test_vchan_lock_LDADD = $(VCHAN_UNIT_LDADD)
test_vchan_grace_SOURCES = unit/test_vchan_grace.c
test_vchan_grace_CPPFLAGS = $(VCHAN_UNIT_CPPFLAGS)
test_vchan_grace_LDADD = $(VCHAN_UNIT_LDADD)
test_vchan_evloop_SOURCES = unit/test_vchan_evloop.c
test_vchan_evloop_CPPFLAGS = $(VCHAN_UNIT_CPPFLAGS)
test_vchan_evloop_LDADD = $(VCHAN_UNIT_LDADD)
test_vchan_log_SOURCES = unit/test_vchan_log.c
test_vchan_log_CPPFLAGS = $(VCHAN_UNIT_CPPFLAGS)
test_vchan_log_LDADD = $(VCHAN_UNIT_LDADD)
test_vchan_race_SOURCES = unit/test_vchan_race.c
test_vchan_race_CPPFLAGS = $(VCHAN_UNIT_CPPFLAGS)
test_vchan_race_LDADD = $(VCHAN_UNIT_LDADD)
test_vchan_stress_SOURCES = unit/test_vchan_stress.c
test_vchan_stress_CPPFLAGS = $(VCHAN_UNIT_CPPFLAGS)
test_vchan_stress_LDADD = $(VCHAN_UNIT_LDADD)
test_vchan_stress_raw_SOURCES = unit/test_vchan_stress_raw.c
test_vchan_stress_raw_CPPFLAGS = $(VCHAN_UNIT_CPPFLAGS)
test_vchan_stress_raw_LDADD = $(VCHAN_UNIT_LDADD)

# Integration on xensim (tests/sim/vchan/): the program runs inside the
# simulated domains; sim/vchan/vchan-sim.sh drives the scenarios.
check_PROGRAMS += sim/vchan/vchan-sim
sim_vchan_vchan_sim_SOURCES = sim/vchan/vchan_sim.c sim/vchan/sim_ids.h
sim_vchan_vchan_sim_CPPFLAGS = $(AM_CPPFLAGS) \
	-I$(top_srcdir)/libvchan-cap/include $(XENSTORE_CFLAGS) \
	$(XENVCHAN_CFLAGS)
sim_vchan_vchan_sim_LDADD = $(top_builddir)/libvchan-cap/libvchan-cap.la \
	$(top_builddir)/hyp/libhyp.la $(XENVCHAN_LIBS) -lpthread
EXTRA_DIST += sim/vchan/vchan-sim.sh
# A dead peer stays dead: a fork while the server opens, a used offer
# (sim/vchan/dead-end-sim.sh).
check_PROGRAMS += sim/vchan/dead-end-sim
sim_vchan_dead_end_sim_SOURCES = sim/vchan/dead_end_sim.c sim/vchan/sim_ids.h
sim_vchan_dead_end_sim_CPPFLAGS = $(AM_CPPFLAGS) \
	-I$(top_srcdir)/libvchan-cap/include $(XENSTORE_CFLAGS) \
	$(XENGNTTAB_CFLAGS)
sim_vchan_dead_end_sim_LDADD = $(top_builddir)/libvchan-cap/libvchan-cap.la \
	$(top_builddir)/hyp/libhyp.la -ldl -lpthread
EXTRA_DIST += sim/vchan/dead-end-sim.sh

# The Xen transport's setup and teardown (transport_xen.c) against the Xen
# fakes of the hyp tests: the library's sources are compiled in, so that
# their Xen calls bind to the fakes (-Wl,--wrap), and the test plays the
# peer through the store and the "mapped" page.
# The library's transport-free core; the hostile-peer fuzz target
# (fuzz/fuzz.mk) builds from it too.
VCHAN_CORE_SOURCES = \
	$(top_srcdir)/libvchan-cap/alloc.c \
	$(top_srcdir)/libvchan-cap/layout.c \
	$(top_srcdir)/libvchan-cap/ring.c \
	$(top_srcdir)/libvchan-cap/frame.c \
	$(top_srcdir)/libvchan-cap/spin.c \
	$(top_srcdir)/libvchan-cap/wait.c \
	$(top_srcdir)/libvchan-cap/log.c \
	$(top_srcdir)/libvchan-cap/lock.c \
	$(top_srcdir)/libvchan-cap/lock_order.c \
	$(top_srcdir)/libvchan-cap/endpoint.c \
	$(top_srcdir)/libvchan-cap/peer_left.c \
	$(top_srcdir)/libvchan-cap/fork.c \
	$(top_srcdir)/libvchan-cap/send.c \
	$(top_srcdir)/libvchan-cap/recv.c \
	$(top_srcdir)/libvchan-cap/stream.c
VCHAN_XEN_LIB_SOURCES = $(VCHAN_CORE_SOURCES) \
	$(top_srcdir)/libvchan-cap/transport_shm.c \
	$(top_srcdir)/libvchan-cap/transport_xen.c \
	$(top_srcdir)/libvchan-cap/peer_watch.c \
	$(top_srcdir)/libvchan-cap/live_reap.c \
	$(top_srcdir)/libvchan-cap/store_conn.c
check_PROGRAMS += unit/test_vchan_xen
TESTS += unit/test_vchan_xen
unit_test_vchan_xen_SOURCES = unit/test_vchan_xen.c $(HYP_MOCK_SOURCES) \
	$(VCHAN_XEN_LIB_SOURCES)
unit_test_vchan_xen_CPPFLAGS = $(HYP_TEST_INCLUDES) \
	-I$(top_srcdir)/libvchan-cap -I$(top_srcdir)/libvchan-cap/include
unit_test_vchan_xen_LDFLAGS = $(HYP_WRAP_FLAGS)
unit_test_vchan_xen_LDADD = $(HYP_TEST_LIBS) -lpthread

# The process-wide peer watch (peer_watch.c) against the Xen fakes.
check_PROGRAMS += unit/test_peer_watch
TESTS += unit/test_peer_watch
unit_test_peer_watch_SOURCES = unit/test_peer_watch.c $(HYP_MOCK_SOURCES) \
	$(top_srcdir)/libvchan-cap/peer_watch.c \
	$(top_srcdir)/libvchan-cap/lock_order.c
unit_test_peer_watch_CPPFLAGS = $(HYP_TEST_INCLUDES) \
	-I$(top_srcdir)/libvchan-cap -I$(top_srcdir)/libvchan-cap/include
unit_test_peer_watch_LDFLAGS = $(HYP_WRAP_FLAGS) -Wl,--wrap=pthread_create \
	-Wl,--wrap=epoll_ctl
unit_test_peer_watch_LDADD = $(HYP_TEST_LIBS) -lpthread
