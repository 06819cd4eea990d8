#!/bin/sh
# Isolation: a shares pages and offers event channels to b; a third domain c,
# even told the refs and port numbers by dom0, can neither read the nodes
# they were published in, nor map the grants, nor bind the ports (not even
# a port still unbound). (Store nodes: see store-perms, which has a third
# domain too.)
. "${0%/*}/lib.sh"

sc_create a conf-run -p conf-grant share -- conf-evtchn server
sc_create b conf-run -p conf-grant map -- conf-evtchn client
sc_create c conf-run conf-grant intrude -- conf-evtchn intrude
sc_tell a peer "$ID_b"
sc_tell b peer "$ID_a"
sc_tell c target "$ID_a"
sc_wait a "CONF-READY grant-shared" || sc_finish
sc_wait a "CONF-READY evtchn-bound" || sc_finish
# dom0 may read everything: hand c what it could not learn by itself.
refs=$(ts_run0 conf-xs read "/local/domain/$ID_a/data/conf/grant-refs") ||
    sc_abort "dom0 cannot read a's grant refs"
ports=$(ts_run0 conf-xs read "/local/domain/$ID_a/data/conf/evtchn-ports") ||
    sc_abort "dom0 cannot read a's ports"
sc_log "a's refs: $refs; ports: $ports"
sc_tell c refs "$refs"
sc_tell c ports "$ports"
sc_done c conf-run
sc_wait b "CONF-READY grant-mapped"
sc_wait b "CONF-READY evtchn-client"
sc_tell a finish 1
sc_tell b finish 1
sc_done a conf-run
sc_done b conf-run
sc_expect c grant-third-refs-unreadable grant-third-map-refused grant-third-copy-refused \
    evtchn-third-ports-unreadable evtchn-third-bind-unbound-refused \
    evtchn-third-bind-connected-refused run-conf-grant run-conf-evtchn
sc_expect a run-conf-grant run-conf-evtchn
sc_expect b run-conf-grant run-conf-evtchn
sc_finish
