# The xenstore server inside the xensim daemon (xs_server.h).
libxensimd_a_SOURCES += \
	daemon/xs_server.h daemon/xs_core.h \
	daemon/xs_path.c daemon/xs_path.h \
	daemon/xs_store.c daemon/xs_store.h \
	daemon/xs_perms.c \
	daemon/xs_tree.c \
	daemon/xs_txn.c \
	daemon/xs_watch.c \
	daemon/xs_domain.c \
	daemon/xs_quota.c \
	daemon/xs_ops.c \
	daemon/xs_wire.c \
	daemon/xs_server.c
