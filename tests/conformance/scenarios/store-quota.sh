#!/bin/sh
# The node quota as Xen 4.17's xenstored keeps it for a guest: a plain write
# may take its count to the quota and the next gets ENOSPC; a transaction
# that creates a node may not end at the quota (ENOSPC at commit, its node
# absent); one that creates nothing is not checked, even over the quota.
# And dom0's own count, even above the quota, is not checked when a guest's
# transaction changes it (here by removing a node of dom0's that the guest
# may write).
# Also the entry size: a guest may not write a node whose record in
# xenstored would take 2048 bytes or more, counting a 24-byte header, 8
# bytes per perm entry, the value and the child names; dom0 may, and a
# child of such a node may still be removed, though none added.
# And the watches: a guest domain holds 128, its kernel's own among them, so
# a process of a Linux 6.1 guest may take WATCHES_FREE; the next is refused
# with E2BIG, and the refusal closes that process's connection; on Xen its
# watches count until the process closes it too (xs_close()), and then
# they are given back.
. "${0%/*}/lib.sh"

sc_create h conf-store esize
sc_wait h "CONF-READY store-esize-full" || sc_finish
kids=/local/domain/$ID_h/data/conf/esize/kids
ts_run0 conf-xs write "$kids" "$(printf '%0100d' 0)" ||
    sc_fail "dom0 may not give $kids a value past the entry size"
sc_tell h over 1
sc_done h
sc_expect h store-esize-value store-esize-children store-esize-perms-fit \
    store-esize-perms-refused store-esize-rm-over store-esize-add-over

WATCHES_FREE=${WATCHES_FREE:-123}
sc_create w conf-store watches "$WATCHES_FREE"
sc_done w
sc_expect w store-watch-quota store-watch-refusal-closes store-watch-quota-returned

sc_create g conf-store quota
# At its quota, the guest gets one node more from dom0: a node takes its
# parent's owner when dom0 makes it, and counts for that owner.
sc_wait g "CONF-READY store-quota-full" || sc_finish
extra=/local/domain/$ID_g/data/conf/quota/extra
ts_run0 conf-xs write "$extra" 1 || sc_abort "dom0 cannot write $extra"
got=$(ts_run0 conf-xs perms "$extra")
case $got in "$ID_g:"*) ;; *) sc_fail "$extra, made by dom0 under the guest's node, has perms '$got', not owned by dom$ID_g";; esac
sc_tell g over "$extra"
sc_wait g "CONF-READY store-quota-own" || sc_finish
made=$(ts_run0 conf-xs read "/local/domain/$ID_g/data/conf/quota-made") ||
    sc_abort "dom0 cannot read the guest's data/conf/quota-made"
case $made in ''|*[!0-9]*) sc_abort "the guest's quota-made is '$made', not a count";; esac
# The guest's quota is what it owned already plus $made; it owned fewer
# than $made before, so this takes dom0 past the quota.
fill=$((made * 2 + 2))
ts_run0 conf-xs fill /conf-quota/fill "$fill" ||
    sc_abort "dom0 cannot write $fill nodes under /conf-quota/fill"
sc_log "dom0 wrote $fill nodes of its own (the guest met its quota after $made new ones)"
ts_run0 conf-xs write /conf-quota/victim 1 || sc_abort "dom0 cannot write /conf-quota/victim"
ts_run0 conf-xs chmod /conf-quota/victim n0 "b$ID_g" ||
    sc_abort "dom0 cannot chmod /conf-quota/victim"
sc_tell g victim /conf-quota/victim
sc_done g
if ts_run0 conf-xs read /conf-quota/victim >/dev/null 2>&1; then
    sc_fail "/conf-quota/victim is still there after the guest's transaction removed it"
fi
ts_run0 conf-xs read /conf-quota/fill/0 >/dev/null ||
    sc_fail "dom0's /conf-quota/fill/0 is gone"
ts_run0 conf-xs rm /conf-quota || sc_fail "dom0 cannot remove /conf-quota"
sc_expect g store-quota-write-enospc store-quota-txn-below \
    store-quota-txn-commit-enospc store-quota-write-reaches \
    store-quota-txn-modify-at-quota store-quota-txn-remove-over-quota \
    store-quota-dom0-exempt
sc_finish
