#!/bin/sh
# Unmap-notify when the process dies after a child it forked has exec'd
# (Linux PV guests): the child keeps the descriptors not marked
# close-on-exec (Xen 4.17's library opens gntalloc so) but no mapping. A
# gntalloc share lives as long as a mapping of it, not its descriptor: the
# survivors see what notify-on-exit's see, event and cleared byte at the
# death, for the share (v2) as for the mapping (v1).
. "${0%/*}/lib.sh"
. "${0%/*}/notify.inc"

notify_pairs notify exec
sc_wait s1 "CONF-READY notify-checked" $((SC_WAIT + 60))
sc_wait s2 "CONF-READY notify-checked" $((SC_WAIT + 60))
sc_tell v1 release 1
sc_tell v2 release 1
notify_end
notify_expect_notify
sc_finish
