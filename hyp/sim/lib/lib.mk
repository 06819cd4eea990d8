# Built with BASE_CFLAGS, never sanitizers: Debian's unsanitized programs load them.
# The drop-in Xen libraries a simulated domain loads through its library
# path. Built without libtool so that the sonames, symbol sets and symbol
# versions are exactly Xen 4.17's (Debian's): each *_LINK bypasses libtool,
# which would drop -shared from a program's link.
EXTRA_DIST += lib/libxenevtchn.map lib/libxengnttab.map lib/libxenctrl.map

xensimlib_PROGRAMS += lib/libxenevtchn.so.1
lib_libxenevtchn_so_1_SOURCES = lib/evtchn.c proto.h proto_io.c
lib_libxenevtchn_so_1_CFLAGS = $(BASE_CFLAGS) -fPIC $(XENEVTCHN_CFLAGS)
lib_libxenevtchn_so_1_LDFLAGS = -shared -Wl,-soname,libxenevtchn.so.1 \
	-Wl,--version-script=$(srcdir)/lib/libxenevtchn.map -Wl,-z,now -Wl,-z,defs
lib_libxenevtchn_so_1_LINK = $(CCLD) $(lib_libxenevtchn_so_1_CFLAGS) $(CFLAGS) $(lib_libxenevtchn_so_1_LDFLAGS) $(LDFLAGS) -o $@
EXTRA_lib_libxenevtchn_so_1_DEPENDENCIES = $(srcdir)/lib/libxenevtchn.map

xensimlib_PROGRAMS += lib/libxengnttab.so.1
lib_libxengnttab_so_1_SOURCES = lib/gnttab.c lib/gntshr.c lib/gntdev.h \
	proto.h proto_io.c
lib_libxengnttab_so_1_CFLAGS = $(BASE_CFLAGS) -fPIC $(XENGNTTAB_CFLAGS)
lib_libxengnttab_so_1_LDFLAGS = -shared -Wl,-soname,libxengnttab.so.1 \
	-Wl,--version-script=$(srcdir)/lib/libxengnttab.map -Wl,-z,now -Wl,-z,defs
lib_libxengnttab_so_1_LINK = $(CCLD) $(lib_libxengnttab_so_1_CFLAGS) $(CFLAGS) $(lib_libxengnttab_so_1_LDFLAGS) $(LDFLAGS) -o $@
EXTRA_lib_libxengnttab_so_1_DEPENDENCIES = $(srcdir)/lib/libxengnttab.map

xensimlib_PROGRAMS += lib/libxenctrl.so.4.17
lib_libxenctrl_so_4_17_SOURCES = lib/ctrl.c proto.h proto_io.c
lib_libxenctrl_so_4_17_CFLAGS = $(BASE_CFLAGS) -fPIC $(XENCONTROL_CFLAGS)
lib_libxenctrl_so_4_17_LDFLAGS = -shared -Wl,-soname,libxenctrl.so.4.17 \
	-Wl,--version-script=$(srcdir)/lib/libxenctrl.map -Wl,-z,now -Wl,-z,defs
lib_libxenctrl_so_4_17_LINK = $(CCLD) $(lib_libxenctrl_so_4_17_CFLAGS) $(CFLAGS) $(lib_libxenctrl_so_4_17_LDFLAGS) $(LDFLAGS) -o $@
EXTRA_lib_libxenctrl_so_4_17_DEPENDENCIES = $(srcdir)/lib/libxenctrl.map
