#!/bin/sh
# Xenstore permissions as guests see them: a owns nodes with no perm, read
# perm and write perm for b; b may do exactly what it was given; c (named in
# no perm) nothing, not even learn through a watch that a node changed; a perm
# entry naming a domain that did not exist yet is ignored once it does (Xen
# 4.17), while one written after it exists works; one naming a domain that
# does not exist reads back unchanged. Also: watches, and
# transactions (conflict -> EAGAIN, commit, abort). And the special nodes'
# perms: Xen 4.17's xenstored keeps them outside its tree, so XS_GET_PERMS
# of @releaseDomain or @introduceDomain answers EINVAL to anyone (dom0 too),
# before and after dom0 lets a guest read @releaseDomain: a guest cannot
# learn whether it will be told of deaths (libvchan-cap's peer_watch.c).
. "${0%/*}/lib.sh"

sc_create a conf-store owner
sc_create b conf-store reader
sc_create c conf-store intrude
# Ids the next domain will probably get: above the highest in use here, plus
# the gaps below it (a simulator may reuse them). d must get one of these.
max=$ID_a
for i in $ID_b $ID_c; do [ "$i" -gt "$max" ] && max=$i; done
late=""
i=1
while [ $i -le $((max + 4)) ]; do
    case " $ID_a $ID_b $ID_c " in *" $i "*) ;; *) late="$late $i";; esac
    i=$((i + 1))
done
late=${late# }
sc_tell a late "$late"
sc_tell a peer "$ID_b"
sc_tell b peer "$ID_a"
sc_tell c target "$ID_a"
sc_wait a "CONF-READY store-owner" || sc_finish
sc_tell c owner-ready 1
sc_done b

sc_create d conf-store late
case " $late " in *" $ID_d "*) ;; *) sc_fail "d got dom$ID_d, not one of the ids a named in advance ($late)";; esac
sc_tell d target "$ID_a"
sc_tell a refresh "$ID_d"
sc_done d

sc_wait c "CONF-READY store-intruder-watching"
sc_tell a poke 1
sc_wait a "CONF-READY store-poked"
sc_tell c poked 1
sc_done c
sc_tell a finish 1
sc_done a

# A perm entry naming a domain that does not exist is kept as given (Xen
# 4.17's xenstored returns it unchanged), so a guest cannot learn from the
# store whether its peer exists (libvchan-cap's server does not try).
ghost=30000
ts_run0 conf-xs write /conf-ghost-perm 1 || sc_fail "dom0 cannot write /conf-ghost-perm"
ts_run0 conf-xs chmod /conf-ghost-perm n0 "r$ghost" ||
    sc_fail "the store refused a perm naming dom$ghost, which does not exist"
got=$(ts_run0 conf-xs perms /conf-ghost-perm)
[ "$got" = "0:0 $ghost:0x1" ] ||
    sc_fail "perms naming dom$ghost (no such domain) read back as '$got', not '0:0 $ghost:0x1'"
ts_run0 conf-xs rm /conf-ghost-perm

sc_create e conf-store special
sc_wait e "CONF-READY store-special-asked" || sc_finish
ts_run0 conf-xs chmod @releaseDomain n0 "r$ID_e" ||
    sc_fail "dom0 cannot let dom$ID_e read @releaseDomain"
sc_tell e special-open 1
sc_done e
for n in @releaseDomain @introduceDomain; do
    got=$(ts_run0 conf-xs try-perms $n)
    sc_log "dom0's GET_PERMS $n: $got"
    [ "$got" = EINVAL ] || sc_fail "dom0's GET_PERMS $n answered '$got', not EINVAL (Xen 4.17)"
done
ts_run0 conf-xs chmod @releaseDomain n0 || sc_fail "cannot close @releaseDomain again"

sc_expect a store-own-rw store-watch-initial-event store-perms-roundtrip \
    store-tx-conflict-eagain store-tx-conflict-no-effect store-tx-commit store-tx-abort \
    store-watch-fires store-perm-existing-domain store-secret-rewrite
sc_expect b store-read-granted store-write-readonly-refused store-read-secret-refused \
    store-write-secret-refused store-write-granted store-read-writeonly-refused \
    store-rm-refused store-setperm-refused store-write-outside-home-refused \
    store-write-dom0-refused store-reader-own-rw
sc_expect c store-third-read-shared-refused store-third-read-secret-refused \
    store-third-write-refused store-third-rm-refused store-third-list-refused \
    store-third-watch-no-leak
sc_expect d store-late-perm-ignored store-perm-after-create-works
sc_expect e store-special-release-perms-ungranted store-special-introduce-perms \
    store-special-release-perms-granted
sc_finish
