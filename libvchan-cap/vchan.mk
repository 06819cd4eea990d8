# libvchan-cap: the vipc data channel (DESIGN.md section 4).
# Its objects, built once into a convenience library: the shared library
# is made of them, and so are the unit tests that drive internal functions
# (tests/unit/vchan.mk), which the shared library does not export.
noinst_LTLIBRARIES = libvchan-cap-internal.la
libvchan_cap_internal_la_SOURCES = \
	vchan_priv.h \
	copy_in.h \
	alloc.c \
	layout.c \
	ring.c \
	frame.c \
	spin.c \
	wait.c \
	log.c \
	lock.c \
	lock_order.c \
	endpoint.c \
	peer_left.c \
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
libvchan_cap_internal_la_CPPFLAGS = -I$(srcdir)/include -I$(top_srcdir)/hyp/include \
	$(XENEVTCHN_CFLAGS) $(XENGNTTAB_CFLAGS) $(XENSTORE_CFLAGS) \
	$(XENCONTROL_CFLAGS)
libvchan_cap_internal_la_LIBADD = $(top_builddir)/hyp/libhyp.la -lpthread

# The installed library exports the calls of its installed headers only
# (<vipc/vchan.h>, and <vipc/hyp.h> whose libhyp is linked in), listed in
# libvchan-cap.sym: an internal function neither becomes ABI nor is
# replaced by an application's function of the same name.
# tests/install/install.sh checks the list against the headers.
lib_LTLIBRARIES = libvchan-cap.la
libvchan_cap_la_SOURCES =
libvchan_cap_la_LIBADD = libvchan-cap-internal.la
libvchan_cap_la_LDFLAGS = -version-info 0:0:0 \
	-export-symbols $(srcdir)/libvchan-cap.sym
EXTRA_libvchan_cap_la_DEPENDENCIES = $(srcdir)/libvchan-cap.sym

vchanincludedir = $(includedir)/vipc
vchaninclude_HEADERS = include/vipc/vchan.h

# For programs built against it: pkg-config's libvchan-cap, and the manual,
# libvchan-cap(3), with a page per call that points to it (man vchan_send).
pkgconfigdir = $(libdir)/pkgconfig
pkgconfig_DATA = libvchan-cap.pc
man_MANS = libvchan-cap.3
EXTRA_DIST = libvchan-cap.pc.in $(man_MANS) libvchan-cap.sym
VCHAN_MAN_ALIASES = vchan_config_init vchan_server_open vchan_client_open \
	vchan_server_open_offer vchan_client_open_offer \
	vchan_is_connected vchan_send vchan_recv vchan_sendv vchan_recvv \
	vchan_reserve vchan_commit vchan_recv_inplace vchan_release \
	vchan_flush vchan_write vchan_read vchan_fd vchan_events \
	vchan_revoke vchan_close vchan_get_stats vchan_rights \
	vchan_ring_size vchan_set_logger vchan_shm_pair vchan_shm_detach
install-data-hook:
	$(MKDIR_P) '$(DESTDIR)$(man3dir)'
	for f in $(VCHAN_MAN_ALIASES); do \
	  echo '.so man3/libvchan-cap.3' > '$(DESTDIR)$(man3dir)'/$$f.3 || exit 1; \
	done
uninstall-hook:
	for f in $(VCHAN_MAN_ALIASES); do rm -f '$(DESTDIR)$(man3dir)'/$$f.3; done
