#!/bin/sh
# Unmap-notify on domain death: in two pairs a victim streams into a shared
# page (v1 maps s1's page, v2 shares its page with s2), with unmap-notify on
# the live byte and the survivor's event channel. dom0 destroys both victims
# mid-transfer; each survivor must get the event with the byte cleared, see
# the transfer stop, and still read its mapping.
. "${0%/*}/lib.sh"

sc_create s1 conf-notify survivor grant
sc_create v1 conf-notify victim map domain
sc_create s2 conf-notify survivor map
sc_create v2 conf-notify victim grant domain
sc_tell s1 peer "$ID_v1"
sc_tell v1 peer "$ID_s1"
sc_tell s2 peer "$ID_v2"
sc_tell v2 peer "$ID_s2"
sc_wait s1 "CONF-READY notify-streaming" || sc_finish
sc_wait s2 "CONF-READY notify-streaming" || sc_finish
sc_expect v1 notify-victim-setup
sc_expect v2 notify-victim-setup
ts_destroy "$(sc_dom v1)" || sc_fail "cannot destroy $(sc_dom v1)"
ts_destroy "$(sc_dom v2)" || sc_fail "cannot destroy $(sc_dom v2)"
sc_log "victims destroyed"
# The survivors wait up to their own timeout (60 s) for the event.
sc_wait s1 "CONF-READY notify-checked" $((SC_WAIT + 60))
sc_wait s2 "CONF-READY notify-checked" $((SC_WAIT + 60))
sc_tell s1 finish 1
sc_tell s2 finish 1
sc_done s1
sc_done s2
for s in s1 s2; do
    sc_expect $s notify-transfer-running notify-event notify-live-cleared \
        notify-transfer-stopped notify-page-still-mapped
done
sc_finish
