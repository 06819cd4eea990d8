#!/bin/sh
# The harness' own smoke test, needing nothing of the project: Debian's
# unmodified vchan-socket-proxy (libxenvchan) between two guest domains,
# server in vp-a, client in vp-b, 256 KiB each way, checksums compared.
# Written against the ts_* toolstack interface ($TS_IMPL: ts-xl.sh on Xen).
. "$TS_IMPL" || { echo "SCENARIO-FAIL vchan-proxy: cannot load TS_IMPL"; exit 2; }
S=vchan-proxy
BYTES=262144
fail() { echo "SCENARIO-FAIL $S: $*"; exit 1; }

ts_create vp-a vchan-peer server $BYTES || fail "cannot create vp-a"
a=$(ts_domid vp-a) || fail "no domid for vp-a"
ts_create vp-b vchan-peer client $BYTES "$a" || fail "cannot create vp-b"
b=$(ts_domid vp-b) || fail "no domid for vp-b"
# vp-b exists now: only now may vp-a publish its ring for it
ts_run0 xenstore-write "/local/domain/$a/data/vchan-go" "$b" || fail "cannot write vchan-go"

for d in vp-a vp-b; do ts_wait_marker $d VCHAN-RECV 120 || fail "$d did not receive"; done
for d in $a $b; do ts_run0 xenstore-write "/local/domain/$d/data/vchan-close" 1 || fail "cannot write vchan-close"; done
for d in vp-a vp-b; do ts_wait_marker $d VCHAN-DONE 30 || fail "$d did not finish"; done

field() { ts_console "$1" | awk -v m="$2" '$1 == m { print $2 " " $3; exit }'; }
sa=$(field vp-a VCHAN-SENT) ra=$(field vp-a VCHAN-RECV)
sb=$(field vp-b VCHAN-SENT) rb=$(field vp-b VCHAN-RECV)
echo "a->b sent [$sa] received [$rb]; b->a sent [$sb] received [$ra]"
[ -n "$sa" ] && [ "$sa" = "$rb" ] || fail "a->b data differs: sent [$sa] received [$rb]"
[ -n "$sb" ] && [ "$sb" = "$ra" ] || fail "b->a data differs: sent [$sb] received [$ra]"
[ "${sa#* }" = $BYTES ] && [ "${sb#* }" = $BYTES ] || fail "wrong sizes: [$sa] [$sb]"
echo "CONF-PASS vchan-proxy-both-ways"
ts_destroy vp-a; ts_destroy vp-b
echo "SCENARIO-PASS $S"
