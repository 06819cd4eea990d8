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
notify_expect_notify
sc_finish
