#!/bin/sh
# libvchan-cap between two guest domains on the real hypervisor (the program
# tests/sim/vchan/vchan-sim.sh drives on xensim): a framed stream with every
# sequence number and byte checked; a client domain destroyed mid-call (no
# unmap-notify on Xen: the server learns it through @releaseDomain and the
# client's store node, and fails with EPIPE); a client process killed
# (unmap-notify -> EPIPE). Written against the ts_* toolstack ($TS_IMPL).
S=vchan-cap
. "${0%/*}/vchan-cap.inc"
pair stream server stream "$MIB" -- client stream "$MIB"
done_ok stream vc-stream-s; done_ok stream vc-stream-c
finish_pair stream

pair kill server kill -- client kill
if ts_wait_marker vc-kill-s "VCHAN-READY kill" "$WAIT"; then
    ts_destroy vc-kill-c || bad "kill: cannot destroy the client domain"
else
    bad "kill: the server never got to its blocked receive"
fi
done_ok "kill (domain destroyed)" vc-kill-s
finish_pair kill

pair pkill server pkill -- client pkill
done_ok "pkill (process killed, unmap-notify)" vc-pkill-s
finish_pair pkill
ts_run0 conf-xs chmod @releaseDomain n0 || bad "cannot close @releaseDomain again"
if [ "$fails" = 0 ]; then echo "SCENARIO-PASS $S"; else echo "SCENARIO-FAIL $S: $fails check(s) failed"; exit 1; fi
