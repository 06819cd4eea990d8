# libvchan-cap: the vipc data channel (DESIGN.md section 4).
lib_LTLIBRARIES = libvchan-cap.la
libvchan_cap_la_SOURCES = \
	vchan_priv.h \
	layout.c \
	ring.c \
	frame.c \
	spin.c \
	wait.c \
	log.c \
	lock.c \
	endpoint.c \
	fork.c \
	send.c \
	recv.c \
	stream.c \
	transport_shm.c \
	transport_xen.c \
	peer_watch.h \
	peer_watch.c \
	live_reap.h \
	live_reap.c \
	store_conn.h \
	store_conn.c
libvchan_cap_la_CPPFLAGS = -I$(srcdir)/include -I$(top_srcdir)/hyp/include \
	$(XENEVTCHN_CFLAGS) $(XENGNTTAB_CFLAGS) $(XENSTORE_CFLAGS) \
	$(XENCONTROL_CFLAGS)
libvchan_cap_la_LIBADD = $(top_builddir)/hyp/libhyp.la -lpthread
libvchan_cap_la_LDFLAGS = -version-info 0:0:0

vchanincludedir = $(includedir)/vipc
vchaninclude_HEADERS = include/vipc/vchan.h
