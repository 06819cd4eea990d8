#!/bin/sh
# Read-only grants: b may map a's read-only page for reading only; mapping it
# writable is refused, a store faults (also after mprotect), and a sees its
# page unchanged at the end.
. "${0%/*}/lib.sh"

sc_create a conf-grant share
sc_create b conf-grant map
sc_tell a peer "$ID_b"
sc_tell b peer "$ID_a"
sc_wait b "CONF-READY grant-mapped"
sc_tell a finish 1
sc_tell b finish 1
sc_ended a
sc_ended b
sc_expect a grant-ro-unchanged
sc_expect b grant-ro-map-writable-refused grant-ro-map-read grant-ro-content \
    grant-ro-write-faults grant-ro-mprotect-write-faults
sc_no_fail a grant-ro
sc_no_fail b grant-ro
sc_no_fail a conf-grant-setup
sc_no_fail b conf-grant-setup
sc_finish
