#!/bin/sh
# Debian's unmodified test-xenstore against the host's store: in dom0, and in
# a guest domain (through conf-run, which reports its exit status).
. "${0%/*}/lib.sh"

tx=$TS_XEN_BIN/test-xenstore
sc_log "test-xenstore in dom0:"
if ts_run0 "$tx"; then
    sc_log "dom0: test-xenstore passed"
else
    sc_fail "dom0: test-xenstore exited with status $?"
fi
sc_create u conf-run "$tx"
sc_done u conf-run
sc_expect u run-test-xenstore
sc_console u | sed "s/^/[$SC_NAME] domU: /"
sc_finish
