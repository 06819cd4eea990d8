#!/bin/sh
# A perm entry naming a domain that existed and was destroyed: Xen 4.17's
# xenstored stops honouring it (XSA-322: a later domain under the same id
# gets nothing from it). What dom0 reads back with XS_GET_PERMS then: the
# entry as it was set.
. "${0%/*}/lib.sh"

sc_create g conf-store late
node=/conf-gone-perm
ts_run0 conf-xs write "$node" 1 || sc_abort "dom0 cannot write $node"
ts_run0 conf-xs chmod "$node" n0 "r$ID_g" || sc_abort "dom0 cannot chmod $node"
got=$(ts_run0 conf-xs perms "$node")
[ "$got" = "0:0 $ID_g:0x1" ] ||
    sc_fail "perms naming dom$ID_g (alive) read back as '$got', not '0:0 $ID_g:0x1'"
ts_destroy "$(sc_dom g)" || sc_fail "cannot destroy $(sc_dom g)"
# The domain leaves the toolstack's list; xenstored learns of the death
# from the toolstack's release: give it time.
i=0
while ts_domid "$(sc_dom g)" >/dev/null 2>&1; do
    [ $i -lt 100 ] || sc_abort "$(sc_dom g) is still there 10 s after its destroy"
    sleep 0.1; i=$((i + 1))
done
sc_log "$(sc_dom g) gone from the list after $i look(s) 0.1 s apart"
sleep 2
got=$(ts_run0 conf-xs perms "$node" 2>&1)
rc=$?
sc_log "perms of $node after dom$ID_g was destroyed: exit $rc, '$got'"
[ $rc -eq 0 ] && [ "$got" = "0:0 $ID_g:0x1" ] ||
    sc_fail "perms naming dom$ID_g (destroyed) read back as '$got' (exit $rc), not '0:0 $ID_g:0x1'"
ts_run0 conf-xs rm "$node" || sc_fail "dom0 cannot remove $node"
sc_finish
