# Conformance and isolation suite: conf-* programs (raw Xen libraries) and
# scenarios run on xensim here, and on real Xen by tests/xen/ (make check-xen).
# See tests/conformance/README.md.
CONF_UTIL = conformance/conf_util.c conformance/conf_util.h
CONF_XS_CFLAGS = $(AM_CFLAGS) $(XENSTORE_CFLAGS)

check_PROGRAMS += conformance/conf-grant conformance/conf-evtchn \
	conformance/conf-store conformance/conf-notify conformance/conf-vchan \
	conformance/conf-run conformance/conf-xs

conformance_conf_grant_SOURCES = conformance/conf_grant.c $(CONF_UTIL)
conformance_conf_grant_CFLAGS = $(CONF_XS_CFLAGS) $(XENGNTTAB_CFLAGS)
conformance_conf_grant_LDADD = $(XENGNTTAB_LIBS) $(XENSTORE_LIBS)

conformance_conf_evtchn_SOURCES = conformance/conf_evtchn.c $(CONF_UTIL)
conformance_conf_evtchn_CFLAGS = $(CONF_XS_CFLAGS) $(XENEVTCHN_CFLAGS)
conformance_conf_evtchn_LDADD = $(XENEVTCHN_LIBS) $(XENSTORE_LIBS)

conformance_conf_store_SOURCES = conformance/conf_store.c $(CONF_UTIL)
conformance_conf_store_CFLAGS = $(CONF_XS_CFLAGS)
conformance_conf_store_LDADD = $(XENSTORE_LIBS)

conformance_conf_notify_SOURCES = conformance/conf_notify.c $(CONF_UTIL)
conformance_conf_notify_CFLAGS = $(CONF_XS_CFLAGS) $(XENGNTTAB_CFLAGS) $(XENEVTCHN_CFLAGS)
conformance_conf_notify_LDADD = $(XENGNTTAB_LIBS) $(XENEVTCHN_LIBS) $(XENSTORE_LIBS)

conformance_conf_vchan_SOURCES = conformance/conf_vchan.c $(CONF_UTIL)
conformance_conf_vchan_CFLAGS = $(CONF_XS_CFLAGS)
conformance_conf_vchan_LDADD = $(XENSTORE_LIBS)

conformance_conf_run_SOURCES = conformance/conf_run.c $(CONF_UTIL)
conformance_conf_run_CFLAGS = $(CONF_XS_CFLAGS)
conformance_conf_run_LDADD = $(XENSTORE_LIBS)

conformance_conf_xs_SOURCES = conformance/conf_xs.c
conformance_conf_xs_CFLAGS = $(CONF_XS_CFLAGS)
conformance_conf_xs_LDADD = $(XENSTORE_LIBS)

# One automake test per scenario, each on its own private xensim host (so
# they run in parallel). The wrappers are generated: a scenario stays a plain
# sh script that the real-Xen harness runs as it is.
CONF_XENSIM_TESTS = \
	conformance/xensim-grant.test \
	conformance/xensim-grant-ro.test \
	conformance/xensim-evtchn.test \
	conformance/xensim-store-perms.test \
	conformance/xensim-store-perms-gone.test \
	conformance/xensim-store-quota.test \
	conformance/xensim-store-events.test \
	conformance/xensim-store-lost.test \
	conformance/xensim-isolation-third-domain.test \
	conformance/xensim-domain-death.test \
	conformance/xensim-notify-on-exit.test \
	conformance/xensim-notify-fork.test \
	conformance/xensim-notify-exec.test \
	conformance/xensim-vchan-proxy.test \
	conformance/xensim-xenstore.test
TESTS += $(CONF_XENSIM_TESTS)
CLEANFILES += $(CONF_XENSIM_TESTS)
$(CONF_XENSIM_TESTS): $(srcdir)/conformance/conformance.mk
	@$(MKDIR_P) conformance
	$(AM_V_GEN)n=`basename $@ .test`; n=$${n#xensim-}; \
	{ echo '#!/bin/sh'; \
	  echo "# Generated: scenario $$n on a private xensim host."; \
	  echo "exec $(SHELL) '$(abs_srcdir)/conformance/run-xensim.sh' $$n"; \
	} > $@-t && chmod +x $@-t && mv $@-t $@

# Where Debian's xen-utils-4.17 is unpacked when XEN_UTILS_DIR is not given.
clean-local: clean-conformance
clean-conformance:
	rm -rf conformance/xen-utils conformance/run.*

EXTRA_DIST += conformance/README.md conformance/ts-xensim.sh \
	conformance/run-xensim.sh conformance/fetch-xen-utils.sh \
	conformance/scenarios/lib.sh conformance/scenarios/grant.inc \
	conformance/scenarios/grant.sh conformance/scenarios/grant-ro.sh \
	conformance/scenarios/evtchn.sh conformance/scenarios/store-perms.sh \
	conformance/scenarios/store-perms-gone.sh conformance/scenarios/store-quota.sh \
	conformance/scenarios/store-events.sh conformance/scenarios/store-lost.sh \
	conformance/scenarios/isolation-third-domain.sh \
	conformance/scenarios/domain-death.sh conformance/scenarios/notify-on-exit.sh \
	conformance/scenarios/notify-fork.sh conformance/scenarios/notify.inc \
	conformance/scenarios/notify-exec.sh \
	conformance/scenarios/vchan-proxy.sh conformance/scenarios/xenstore.sh
