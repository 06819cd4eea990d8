#!/bin/sh
# Debian's unmodified vchan-socket-proxy (libxenvchan): server in a, client
# in b, CONF_VCHAN_MIB (default 64) MiB of seeded data each way, checked
# byte for byte on arrival and by comparing both ends' checksums.
. "${0%/*}/lib.sh"

mib=${CONF_VCHAN_MIB:-64}
proxy=$TS_XEN_BIN/vchan-socket-proxy
sc_create a conf-vchan server "$proxy" "$mib"
sc_create b conf-vchan client "$proxy" "$mib"
# The server publishes for b only once b exists (Xen's permission race).
sc_tell a peer "$ID_b"
sc_tell b peer "$ID_a"
sc_done b
sc_done a
sc_expect a vchan-recv-complete vchan-recv-intact vchan-exchange vchan-close-seen
sc_expect b vchan-recv-complete vchan-recv-intact vchan-exchange
ha=$(sc_console a | sed -n 's/^CONF-HASH //p' | head -n 1)
hb=$(sc_console b | sed -n 's/^CONF-HASH //p' | head -n 1)
a_sent=$(echo "$ha" | sed -n 's/.*sent=\([0-9a-f]*\).*/\1/p')
a_recv=$(echo "$ha" | sed -n 's/.*recv=\([0-9a-f]*\).*/\1/p')
b_sent=$(echo "$hb" | sed -n 's/.*sent=\([0-9a-f]*\).*/\1/p')
b_recv=$(echo "$hb" | sed -n 's/.*recv=\([0-9a-f]*\).*/\1/p')
sc_log "a: $ha; b: $hb"
if [ -z "$a_sent" ] || [ "$a_sent" != "$b_recv" ]; then
    sc_fail "checksum a->b: sent ${a_sent:-none}, received ${b_recv:-none}"
fi
if [ -z "$b_sent" ] || [ "$b_sent" != "$a_recv" ]; then
    sc_fail "checksum b->a: sent ${b_sent:-none}, received ${a_recv:-none}"
fi
sc_console a | grep '^CONF-INFO sent' | sed "s/^/[$SC_NAME] a: /"
sc_console b | grep '^CONF-INFO sent' | sed "s/^/[$SC_NAME] b: /"
sc_finish
