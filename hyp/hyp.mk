# hyp/: libhyp, the project's only door to the hypervisor (see doc/hyp.md).
noinst_LTLIBRARIES += libhyp.la
libhyp_la_SOURCES = \
	hyp_evtchn.c \
	hyp_gnt.c \
	hyp_store.c \
	hyp_domain.c \
	hyp_internal.h
libhyp_la_CPPFLAGS = -I$(srcdir)/include \
	$(XENEVTCHN_CFLAGS) $(XENGNTTAB_CFLAGS) $(XENSTORE_CFLAGS) \
	$(XENCONTROL_CFLAGS)
libhyp_la_LIBADD = $(XENEVTCHN_LIBS) $(XENGNTTAB_LIBS) $(XENSTORE_LIBS) \
	$(XENCONTROL_LIBS)

# Installed as <vipc/hyp.h> (libvipc's public headers build on its types).
vipcincludedir = $(includedir)/vipc
vipcinclude_HEADERS = include/vipc/hyp.h
