#!/bin/sh
# Unmap-notify when the process dies but a child it forked still holds the
# descriptor (Linux PV guests, as notify-on-exit otherwise): the victim's
# streaming process forks a holder once it mapped (v1, gntdev) or shared
# (v2, gntalloc), and is killed mid-transfer. A gntdev mapping's live byte
# is cleared at the death (the mapping goes with the address space; it was
# never copied into the holder), a gntalloc share's is not; neither sends
# its event until the holder lets go (dom0 writes release).
. "${0%/*}/lib.sh"
. "${0%/*}/notify.inc"

notify_pairs fork fork
sc_wait s1 "CONF-READY fork-held-checked" $((SC_WAIT + 30))
sc_wait s2 "CONF-READY fork-held-checked" $((SC_WAIT + 30))
sc_tell v1 release 1
sc_tell v2 release 1
sc_wait s1 "CONF-READY notify-checked" $((SC_WAIT + 30))
sc_wait s2 "CONF-READY notify-checked" $((SC_WAIT + 30))
notify_end
sc_expect s1 notify-transfer-running fork-transfer-stopped \
    fork-live-cleared-at-death fork-no-event-while-held fork-event-at-release \
    fork-live-cleared-at-release notify-page-still-mapped
sc_expect s2 notify-transfer-running fork-transfer-stopped \
    fork-no-event-while-held fork-live-kept-while-held fork-event-at-release \
    fork-live-cleared-at-release notify-page-still-mapped
sc_expect v1 notify-victim-setup notify-holder-map-not-inherited
sc_expect v2 notify-victim-setup notify-holder-share-inherited
sc_finish
