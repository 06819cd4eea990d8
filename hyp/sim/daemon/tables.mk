# Event channels, grant tables and the hyp.sock protocol (daemon side).
libxensimd_a_SOURCES += \
	proto.h proto_io.c \
	daemon/hypsock.c daemon/hypsock.h daemon/hypsock_sock.c \
	daemon/evtchn_table.c daemon/evtchn_table.h \
	daemon/grant_table.c daemon/grant_table.h
