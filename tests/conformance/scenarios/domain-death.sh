#!/bin/sh
# Domain death mid-transfer, as Xen 4.17 has it. In two pairs a victim
# streams into a shared page (v1 maps s1's page, v2 shares its page with s2),
# with unmap-notify on the live byte and the survivor's event channel. dom0
# opens @releaseDomain to the two survivors (read permission on the special
# node), then destroys both victims. A destroyed domain fires no unmap-notify
# (that is its kernel's doing, and it never runs again), so each survivor must
# see: no event on the notify port and the live byte still 1 for a few
# seconds, the transfer stopped, its page still mapped, and a @releaseDomain
# event after which the node its peer published for it is gone. A fifth
# domain, the outsider, watches @releaseDomain without the permission: its
# watch is accepted but it gets no event for the deaths, and it may neither
# open the node to itself nor ask IS_DOMAIN_INTRODUCED.
. "${0%/*}/lib.sh"

# dom0 puts @releaseDomain back as Xen's xenstored starts it (dom0's, no one
# else's) whatever happened: on real Xen the host outlives the scenario.
dd_finish() {
    ts_run0 conf-xs chmod @releaseDomain n0 ||
        sc_fail "dom0 cannot restore @releaseDomain's permissions"
    sc_finish
}

sc_create s1 conf-notify survivor grant death
sc_create v1 conf-notify victim map domain
sc_create s2 conf-notify survivor map death
sc_create v2 conf-notify victim grant domain
sc_create o conf-notify outsider
# Every domain exists now: a permission entry naming a later one is ignored.
ts_run0 conf-xs chmod @releaseDomain n0 "r$ID_s1" "r$ID_s2" ||
    { sc_fail "dom0 cannot open @releaseDomain to the survivors"; dd_finish; }
sc_tell s1 peer "$ID_v1"
sc_tell v1 peer "$ID_s1"
sc_tell s2 peer "$ID_v2"
sc_tell v2 peer "$ID_s2"
sc_tell o peer "$ID_v1"
sc_wait s1 "CONF-READY notify-streaming" || dd_finish
sc_wait s2 "CONF-READY notify-streaming" || dd_finish
sc_wait o "CONF-READY outsider-watching" || dd_finish
sc_expect v1 notify-victim-setup
sc_expect v2 notify-victim-setup
ts_destroy "$(sc_dom v1)" || sc_fail "cannot destroy $(sc_dom v1)"
ts_destroy "$(sc_dom v2)" || sc_fail "cannot destroy $(sc_dom v2)"
sc_log "victims destroyed"
# A survivor waits up to its timeout for the death, then a few seconds for
# a late unmap-notify.
sc_wait s1 "CONF-READY death-checked" $((SC_WAIT + 15))
sc_wait s2 "CONF-READY death-checked" $((SC_WAIT + 15))
# Only now: the outsider stops looking once told to finish.
for k in s1 s2 o; do sc_tell $k finish 1; done
sc_done s1
sc_done s2
sc_done o
for s in s1 s2; do
    sc_expect $s death-release-watch-accepted death-release-initial-event \
        death-peer-node-readable notify-transfer-running death-release-event \
        death-peer-gone death-no-notify-event death-live-byte-kept \
        death-transfer-stopped death-page-still-mapped
done
sc_expect o outsider-is-introduced-refused outsider-release-perms-refused \
    outsider-release-watch-accepted outsider-release-initial-event \
    outsider-no-release-event
dd_finish
