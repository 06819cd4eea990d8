#!/bin/sh
# Grant tables: domain a shares two read-write pages with b only; b maps them,
# finds a's data, writes its own, which a must see; a ref never issued must
# not map; a's kernel hands out the grant ref freed last first (Linux);
# grant copies fail with Xen's status for each segment, or EFAULT for a
# local address not mapped (gntdev).
# (The read-only page of the same exchange is grant-ro's subject.)
. "${0%/*}/lib.sh"
. "${0%/*}/grant.inc"

grant_exchange
sc_expect a grant-freed-last-reused-first grant-share grant-peer-done grant-rw-peer-write-seen grant-rw-own-intact
sc_expect b grant-map-rw grant-rw-content grant-unissued-ref-refused
sc_expect b grant-copy-local-refused grant-copy-cross-page-refused grant-copy-from-grant
sc_expect b grant-copy-bad-ref grant-copy-bad-domain grant-copy-into-ro-refused \
    grant-copy-to-bad-local-efault grant-copy-from-bad-local-efault
sc_expect a grant-gntshr-fd-not-cloexec
sc_expect b grant-gnttab-fd-cloexec
sc_no_fail a grant-rw
sc_no_fail b grant-rw
sc_no_fail a grant-share
sc_no_fail b grant-map
sc_no_fail a grant-unshare
sc_no_fail b grant-unmap
grant_setup_ok
sc_finish
