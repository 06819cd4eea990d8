# Real-Xen tier (tests/xen/, doc/testing-xen.md): `make check-xen` fetches
# Debian's Xen 4.17 and kernel with apt (cached), boots them under QEMU and runs
# the conformance scenarios and tests/xen/scenarios there with the xl toolstack.
# Exit: 0 all passed, 1 a failure, 2 stall or timeout, 3 setup problem.
#   make check-xen XEN_SCENARIOS=xen/vchan-proxy  run one scenario
#   XEN_QEMU_CACHE=/somewhere make check-xen      share the download cache

# Project programs carried into dom0 and the domUs (/opt/vipc/bin = $TS_BIN);
# globs are expanded by check-xen.sh, libtool wrappers replaced by .libs/.
XEN_CARRY = $(abs_builddir)/conformance/conf-* $(abs_builddir)/sim/vchan/vchan-sim \
	$(abs_builddir)/sim/vchan/dead-end-sim $(abs_top_builddir)/tools/vipc-bench
# The project's shared libraries (never hyp/sim/lib: xensim's drop-ins).
XEN_CARRY_LIBDIRS = $(abs_top_builddir)/libvchan-cap/.libs $(abs_top_builddir)/frontend/.libs \
	$(abs_top_builddir)/backend/.libs $(abs_top_builddir)/hyp/.libs
XEN_SCENARIO_DIRS = $(abs_top_srcdir)/tests/conformance/scenarios $(abs_srcdir)/xen/scenarios

check-xen: $(check_PROGRAMS)
	XEN_WORK='$(abs_builddir)/xen/work' \
	XEN_QEMU_CACHE="$${XEN_QEMU_CACHE:-$(abs_builddir)/xen/stage}" \
	XEN_CARRY='$(XEN_CARRY)' XEN_CARRY_LIBDIRS='$(XEN_CARRY_LIBDIRS)' \
	XEN_SCENARIO_DIRS='$(XEN_SCENARIO_DIRS)' XEN_SCENARIOS='$(XEN_SCENARIOS)' \
	bash $(srcdir)/xen/check-xen.sh
.PHONY: check-xen

# The tier's host scripts against fake qemu and apt (make check, seconds).
TESTS += xen/selftest.sh

EXTRA_DIST += xen/selftest.sh xen/check-xen.sh xen/common.sh xen/fetch.sh xen/mkimg.sh xen/run.sh \
	xen/summary.sh xen/init-dom0 xen/init-domU xen/run-scenarios xen/ts-xl.sh \
	xen/guest/vchan-peer xen/scenarios/vchan-proxy.sh xen/scenarios/vchan-cap.sh xen/scenarios/vchan-cap-stock.sh xen/scenarios/vchan-cap.inc xen/scenarios/bench.sh \
	xen/scenarios/dead-end.sh
