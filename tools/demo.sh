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
demo=$(mktemp -d "${TMPDIR:-/tmp}/vipc-demo.XXXXXX")

# However the demo ends, no simulated host of it stays up: each is taken
# down while its folder still names its daemon.  Done or interrupted, the
# folder goes; failed, it stays for its logs.
finish() {
    rc=$1
    trap - EXIT INT TERM
    for h in "$demo/host" "$demo"/conf-xs.*/*/host; do
        [ -d "$h" ] && XENSIM_DIR=$h "$XENSIM" down > /dev/null 2>&1 || true
    done
    case $rc in
    0) rm -rf "$demo" ;;
    130|143) rm -rf "$demo"; echo "demo: interrupted" >&2 ;;
    *) echo "demo: FAILED (exit status $rc); its files and logs are kept in $demo" >&2 ;;
    esac
    exit "$rc"
}
trap 'finish $?' EXIT
trap 'finish 130' INT
trap 'finish 143' TERM
die() { echo "demo: $*" >&2; exit 1; }
# create NAME: a domain from NAME's xl.cfg file; its domid on stdout.
create() {
    id=$("$XENSIM" create "$demo/$1.cfg") || die "cannot create domain $1 (xensim create $demo/$1.cfg failed)"
    case $id in
    ''|*[!0-9]*) die "xensim create of domain $1 gave '$id', not a domain id" ;;
    esac
    echo "$id"
}

echo "== vipc demo: two Xen domains on xensim, talking through Debian's vchan-socket-proxy"
echo
echo "-- a look at a simulated host: xensim up, two domains from xl.cfg files, xensim list"
export XENSIM_DIR="$demo/host"
"$XENSIM" up
printf 'name = "alice"\nmemory = 256\n' > "$demo/alice.cfg"
printf 'name = "bob"\nmemory = 256\n' > "$demo/bob.cfg"
alice=$(create alice)
echo "alice is domain $alice"
bob=$(create bob)
echo "bob is domain $bob"
"$XENSIM" list
echo "inside bob, the store says: domid=$("$XENSIM" exec bob -- "$top_builddir/tests/conformance/conf-xs" read domid 2>/dev/null || echo '?')"
"$XENSIM" down
echo
echo "-- the transfer: the conformance scenario vchan-proxy on a fresh host"
echo "   (server in one domain, client in the other, ${CONF_VCHAN_MIB:-64} MiB each way)"
# Its logs are kept (CONF_KEEP) for the lines below; the demo's folder,
# which holds them, is removed when all went well.
if ! TMPDIR="$demo" CONF_KEEP=1 top_builddir="$top_builddir" \
     sh "$src/tests/conformance/run-xensim.sh" vchan-proxy > "$demo/transfer.out" 2>&1; then
    cat "$demo/transfer.out"
    die "the transfer failed"
fi
grep -v '^logs kept in ' "$demo/transfer.out" || true
for log in "$demo"/conf-xs.*/vchan-proxy/log; do
    [ -f "$log" ] && grep -E 'CONF-INFO sent|sent=|SCENARIO' "$log" | sed 's/^/   /'
done
echo
echo "== demo done: the same binaries run on a real Xen 4.17 host (make check-xen boots one in QEMU)"
