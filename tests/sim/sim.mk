# Integration on xensim: real processes in simulated domains.
TESTS += sim/xensim-cli.sh
EXTRA_DIST += sim/lib.sh sim/xensim-cli.sh
TESTS += sim/isolation.sh
EXTRA_DIST += sim/isolation.sh
# A fork bomb in a domain stops at its PID namespace's pid_max.
TESTS += sim/dom-pids.sh
EXTRA_DIST += sim/dom-pids.sh
# A domain's cgroups bound its processes and memory, and go with it.
TESTS += sim/dom-cgroup.sh
EXTRA_DIST += sim/dom-cgroup.sh sim/fork-flood.py
TESTS += sim/vchan/vchan-sim.sh
EXTRA_DIST += sim/vchan/vchan-sim.sh
TESTS += sim/vchan/dead-end-sim.sh
# make demo's script leaves no host up, interrupted, failed or done.
TESTS += sim/demo-stop.sh
EXTRA_DIST += sim/demo-stop.sh
# The drop-in libxenevtchn against the daemon, run in dom0 (cmocka).
check_PROGRAMS += sim/evtchn/evtchn-sim
sim_evtchn_evtchn_sim_SOURCES = sim/evtchn/evtchn_sim.c
sim_evtchn_evtchn_sim_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) \
	$(XENEVTCHN_CFLAGS) $(XENCONTROL_CFLAGS)
# proto_io (libxensimd.a) for the test that speaks the protocol itself.
sim_evtchn_evtchn_sim_LDADD = $(top_builddir)/hyp/sim/libxensimd.a \
	$(XENEVTCHN_LIBS) $(XENCONTROL_LIBS) $(CMOCKA_LIBS)
TESTS += sim/evtchn/evtchn-sim.sh
EXTRA_DIST += sim/evtchn/evtchn-sim.sh
# The drop-in libxengnttab against the daemon, run in dom0 (cmocka).
check_PROGRAMS += sim/gnttab/gnttab-sim
sim_gnttab_gnttab_sim_SOURCES = sim/gnttab/gnttab_sim.c
sim_gnttab_gnttab_sim_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(XENGNTTAB_CFLAGS)
sim_gnttab_gnttab_sim_LDADD = $(XENGNTTAB_LIBS) $(CMOCKA_LIBS)
TESTS += sim/gnttab/gnttab-sim.sh
EXTRA_DIST += sim/gnttab/gnttab-sim.sh
# A guest out of its descriptor budget in the daemon, another unaffected.
check_PROGRAMS += sim/fdbudget/fd-budget-sim
sim_fdbudget_fd_budget_sim_SOURCES = sim/fdbudget/fd_budget_sim.c
sim_fdbudget_fd_budget_sim_CFLAGS = $(AM_CFLAGS) $(XENEVTCHN_CFLAGS) \
	$(XENGNTTAB_CFLAGS) $(XENSTORE_CFLAGS)
sim_fdbudget_fd_budget_sim_LDADD = $(XENEVTCHN_LIBS) $(XENGNTTAB_LIBS) \
	$(XENSTORE_LIBS)
TESTS += sim/fdbudget/fd-budget-sim.sh
EXTRA_DIST += sim/fdbudget/fd-budget-sim.sh
# A guest that stops every process it can freezes neither its domain's
# monitor nor the daemon; a monitor that does not read fails requests.
TESTS += sim/monitor-stop.sh
EXTRA_DIST += sim/monitor-stop.sh
# A domain gets pipes, never a host file's descriptor: exec's stdio copied
# by the CLI, the console log written by the daemon.
TESTS += sim/stdio-relay.sh
EXTRA_DIST += sim/stdio-relay.sh
# A console flood stops at the log's cap and costs the daemon little.
TESTS += sim/console-limits.sh
EXTRA_DIST += sim/console-limits.sh
