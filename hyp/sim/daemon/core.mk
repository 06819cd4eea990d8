# The daemon's core (loop, identity, domains, monitor); the tables add their
# sources with += in xs.mk and tables.mk.
noinst_LIBRARIES += libxensimd.a
libxensimd_a_CFLAGS = $(AM_CFLAGS) -fPIC $(XENSTORE_CFLAGS)
libxensimd_a_SOURCES = \
	daemon/loop.c daemon/loop.h \
	daemon/ident.c daemon/ident.h \
	daemon/domain.h
