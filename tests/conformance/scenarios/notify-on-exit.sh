#!/bin/sh
# Unmap-notify on process death: as domain-death, but the victims' domains
# live on; the process holding the mapping (v1) or the share (v2) is killed
# with SIGKILL mid-transfer (once dom0 says so), by its parent in the same
# domain.
. "${0%/*}/lib.sh"

sc_create s1 conf-notify survivor grant
sc_create v1 conf-notify victim map proc
sc_create s2 conf-notify survivor map
sc_create v2 conf-notify victim grant proc
sc_tell s1 peer "$ID_v1"
sc_tell v1 peer "$ID_s1"
sc_tell s2 peer "$ID_v2"
sc_tell v2 peer "$ID_s2"
sc_wait s1 "CONF-READY notify-streaming" || sc_finish
sc_wait s2 "CONF-READY notify-streaming" || sc_finish
sc_tell v1 kill 1
sc_tell v2 kill 1
sc_wait s1 "CONF-READY notify-checked" $((SC_WAIT + 60))
sc_wait s2 "CONF-READY notify-checked" $((SC_WAIT + 60))
for k in s1 s2 v1 v2; do sc_tell $k finish 1; done
sc_done s1
sc_done s2
sc_done v1
sc_done v2
for s in s1 s2; do
    sc_expect $s notify-transfer-running notify-event notify-live-cleared \
        notify-transfer-stopped notify-page-still-mapped
done
sc_expect v1 notify-victim-setup
sc_expect v2 notify-victim-setup
sc_finish
