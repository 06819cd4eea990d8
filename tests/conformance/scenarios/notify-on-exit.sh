#!/bin/sh
# Unmap-notify on process death: as domain-death, but the victims' domains
# live on; the process holding the mapping (v1) or the share (v2) is killed
# with SIGKILL mid-transfer (once dom0 says so), by its parent in the same
# domain.
. "${0%/*}/lib.sh"
. "${0%/*}/notify.inc"

notify_pairs notify proc
sc_wait s1 "CONF-READY notify-checked" $((SC_WAIT + 60))
sc_wait s2 "CONF-READY notify-checked" $((SC_WAIT + 60))
notify_end
for s in s1 s2; do
    sc_expect $s notify-transfer-running notify-event notify-live-cleared \
        notify-transfer-stopped notify-page-still-mapped
done
sc_expect v1 notify-victim-setup
sc_expect v2 notify-victim-setup
sc_finish
