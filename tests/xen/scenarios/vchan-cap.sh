#!/bin/sh
# libvchan-cap between two guest domains on the real hypervisor (the program
# tests/sim/vchan/vchan-sim.sh drives on xensim): a framed stream with every
# sequence number and byte checked; an end shared by a thread asleep in a
# flush and an event loop; a client domain destroyed mid-call (no
# unmap-notify on Xen: the server learns it through @releaseDomain and the
# client's store node, and fails with EPIPE); a client process killed
# (unmap-notify -> EPIPE); a client that rewrites its store node as fast
# as it can, then its domain destroyed mid-flood; children of both ends
# forked once connected,
# which find their copies unusable and close them harmlessly, one outliving
# the client process, whose death the server must still see; a client
# domain destroyed right after it
# connected, before the server looked at the store; a server reopened on
# the same path twice, the client reconnecting; client processes of one
# domain racing for one offer; a server process killed with its offer out;
# both ends opened without the store, dom0 handing the offer over, one
# channel and 200 at once;
# 150 channels between two guests at once (past one guest directory's entry
# size, and the domain's 128 store watches).
# Written against the ts_* toolstack ($TS_IMPL).
S=vchan-cap
. "${0%/*}/vchan-cap.inc"
pair stream server stream "$MIB" -- client stream "$MIB"
done_ok stream vc-stream-s; done_ok stream vc-stream-c
finish_pair stream

# One end shared by a thread asleep in a flush and an event loop: every
# message reaches the loop in a wake-up of its own, though the sleeper
# consumes the event channel's events.
pair mixed server mixed -- client mixed
done_ok mixed vc-mixed-s; done_ok mixed vc-mixed-c
finish_pair mixed

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

# fork: a child of either end finds its inherited copy unusable (EBADF),
# the ring not even mapped, and closes it without harming the parent's
# channel; the client process dies while its child (copy not closed) lives on:
# the server must still see it (gntdev unmaps when the last holder goes).
# A hostile client rewrites its store node as fast as it can (100 times at
# least, under emulation): the server stays responsive, does not take the
# writes for a death, and sees the client's domain destroyed mid-flood.
pair noisy server noisy -- client noisy 100
if ts_wait_marker vc-noisy-s "VCHAN-READY noisy" "$WAIT"; then
    ts_destroy vc-noisy-c || bad "noisy: cannot destroy the client domain"
else
    bad "noisy: the server never got to its blocked receive"
fi
done_ok "noisy (domain destroyed mid-flood)" vc-noisy-s
if ts_console vc-noisy-c | grep -q '^VCHAN-FAIL'; then
    bad "noisy: $(ts_console vc-noisy-c | grep '^VCHAN-FAIL' | head -n 2)"
elif ! ts_console vc-noisy-c | grep -q '^VCHAN-OK noisy:'; then
    bad "noisy: the client never reported its flood"
else
    ts_console vc-noisy-c | grep '^VCHAN-OK' | sed "s/^/[$S] noisy: /"
fi
finish_pair noisy

pair fork server fork -- client fork
done_ok fork vc-fork-s; done_ok fork vc-fork-c
finish_pair fork

# The client's domain destroyed once connected, before the server ever
# looked at the store: its liveness node came and went unseen; the server
# must still end with EPIPE (it counts xenstored's events for the node).
pair killearly server killearly -- client killearly
if ts_wait_marker vc-killearly-s "VCHAN-READY killearly" "$WAIT" &&
   ts_wait_marker vc-killearly-c "VCHAN-READY killearly-client" "$WAIT"; then
    ts_destroy vc-killearly-c || bad "killearly: cannot destroy the client domain"
    ts_run0 conf-xs write "/local/domain/$s/data/conf/go" 1 || bad "killearly: cannot say go"
else
    bad "killearly: the pair never connected"
fi
done_ok "killearly (domain destroyed before the server looked)" vc-killearly-s
finish_pair killearly

# The server reopens on the same path twice (Xen hands it the port just
# freed); the client reconnects, closing its old handle first, then last:
# neither may end the new channel.
pair reconnect server reconnect -- client reconnect
for k in 2 3; do
    if ts_wait_marker vc-reconnect-s "VCHAN-READY reconnect-$k" "$WAIT"; then
        ts_run0 conf-xs write "/local/domain/$c/data/conf/go$k" 1 || bad "reconnect: cannot say go$k"
    else
        bad "reconnect: no channel $k"; break
    fi
done
done_ok reconnect vc-reconnect-s; done_ok reconnect vc-reconnect-c
finish_pair reconnect
# Client processes of one domain racing for one offer (5 rounds of 3): one
# connects, the others get EBUSY, never EPIPE or EPROTO.
pair race server race 5 -- client race 5
done_ok race vc-race-s; done_ok race vc-race-c
finish_pair race

# A server process killed with its offer out: a client's open of that offer
# gets EPIPE; the next server's open in its domain removes that offer and
# its record; the client connects to the new one.
pair srvgc server srvgc -- client srvgc
if ts_wait_marker vc-srvgc-s "VCHAN-READY deadoffer-left" "$WAIT"; then
    ts_run0 conf-xs write "/local/domain/$c/data/conf/go-dead" 1 || bad "srvgc: cannot say go-dead"
else
    bad "srvgc: the killed server's offer was not left"
fi
if ts_wait_marker vc-srvgc-c "VCHAN-READY deadoffer-tried" "$WAIT"; then
    ts_run0 conf-xs write "/local/domain/$s/data/conf/go-new" 1 || bad "srvgc: cannot say go-new"
else
    bad "srvgc: the client never tried the killed server's offer"
fi
if ts_wait_marker vc-srvgc-c "VCHAN-READY srvgc" "$WAIT"; then
    ts_run0 conf-xs write "/local/domain/$c/data/conf/go" 1 || bad "srvgc: cannot say go"
else
    bad "srvgc: the client never connected"
fi
done_ok srvgc vc-srvgc-s; done_ok srvgc vc-srvgc-c
finish_pair srvgc

# Both ends open without the store (vchan_*_open_offer): dom0 hands the
# server's offer to the client, as vipcd will; a second open of it gets
# EPIPE (its port is bound); a stream; the client's close ends the server's
# blocked receive.  Neither domain may get a liveness node or offer record.
# hand_over NAME WORD: once vc-NAME-s printed "VCHAN-READY WORD <offer(s)>",
# dom0 writes them to data/conf/WORD in the client's home, as vipcd would.
hand_over() {
    if ts_wait_marker "vc-$1-s" "VCHAN-READY $2 " "$WAIT"; then
        o=$(ts_console "vc-$1-s" | sed -n "s/^VCHAN-READY $2 //p" | head -n 1)
        ts_run0 conf-xs write "/local/domain/$c/data/conf/$2" "$o" || bad "$1: cannot hand the offer over"
    else
        bad "$1: the server made no offer"
    fi
}
pair offer server offer "$MIB" -- client offer "$MIB"
hand_over offer offer
done_ok offer vc-offer-s; done_ok offer vc-offer-c
ts_run0 conf-xs read "/local/domain/$s/data/vipc-vchan-offers" >/dev/null 2>&1 &&
    bad "offer: the server's domain has offer records"
ts_run0 conf-xs read "/local/domain/$c/data/vipc-vchan-live" >/dev/null 2>&1 &&
    bad "offer: the client's domain has liveness nodes"
finish_pair offer

# 150 channels at once: the liveness nodes and offer records take more than
# one guest directory may name (2 KB), and the watches run out at 122 (128
# per domain, 5 the kernel's, one per channel and one per process; a refused
# watch closes a guest's store connection, which the library opens again,
# watching anew what the old one did).  Each channel opens and echoes.
pair many server many 150 -- client many 150
done_ok many vc-many-s; done_ok many vc-many-c
finish_pair many
# 200 channels opened without the store: no store watch at all, so past
# the 122 a process may watch, with nothing logged; dom0 hands the offers
# over in one node.
pair manyoffer server many-offer 200 -- client many-offer 200
hand_over manyoffer offers
done_ok manyoffer vc-manyoffer-s; done_ok manyoffer vc-manyoffer-c
finish_pair manyoffer
ts_run0 conf-xs chmod @releaseDomain n0 || bad "cannot close @releaseDomain again"
if [ "$fails" = 0 ]; then echo "SCENARIO-PASS $S"; else echo "SCENARIO-FAIL $S: $fails check(s) failed"; exit 1; fi
