#!/bin/sh
# Debian's unmodified test-xenstore against the host's store. In dom0 it
# must pass. In a guest it must be refused: test-xenstore works under the
# relative path xenstore-test, i.e. in the guest's home /local/domain/<id>,
# which the toolstack makes read-only for the guest (libxl does; so does
# xensim) — on real Xen the same run fails with EACCES at its first write.
. "${0%/*}/lib.sh"

tx=$TS_XEN_BIN/test-xenstore
sc_log "test-xenstore in dom0:"
if ts_run0 "$tx"; then
    sc_log "dom0: test-xenstore passed"
else
    sc_fail "dom0: test-xenstore exited with status $?"
fi
sc_create u conf-run "$tx"
sc_ended u conf-run
c=$(sc_console u)
echo "$c" | sed "s/^/[$SC_NAME] domU: /"
if echo "$c" | grep -q "^CONF-PASS run-test-xenstore"; then
    sc_fail "domU: test-xenstore could write under its read-only home"
elif ! echo "$c" | grep -q "ret = 13"; then
    sc_fail "domU: test-xenstore failed, but not with EACCES (13)"
fi
sc_finish
