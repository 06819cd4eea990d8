#!/bin/sh
# A channel whose peer process died stays dead, on the real hypervisor (the
# program tests/sim/vchan/dead-end-sim.sh drives on xensim; dead_end_sim.c
# says what each end does):
#   forkshare, forkstore: another thread of the server forks while it
#     opens (inside gntalloc's share of the control page; at the first
#     store transaction after it), the child lingers; the server SIGKILLs
#     itself once connected: the client's next receive must end with EPIPE
#     within 3 s (gntalloc's unmap-notify must not wait for the child).
#   used: a client process killed mid-message (by its parent, the next
#     client) leaves the offer's port unbound for its domain (Xen's
#     EVTCHNOP_close); the next client must get EPIPE, not the dead one's
#     channel, and the server EPIPE, never a message of both clients' bytes.
# Written against the ts_* toolstack ($TS_IMPL).
S=dead-end
VC_PROG=dead-end-sim
. "${0%/*}/vchan-cap.inc"

# killed_ok NAME DOM: DOM's program got to its own SIGKILL, with a check
# passed and none failed (it prints no VCHAN-DONE).  Asked once the client
# is done, after the death.
killed_ok() {
    if ! ts_wait_marker "$2" "VCHAN-READY dying" "$WAIT"; then
        bad "$1: $2 never got to its death"; ts_console "$2" | tail -n 5
    elif ts_console "$2" | grep -q '^VCHAN-FAIL'; then
        bad "$1: $(ts_console "$2" | grep '^VCHAN-FAIL' | head -n 2)"
    elif ! ts_console "$2" | grep -q '^VCHAN-OK'; then
        bad "$1: $2 died without a VCHAN-OK"
    elif ts_console "$2" | grep '^@@DOMU-EXIT ' | grep -qv ' rc=137$'; then
        # (init-domU's line, on Xen only: 137 is death by SIGKILL)
        bad "$1: $2 was not killed: $(ts_console "$2" | grep '^@@DOMU-EXIT')"
    else
        ts_console "$2" | grep '^VCHAN-OK' | sed "s/^/[$S] $1: /"
    fi
}

for when in share store; do
    pair "fork$when" fork-server "$when" -- fork-client
    done_ok "fork-$when (client)" "vc-fork$when-c"
    killed_ok "fork-$when (server)" "vc-fork$when-s"
    finish_pair "fork$when"
done

# dom0 says go to the server only once the next client tried the offer: the
# server must not look at the channel before.
pair used used-server -- used-client
if ts_wait_marker vc-used-c "VCHAN-READY b-tried" "$WAIT"; then
    ts_run0 conf-xs write "/local/domain/$s/data/conf/go" 1 || bad "used: cannot say go"
else
    bad "used: the next client never tried the offer"
fi
done_ok "used (client)" vc-used-c
done_ok "used (server)" vc-used-s
finish_pair used
ts_run0 conf-xs chmod @releaseDomain n0 || bad "cannot close @releaseDomain again"
if [ "$fails" = 0 ]; then echo "SCENARIO-PASS $S"; else echo "SCENARIO-FAIL $S: $fails check(s) failed"; exit 1; fi
