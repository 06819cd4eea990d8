#!/bin/sh
# Grant tables: domain a shares two read-write pages with b only; b maps them,
# finds a's data, writes its own, which a must see; a ref never issued must
# not map. (The read-only page of the same exchange is grant-ro's subject.)
. "${0%/*}/lib.sh"

sc_create a conf-grant share
sc_create b conf-grant map
# Both exist now: only now may a publish refs readable by b.
sc_tell a peer "$ID_b"
sc_tell b peer "$ID_a"
sc_wait b "CONF-READY grant-mapped"
sc_tell a finish 1
sc_tell b finish 1
sc_ended a
sc_ended b
sc_expect a grant-share grant-peer-done grant-rw-peer-write-seen grant-rw-own-intact
sc_expect b grant-map-rw grant-rw-content grant-unissued-ref-refused
sc_no_fail a grant-rw
sc_no_fail b grant-rw
sc_no_fail a grant-share
sc_no_fail b grant-map
sc_no_fail a grant-unshare
sc_no_fail b grant-unmap
sc_no_fail a conf-grant-setup
sc_no_fail b conf-grant-setup
sc_finish
