#!/bin/sh
# libvchan-cap end to end on a private xensim host: two simulated domains,
# vchan-sim in each (see vchan_sim.c).  Scenarios: a framed stream with every
# message checked (VCHAN_SIM_MIB, default 1024; again in the LINES layout
# with a quarter of it); round trips in LINES with every wait asleep; an
# end shared by a thread asleep in a flush and an event loop; the
# client's domain
# destroyed -> the server gets EPIPE (with and without dom0 granting read on
# @releaseDomain); the server's domain destroyed -> the client gets EPIPE; a
# client that rewrites its store node as fast as it can, its domain then
# destroyed mid-flood; the store connections of a server broken under it;
# the client process killed (unmap-notify) -> EPIPE;
# children of both ends
# forked once connected, which find their copies unusable and close them
# harmlessly, one outliving its parent; the client's domain
# destroyed right after it connected, before the server looked; a second
# channel on the same path outliving the first; a reconnection that
# outlives the client's old handle; a client process killed in a living
# domain, whose leaked liveness node the next client's open removes while a
# connected client's stays; a server process killed with its offer out,
# whose offer gives a client EPIPE until the next server's open removes
# it; client processes of one domain racing for one offer; revoke
# mid-stream; 150 channels at once; both ends opened without the store,
# the offer handed over by dom0, one channel and 200 at once;
# Debian's stock libxenvchan as the peer, both ways; and a stock client that
# dies while its child keeps gntdev, seen by our server's event loop.
# VCHAN_SIM_ONLY="NAME..." runs only those scenarios (names: $ALL, below).
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
vs_cleanup() { "$XENSIM" down >/dev/null 2>&1; [ -n "$VCHAN_SIM_KEEP" ] || rm -rf "$work"; }
trap vs_cleanup EXIT
# dash runs no EXIT trap on a signal: take the host down, then end as
# killed by it (without, the host and its domains would stay up).
vs_signal() { trap '' INT TERM; trap - EXIT; vs_cleanup; exit "$1"; }
trap 'vs_signal 130' INT
trap 'vs_signal 143' TERM
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
# As vipcd does at startup: let the domains read @releaseDomain, so that
# xenstored sends them its events (Xen 4.17: only to those who may read it).
grant_release() { # DOMID...
    perms="n0"; for d in "$@"; do perms="$perms r$d"; done
    "$XENSIM" exec 0 -- "$PROG" xs-chmod @releaseDomain $perms
}
# check_done NAME SCENARIO [SECS]: NAME finished with no failure counted or
# printed, and passed at least one check (a DONE alone proves nothing); its
# gntalloc opens, if any, went unseen by its other threads (the library
# logs the old way's first).
check_done() {
    if ! wait_marker "$1" "VCHAN-DONE" "${3:-$WAIT}"; then
        echo "FAIL $2: $1 did not finish"; log "$1" | tail -n 5; fails=$((fails + 1))
    elif log "$1" | grep -q "^VCHAN-FAIL"; then
        echo "FAIL $2: $(log "$1" | grep '^VCHAN-FAIL' | head -n 3)"; fails=$((fails + 1))
    elif ! log "$1" | grep -qx "VCHAN-DONE failures=0"; then
        echo "FAIL $2: $1 ended with $(log "$1" | grep '^VCHAN-DONE')"; fails=$((fails + 1))
    elif ! log "$1" | grep -q "^VCHAN-OK"; then
        echo "FAIL $2: $1 finished without a VCHAN-OK"; fails=$((fails + 1))
    elif log "$1" | grep -q "gntalloc opened the old way"; then
        echo "FAIL $2: $(log "$1" | grep -m 1 "gntalloc opened the old way")"; fails=$((fails + 1))
    else
        log "$1" | grep "^VCHAN-OK" | sed "s/^/ok   $2 $1: /"
    fi
}
# check_gone NAME SCENARIO MARKER: NAME, whose domain was destroyed (so no
# DONE), printed no failure and got to MARKER.
check_gone() {
    if log "$1" | grep -q "^VCHAN-FAIL"; then
        echo "FAIL $2: $(log "$1" | grep '^VCHAN-FAIL' | head -n 2)"; fails=$((fails + 1))
    elif ! log "$1" | grep -q "^$3"; then
        echo "FAIL $2: $1 never got to $3"; fails=$((fails + 1))
    else
        log "$1" | grep "^VCHAN-OK" | sed "s/^/ok   $2 $1: /"
    fi
}
# pair SCENARIO SERVER-ARGS -- CLIENT-ARGS: the client domain first, so that
# the server publishes only for a domain that exists.  With grant=1, dom0
# grants both read on @releaseDomain before they learn their peer (and so
# before they open the channel).
pair() {
    s=$1; shift
    sargs=""; while [ "$1" != -- ]; do sargs="$sargs $1"; shift; done; shift
    c=$(create "$s-cli" $*) || { echo "FAIL $s: create client"; fails=$((fails + 1)); return 1; }
    S=$(create "$s-srv" $sargs) || { echo "FAIL $s: create server"; fails=$((fails + 1)); return 1; }
    if [ "${grant:-0}" = 1 ]; then
        grant_release "$c" "$S" || { echo "FAIL $s: grant @releaseDomain"; fails=$((fails + 1)); }
    fi
    peer "$S" "$c"; peer "$c" "$S"
    C=$c
}
# destroy_when NAME MARKER VICTIM SCENARIO: once NAME printed MARKER, destroy
# domain VICTIM (no unmap-notify then: its kernel is gone).
destroy_when() {
    if wait_marker "$1" "$2"; then
        "$XENSIM" destroy "$3"
    else
        echo "FAIL $4: never got to $2"; log "$1" | tail -n 5; fails=$((fails + 1))
    fi
}
# The peer's death must be seen within the program's own bound (10 s); the
# script allows a little more for the program to report.
KILL_WAIT=20

sc_stream() {
    pair stream server stream "$MIB" -- client stream "$MIB"
    check_done stream-srv stream; check_done stream-cli stream
}

# The same between two vipc ends in the LINES layout (a quarter as much).
sc_lines() {
    pair lines server lines $((MIB / 4 + 1)) -- client lines $((MIB / 4 + 1))
    check_done lines-srv lines; check_done lines-cli lines
}

# LINES with every wait asleep: the relaxed handshake through xensim's
# event channels, every echo checked.
sc_sleepy() {
    pair sleepy server sleepy 5000 -- client sleepy 5000
    check_done sleepy-srv sleepy; check_done sleepy-cli sleepy
}

# One end shared by a thread asleep in a flush and an event loop: every
# message reaches the loop in a wake-up of its own.
sc_mixed() {
    pair mixed server mixed -- client mixed
    check_done mixed-srv mixed; check_done mixed-cli mixed
}

# The client's domain destroyed mid-stream: the server's blocked receive.
sc_kill() {
    grant=1; pair kill server kill -- client kill
    destroy_when kill-srv "VCHAN-READY kill" kill-cli kill
    check_done kill-srv kill "$KILL_WAIT"
    log kill-srv | grep -q "no read permission on @releaseDomain" &&
        { echo "FAIL kill: the grant on @releaseDomain was not seen"; fails=$((fails + 1)); }
}

# The same without the grant: the watch on the client's store node suffices
# (xenstored removes a destroyed domain's nodes).  xenstored (Xen 4.17's, and
# xensim's) tells no guest the perms of @releaseDomain, so the server cannot
# tell it lacks the grant: one clear log line says so.
sc_killng() {
    grant=0; pair killng server kill -- client kill
    destroy_when killng-srv "VCHAN-READY kill" killng-cli killng
    check_done killng-srv "kill (no @releaseDomain)" "$KILL_WAIT"
    n=$(log killng-srv | grep -c "cannot tell whether dom0 let this domain read @releaseDomain")
    [ "$n" = 1 ] && echo "ok   kill (no @releaseDomain): the fallback logged once" ||
        { echo "FAIL kill (no @releaseDomain): fallback logged $n times"; fails=$((fails + 1)); }
}

# A hostile client rewrites its store node as fast as it can: the server
# stays responsive, does not take the writes for a death, and sees the
# client's domain destroyed mid-flood.
sc_noisy() {
    grant=1; pair noisy server noisy -- client noisy
    destroy_when noisy-srv "VCHAN-READY noisy" noisy-cli noisy
    check_done noisy-srv noisy "$KILL_WAIT"
    # The client's domain is gone: no DONE; its flood's report instead.
    check_gone noisy-cli noisy "VCHAN-OK noisy:"
}

# The store connections break under a server with a channel open: its next
# open works, the first channel's close removes its nodes, and the client
# domain's destruction is still seen; each break said once.
sc_storecut() {
    grant=1; pair storecut server storecut -- client storecut
    destroy_when storecut-srv "VCHAN-READY storecut" storecut-cli storecut
    check_done storecut-srv storecut "$KILL_WAIT"
    check_gone storecut-cli storecut "VCHAN-READY storecut-client"
    for line in "the connection to the store was lost: channels go on over a fresh one" \
                "the store connection broke: watching the peers again on a fresh one"; do
        n=$(log storecut-srv | grep -c "$line")
        [ "$n" = 1 ] && echo "ok   storecut: \"$line\" said once" ||
            { echo "FAIL storecut: \"$line\" said $n times"; fails=$((fails + 1)); }
    done
}

# The server's domain destroyed while the client is blocked sending.
sc_killsrv() {
    grant=1; pair killsrv server killsrv -- client killsrv
    destroy_when killsrv-cli "VCHAN-READY killsrv-client" killsrv-srv killsrv
    check_done killsrv-cli killsrv "$KILL_WAIT"
}

# The client process dies, its domain lives: unmap-notify.
sc_pkill() {
    grant=1; pair pkill server pkill -- client pkill
    check_done pkill-srv pkill "$KILL_WAIT"
}

# fork: a child of either end finds its inherited copy unusable (EBADF) and
# closes it without harming the parent's channel; the client process dies
# while its child (copy not closed) lives on: the server must still see it.
sc_fork() {
    grant=1; pair fork server fork -- client fork
    check_done fork-srv fork "$KILL_WAIT"; check_done fork-cli fork
}

# The client's domain destroyed once connected but before the server ever
# looked at the store (no receive yet): its node came and went unseen.
sc_killearly() {
    grant=1; pair killearly server killearly -- client killearly
    if wait_marker killearly-srv "VCHAN-READY killearly" &&
       wait_marker killearly-cli "VCHAN-READY killearly-client"; then
        "$XENSIM" destroy "$C"
        "$XENSIM" exec 0 -- "$PROG" xs-write "/local/domain/$S/data/conf/go" 1
    else
        echo "FAIL killearly: never connected"; log killearly-srv | tail -n 5; fails=$((fails + 1))
    fi
    check_done killearly-srv killearly "$KILL_WAIT"
}

# A second channel offered on the same path, then the first closed: the
# client reconnects to the second.
sc_handoff() {
    pair handoff server handoff -- client handoff
    check_done handoff-srv handoff; check_done handoff-cli handoff
}

# The server reopens on the same path (same port), twice; the client
# reconnects, closing its old handle first, then last.
sc_reconnect() {
    pair reconnect server reconnect -- client reconnect
    for k in 2 3; do
        if wait_marker reconnect-srv "VCHAN-READY reconnect-$k"; then
            "$XENSIM" exec 0 -- "$PROG" xs-write "/local/domain/$C/data/conf/go$k" 1
        else
            echo "FAIL reconnect: no channel $k"; log reconnect-srv | tail -n 5; fails=$((fails + 1))
            break
        fi
    done
    check_done reconnect-srv reconnect; check_done reconnect-cli reconnect
}

# A client process SIGKILLed in a domain that lives on leaks its liveness
# node; the next client's open in that domain removes it, and keeps the node
# of the first client, still connected (each node's value ends with its
# offer's path).  The server closes the victim's channel once it saw the
# death and at once offers the new one: Xen reuses a freed port at once,
# and Linux a freed grant ref, so the new channel has the victim's port and
# ring-ref (checked: xensim must do the same), and the new client's
# clean-up of the victim's node must not end it (the channel id in the
# nodes' names keeps them apart; without it the names were the same).
xsls() { "$XENSIM" exec 0 -- "$PROG" xs-ls "$1"; }
sc_livegc() {
    pair livegc server livegc -- client livegc
    live="/local/domain/$C/data/vipc-vchan-live"
    offer="/local/domain/$S/data/vipc-vchan"
    if wait_marker livegc-cli "VCHAN-READY livegc-first"; then
        "$XENSIM" exec "$C" -- "$PROG" client livegc-victim > "$work/victim.log" 2>&1
        grep -q "^VCHAN-READY livegc-victim" "$work/victim.log" ||
            { echo "FAIL livegc: the victim never connected"; tail -n 5 "$work/victim.log"; fails=$((fails + 1)); }
        wait_marker livegc-srv "VCHAN-READY livegc-victim-dead" ||
            { echo "FAIL livegc: the victim's death not seen"; fails=$((fails + 1)); }
        before=$(xsls "$live")
        victim=$(echo "$before" | grep " $offer-victim\$" | cut -d' ' -f1)
        [ -n "$victim" ] &&
            echo "ok   livegc: the victim's node $victim leaked" ||
            { echo "FAIL livegc: no victim node to clean up: $before"; fails=$((fails + 1)); }
        newoffer=""
        end=$(($(date +%s) + WAIT))
        until [ "$(date +%s)" -ge "$end" ]; do
            newoffer=$(xsls "$offer-new" 2>/dev/null)
            echo "$newoffer" | grep -q "^vipc-channel-id " && break
            sleep 0.2
        done
        ref=$(echo "$newoffer" | sed -n 's/^ring-ref //p')
        port=$(echo "$newoffer" | sed -n 's/^event-channel //p')
        case "${victim#?/}" in
        "$S-$port-$ref-"*)
            echo "ok   livegc: the new channel has the victim's port $port and ring-ref $ref";;
        *)
            echo "FAIL livegc: the new channel has port '$port' and ring-ref '$ref', not the victim's ($victim)"
            fails=$((fails + 1));;
        esac
        "$XENSIM" exec "$C" -- "$PROG" client livegc-new > "$work/new.log" 2>&1 &
        newpid=$!
        end=$(($(date +%s) + WAIT))
        until grep -q "^VCHAN-READY livegc-new" "$work/new.log" 2>/dev/null; do
            [ "$(date +%s)" -ge "$end" ] && break
            sleep 0.2
        done
        after=$(xsls "$live")
        if [ -z "$victim" ] || echo "$after" | grep -q "^$victim "; then
            echo "FAIL livegc: the victim's node is still there: $after"; fails=$((fails + 1))
        elif ! echo "$after" | grep -q "^[0-9a-f]/[0-9a-f-]* v2 [0-9]* [0-9]* [0-9]* [0-9a-f-]* $offer\$"; then
            echo "FAIL livegc: the connected client's node is gone: $after"; fails=$((fails + 1))
        elif ! echo "$after" | grep -q " $offer-new\$"; then
            echo "FAIL livegc: the new client's node is missing: $after"; fails=$((fails + 1))
        else
            echo "ok   livegc: the victim's node removed, the live ones kept"
        fi
        "$XENSIM" exec 0 -- "$PROG" xs-write "/local/domain/$C/data/conf/go" 1
        wait "$newpid"
        if grep -qx "VCHAN-DONE failures=0" "$work/new.log" &&
           grep -q "^VCHAN-OK" "$work/new.log"; then
            grep "^VCHAN-OK" "$work/new.log" | sed "s/^/ok   livegc new client: /"
        else
            echo "FAIL livegc: the new client:"; tail -n 5 "$work/new.log"; fails=$((fails + 1))
        fi
    else
        echo "FAIL livegc: the first client never connected"; log livegc-cli | tail -n 5; fails=$((fails + 1))
    fi
    check_done livegc-srv livegc; check_done livegc-cli livegc
}

# A server process killed with its offer out, in a domain that lives on:
# a client's open of that offer gets EPIPE; the next server's open there
# removes that offer and its record, keeps its own, and its client
# connects.
sc_srvgc() {
    pair srvgc server srvgc -- client srvgc
    # The killed server's offer, before a new server removes it: EPIPE.
    if wait_marker srvgc-srv "VCHAN-READY deadoffer-left"; then
        "$XENSIM" exec 0 -- "$PROG" xs-write "/local/domain/$C/data/conf/go-dead" 1
    else
        echo "FAIL srvgc: the killed server's offer was not left"; log srvgc-srv | tail -n 5; fails=$((fails + 1))
    fi
    if wait_marker srvgc-cli "VCHAN-READY deadoffer-tried"; then
        "$XENSIM" exec 0 -- "$PROG" xs-write "/local/domain/$S/data/conf/go-new" 1
    else
        echo "FAIL srvgc: the client never tried the killed server's offer"; log srvgc-cli | tail -n 5; fails=$((fails + 1))
    fi
    if wait_marker srvgc-cli "VCHAN-READY srvgc"; then
        "$XENSIM" exec 0 -- "$PROG" xs-write "/local/domain/$C/data/conf/go" 1
    else
        echo "FAIL srvgc: the client never connected"; log srvgc-cli | tail -n 5; fails=$((fails + 1))
    fi
    check_done srvgc-srv srvgc; check_done srvgc-cli srvgc
}

# Client processes of one domain racing for one offer: one connects, the
# others get EBUSY (never EPIPE or EPROTO), 20 rounds.
sc_race() {
    pair race server race -- client race
    check_done race-srv race; check_done race-cli race
}

sc_revoke() {
    pair revoke server revoke -- client revoke
    check_done revoke-srv revoke; check_done revoke-cli revoke
}

# 150 channels between two domains at once: more liveness nodes and offer
# records than one guest directory may name on Xen 4.17 (entry size), so
# none may be refused; past 122 channels the store watches run out (128 per
# domain, 5 the kernel's, one per channel and one per process), which the
# library may log, nothing else; the first 122 must be watched.
sc_many() {
    grant=1; pair many server many 150 -- client many 150
    check_done many-srv many; check_done many-cli many
    # What an open costs, for the record (not a timed test).
    for e in srv cli; do
        log "many-$e" | grep "^VCHAN-INFO" | sed "s/^/info many many-$e: /"
    done
}

# 200 channels opened without the store (vipcd's way): past the 122 a
# process may watch, and with nothing logged, not even about watches; dom0
# hands the server's offers over in one node.
sc_manyoffer() {
    grant=1; pair manyoffer server many-offer 200 -- client many-offer 200
    hand_over manyoffer offers
    check_done manyoffer-srv manyoffer; check_done manyoffer-cli manyoffer
    for e in srv cli; do
        log "manyoffer-$e" | grep "^VCHAN-INFO" | sed "s/^/info manyoffer manyoffer-$e: /"
    done
}

# Stock libxenvchan as the client (our server) and as the server (our client).
# The stock end must see the close and report every byte echoed.
sc_stockcli() {
    grant=1; pair stockcli server echo 500 -- stock-client
    check_done stockcli-srv "ours=server,stock=client"
    check_done stockcli-cli "stock client" 30
}

sc_stocksrv() {
    grant=1; pair stocksrv stock-server -- client echo 500
    check_done stocksrv-cli "ours=client,stock=server"
    check_done stocksrv-srv "stock server" 30
}

# A stock server takes one client after another on its one offer, as
# vchan-socket-proxy's server does: the page says the last client left
# (cli_live 0), which our second client takes as libxenvchan's do.
sc_stockagain() {
    grant=1; pair stockagain stock-server again 2 -- client echo 500
    check_done stockagain-cli "ours=client,stock=server (first client)"
    out=$(timeout 60 "$XENSIM" exec "$C" -- "$PROG" client echo 500 2>&1)
    if printf '%s\n' "$out" | grep -qx "VCHAN-DONE failures=0" &&
        printf '%s\n' "$out" | grep -q "^VCHAN-OK"; then
        echo "ok   stockagain: a second client of ours on the stock server's offer"
    else
        echo "FAIL stockagain: second client: $(printf '%s\n' "$out" | tail -n 3)"
        fails=$((fails + 1))
    fi
    check_done stockagain-srv "stock server, two clients" 30
    if ! log stockagain-srv | grep -q "^VCHAN-OK stock: client 2 connected"; then
        echo "FAIL stockagain: the stock server never saw its second client"; fails=$((fails + 1))
    fi
}

# A stock client dies while a child of it keeps gntdev: its live byte is
# cleared (xensim, as Linux PV, at the death of the mapping process) but no
# event comes; our server's event loop must still report HUP.
sc_stockfork() {
    grant=1; pair stockfork server evloop -- stock-client forkdie
    wait_marker stockfork-cli "VCHAN-READY stock-forkdie" ||
        { echo "FAIL stockfork: the stock client never connected"; fails=$((fails + 1)); }
    check_done stockfork-srv "event loop, stock client dead, its child holding" 30
}

# hand_over SCENARIO WORD: once SCENARIO-srv printed "VCHAN-READY WORD
# <offer(s)>", dom0 writes them to data/conf/WORD in the client's home, as
# vipcd would hand them over.
hand_over() {
    if wait_marker "$1-srv" "VCHAN-READY $2 "; then
        o=$(log "$1-srv" | sed -n "s/^VCHAN-READY $2 //p" | head -n 1)
        "$XENSIM" exec 0 -- "$PROG" xs-write "/local/domain/$C/data/conf/$2" "$o"
    else
        echo "FAIL $1: the server made no offer"; log "$1-srv" | tail -n 5; fails=$((fails + 1))
    fi
}

# Both ends open without the store: dom0 hands the server's offer to the
# client (vipcd's part); nothing of vipc's may be in either domain's store.
sc_offer() {
    pair offer server offer $((MIB / 4 + 1)) -- client offer $((MIB / 4 + 1))
    hand_over offer offer
    check_done offer-srv offer; check_done offer-cli offer
    for d in "$S" "$C"; do
        left=$("$XENSIM" exec 0 -- "$PROG" xs-ls "/local/domain/$d/data" | grep -v "^conf/")
        [ -z "$left" ] && echo "ok   offer: nothing of vipc's in the store of domain $d" ||
            { echo "FAIL offer: domain $d's store holds: $left"; fails=$((fails + 1)); }
    done
}

# Every scenario, in this order; VCHAN_SIM_ONLY="many race" runs those
# alone.  Each starts without the grant on @releaseDomain (grant=0) unless
# it asks for it.
ALL="stream lines sleepy mixed kill killng killsrv noisy storecut pkill fork killearly handoff reconnect livegc srvgc race revoke many offer manyoffer stockcli stocksrv stockagain stockfork"
for sc in ${VCHAN_SIM_ONLY:-$ALL}; do
    case " $ALL " in
    *" $sc "*) grant=0; "sc_$sc" ;;
    *) echo "FAIL: no scenario $sc (VCHAN_SIM_ONLY; there are: $ALL)"; fails=$((fails + 1)) ;;
    esac
done

echo "vchan-sim: $fails failure(s)"
[ "$fails" -eq 0 ]
