#!/bin/sh
# Read-only grants: b may map a's read-only page for reading only; mapping it
# writable is refused, a store faults (also after mprotect), and a sees its
# page unchanged at the end.
. "${0%/*}/lib.sh"
. "${0%/*}/grant.inc"

grant_exchange
sc_expect a grant-ro-unchanged
sc_expect b grant-ro-map-writable-refused grant-ro-map-read grant-ro-content \
    grant-ro-write-faults grant-ro-mprotect-write-faults
sc_no_fail a grant-ro
sc_no_fail b grant-ro
grant_setup_ok
sc_finish
