#!/bin/sh
# libvchan-cap end to end on a private xensim host: two simulated domains,
# vchan-sim in each (see vchan_sim.c).  Scenarios: a framed stream with every
# message checked (VCHAN_SIM_MIB, default 1024), peer killed -> EPIPE, revoke
# mid-stream, and Debian's stock libxenvchan as the peer, both ways.
top_builddir=${top_builddir:-$(cd .. && pwd)}
XENSIM=${XENSIM:-$top_builddir/hyp/sim/xensim}
PROG=${VCHAN_SIM:-$top_builddir/tests/sim/vchan/vchan-sim}
MIB=${VCHAN_SIM_MIB:-1024}
WAIT=${VCHAN_SIM_WAIT:-120}
[ -x "$XENSIM" ] || { echo "FAIL: xensim not built ($XENSIM)"; exit 1; }
[ -x "$PROG" ] || { echo "FAIL: vchan-sim not built ($PROG)"; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/vchan-sim.XXXXXX")
export XENSIM_DIR="$work/host"
mkdir -p "$XENSIM_DIR"
trap '"$XENSIM" down >/dev/null 2>&1; [ -n "$VCHAN_SIM_KEEP" ] || rm -rf "$work"' EXIT
"$XENSIM" up >/dev/null || { echo "FAIL: xensim up"; exit 1; }
fails=0

log() { cat "$XENSIM_DIR/console/$1.log" 2>/dev/null | tr -d '\r'; }
wait_marker() {   # NAME MARKER [SECS]
    end=$(($(date +%s) + ${3:-$WAIT}))
    until log "$1" | grep -q "^$2"; do
        [ "$(date +%s)" -ge "$end" ] && return 1
        sleep 0.2
    done
}
create() {        # NAME ARGS...
    n=$1; shift
    printf 'name = "%s"\nmemory = 64\nvcpus = 1\n' "$n" > "$work/$n.cfg"
    "$XENSIM" create "$work/$n.cfg" -- "$PROG" "$@"
}
peer() {          # DOMID PEERID
    "$XENSIM" exec 0 -- "$PROG" xs-write "/local/domain/$1/data/conf/peer" "$2"
}
check_done() {    # NAME SCENARIO
    if ! wait_marker "$1" "VCHAN-DONE"; then
        echo "FAIL $2: $1 did not finish"; log "$1" | tail -n 5; fails=$((fails + 1))
    elif log "$1" | grep -q "^VCHAN-FAIL"; then
        echo "FAIL $2: $(log "$1" | grep '^VCHAN-FAIL' | head -n 3)"; fails=$((fails + 1))
    else
        log "$1" | grep "^VCHAN-OK" | sed "s/^/ok   $2 $1: /"
    fi
}
# pair SCENARIO SERVER-ARGS -- CLIENT-ARGS: the client domain first, so that
# the server publishes only for a domain that exists.
pair() {
    s=$1; shift
    sargs=""; while [ "$1" != -- ]; do sargs="$sargs $1"; shift; done; shift
    c=$(create "$s-cli" $*) || { echo "FAIL $s: create client"; fails=$((fails + 1)); return 1; }
    S=$(create "$s-srv" $sargs) || { echo "FAIL $s: create server"; fails=$((fails + 1)); return 1; }
    peer "$S" "$c"; peer "$c" "$S"
    C=$c
}

pair stream server stream "$MIB" -- client stream "$MIB"
check_done stream-srv stream; check_done stream-cli stream

pair kill server kill -- client kill
if wait_marker kill-srv "VCHAN-READY kill"; then
    "$XENSIM" destroy kill-cli
    check_done kill-srv kill
else
    echo "FAIL kill: server never got the first message"; log kill-srv | tail -n 5; fails=$((fails + 1))
fi

pair revoke server revoke -- client revoke
check_done revoke-srv revoke; check_done revoke-cli revoke

# Stock libxenvchan as the client (our server) and as the server (our client).
pair stockcli server echo 500 -- stock-client
check_done stockcli-srv "ours=server,stock=client"
wait_marker stockcli-cli "VCHAN-OK stock" 30 && log stockcli-cli | grep "^VCHAN-OK" | sed 's/^/ok   stock client: /' ||
    { echo "FAIL stock client did not see the close"; fails=$((fails + 1)); }
pair stocksrv stock-server -- client echo 500
check_done stocksrv-cli "ours=client,stock=server"
wait_marker stocksrv-srv "VCHAN-OK stock" 30 && log stocksrv-srv | grep "^VCHAN-OK" | sed 's/^/ok   stock server: /' ||
    { echo "FAIL stock server did not see the close"; fails=$((fails + 1)); }

echo "vchan-sim: $fails failure(s)"
[ "$fails" -eq 0 ]
