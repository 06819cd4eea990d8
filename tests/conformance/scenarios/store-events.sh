#!/bin/sh
# Watch events as Xen 4.17's xenstored queues them for a connection that
# does not read (XSA-326): an event identical to one still queued (the same
# path and token) is dropped, so once the reader's socket is full its
# writer's N writes of one node add one queued event between them, not N.
# And the last write's event still comes. (dom0 only: a guest's kernel
# reads its ring as events come, so a guest process never sees a merge.)
. "${0%/*}/lib.sh"

N=${STORE_EVENTS_WRITES:-4000}
node=/conf-store-events
out=$(ts_run0 conf-xs merge "$node" "$N") ||
    sc_abort "conf-xs merge $node $N failed: $out"
sc_log "$out"
set -- $out
case $1 in ''|*[!0-9]*) sc_abort "conf-xs merge printed '$out', not a count";; esac
if [ "$1" -lt 1 ]; then
    sc_fail "no event for $N writes of $node: the last write's event is lost"
elif [ "$1" -ge $((N / 2)) ]; then
    sc_fail "$1 events for $N writes of $node to an unread connection: identical queued events were not merged"
fi
ts_run0 conf-xs rm "$node" >/dev/null 2>&1 || sc_fail "cannot remove $node"
sc_finish
