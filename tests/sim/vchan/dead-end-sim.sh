#!/bin/sh
# A channel whose peer process died stays dead (libvchan-cap on a private
# xensim host; dead_end_sim.c says what each end does):
#   fork-share, fork-store: another thread of the server forks while it
#     opens (inside the control page's share; at the first store request
#     after it), the child lingers; the server dies (SIGKILL) once
#     connected: the client's next receive must end with EPIPE, not time
#     out (the child must hold neither the page nor the grant device).
#   used: a client process killed mid-message leaves the offer's port free
#     to bind again; the next client of that domain must get EPIPE, not the
#     dead one's channel, and the server EPIPE, never a message made of
#     both clients' bytes.
# DEAD_END_ONLY="NAME..." runs only those scenarios.
top_builddir=${top_builddir:-$(cd .. && pwd)}
. "$(dirname "$0")/../lib.sh"
PROG=${DEAD_END_SIM:-$top_builddir/tests/sim/vchan/dead-end-sim}
# dom0's store writes: vchan-sim's helper.
HELPER=${VCHAN_SIM:-$top_builddir/tests/sim/vchan/vchan-sim}
WAIT=60
for p in "$XENSIM" "$PROG" "$HELPER"; do
    [ -x "$p" ] || { bad "not built: $p"; finish; exit 1; }
done
"$XENSIM" up >/dev/null || { bad "xensim up"; finish; exit 1; }

log() { tr -d '\r' < "$XENSIM_DIR/console/$1.log" 2>/dev/null; }
wait_marker() {   # NAME MARKER: until NAME's console has a line starting so
    end=$(($(date +%s) + WAIT))
    until log "$1" | grep -q "^$2"; do
        [ "$(date +%s)" -ge "$end" ] && return 1
        sleep 0.2
    done
}
xs_write() { "$XENSIM" exec 0 -- "$HELPER" xs-write "$1" "$2" >/dev/null; }
# pair NAME SERVER-ARGS -- CLIENT-ARGS: the client's domain first, then the
# server's, each told the other's domid.
pair() {
    n=$1; shift
    sargs=""; while [ "$1" != -- ]; do sargs="$sargs $1"; shift; done; shift
    C=$("$XENSIM" create "$(mkcfg "$n-cli" 'memory = 64' 'vcpus = 1')" -- "$PROG" "$@") &&
    S=$("$XENSIM" create "$(mkcfg "$n-srv" 'memory = 64' 'vcpus = 1')" -- "$PROG" $sargs) &&
    xs_write "/local/domain/$S/data/conf/peer" "$C" &&
    xs_write "/local/domain/$C/data/conf/peer" "$S"
}
# report NAME: NAME's OK lines pass, its FAIL lines fail; it must have
# passed something.
report() {
    log "$1" | grep "^VCHAN-OK" | while IFS= read -r l; do echo "PASS: $1: ${l#VCHAN-OK }"; done
    pass=$((pass + $(log "$1" | grep -c "^VCHAN-OK")))
    log "$1" | grep "^VCHAN-FAIL" | while IFS= read -r l; do echo "FAIL: $1: ${l#VCHAN-FAIL }"; done
    fail=$((fail + $(log "$1" | grep -c "^VCHAN-FAIL")))
    log "$1" | grep -q "^VCHAN-OK" || bad "$1: passed nothing"
    ! log "$1" | grep -q "lock order broken" || bad "$1: $(log "$1" | grep -m 1 "lock order broken")"
}
done_or_bad() {   # NAME: NAME reported VCHAN-DONE in time
    wait_marker "$1" "VCHAN-DONE" || { bad "$1 did not finish"; log "$1" | tail -n 5; }
}

sc_fork() {   # WHEN
    pair "fork-$1" fork-server "$1" -- fork-client || { bad "fork-$1: domains"; return; }
    done_or_bad "fork-$1-cli"
    wait_marker "fork-$1-srv" "VCHAN-READY dying" || bad "fork-$1: the server never got to its death"
    report "fork-$1-srv"; report "fork-$1-cli"
}
sc_fork_share() { sc_fork share; }
sc_fork_store() { sc_fork store; }

sc_used() {
    pair used used-server -- used-client || { bad "used: domains"; return; }
    if wait_marker used-cli "VCHAN-READY b-tried"; then
        xs_write "/local/domain/$S/data/conf/go" 1 || bad "used: go"
    else
        bad "used: the second client never tried"
    fi
    done_or_bad used-cli; done_or_bad used-srv
    report used-srv; report used-cli
}

ALL="fork_share fork_store used"
for sc in ${DEAD_END_ONLY:-$ALL}; do
    case " $ALL " in
    *" $sc "*) "sc_$sc" ;;
    *) bad "no scenario $sc (there are: $ALL)" ;;
    esac
done
finish
