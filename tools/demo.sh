#!/bin/sh
# The demo, for now (vipc's own services demo replaces it once vipcd and
# libvipc exist): a simulated Xen host on this machine, two guest domains,
# and Debian's unmodified vchan-socket-proxy (libxenvchan) carrying 64 MiB
# each way between them, the checksums of both ends compared. Every Xen call
# is the real library API; xensim stands in for the hypervisor.
#   run by `make demo` (top_builddir set), or: top_builddir=BUILD tools/demo.sh
set -eu
: "${top_builddir:?run through make demo}"
src=$(cd "$(dirname "$0")/.." && pwd)
XENSIM=$top_builddir/hyp/sim/xensim
demo=$(mktemp -d /tmp/vipc-demo.XXXXXX)
trap 'rm -rf "$demo"' EXIT

echo "== vipc demo: two Xen domains on xensim, talking through Debian's vchan-socket-proxy"
echo
echo "-- a look at a simulated host: xensim up, two domains from xl.cfg files, xensim list"
export XENSIM_DIR="$demo/host"
"$XENSIM" up
printf 'name = "alice"\nmemory = 256\n' > "$demo/alice.cfg"
printf 'name = "bob"\nmemory = 256\n' > "$demo/bob.cfg"
echo "alice is domain $("$XENSIM" create "$demo/alice.cfg")"
echo "bob is domain $("$XENSIM" create "$demo/bob.cfg")"
"$XENSIM" list
echo "inside bob, the store says: domid=$("$XENSIM" exec bob -- "$top_builddir/tests/conformance/conf-xs" read domid 2>/dev/null || echo '?')"
"$XENSIM" down
echo
echo "-- the transfer: the conformance scenario vchan-proxy on a fresh host"
echo "   (server in one domain, client in the other, ${CONF_VCHAN_MIB:-64} MiB each way)"
export TMPDIR="$demo" CONF_KEEP=1
top_builddir="$top_builddir" sh "$src/tests/conformance/run-xensim.sh" vchan-proxy
for log in "$demo"/conf-xs.*/vchan-proxy/log; do
    [ -f "$log" ] && grep -E 'CONF-INFO sent|sent=|SCENARIO' "$log" | sed 's/^/   /'
done
echo
echo "== demo done: the same binaries run on a real Xen 4.17 host (make check-xen boots one in QEMU)"
