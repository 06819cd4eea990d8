#!/bin/sh
# A store connection that breaks under its client (its socket shut, as a
# restarted xenstored leaves it): libxenstore gives it up at the first
# failure, with ECONNRESET, EPIPE or EBADF, and every later call fails
# with EBADF. libvchan-cap (hyp_store.c) takes those three for a lost
# connection and opens a fresh one. The store itself goes on. (dom0 only:
# a guest's connection is its kernel's xenbus device.)
. "${0%/*}/lib.sh"

node=/conf-store-lost
out=$(ts_run0 conf-xs cut "$node") || sc_abort "conf-xs cut $node failed: $out"
sc_log "after the cut: $out"
set -- $out
case $1 in
ECONNRESET|EPIPE|EBADF) ;;
*) sc_fail "the first call after the cut failed with $1, not ECONNRESET, EPIPE or EBADF";;
esac
[ "$2" = EBADF ] && [ "$3" = EBADF ] ||
    sc_fail "later calls failed with $2 and $3, not EBADF: the connection was not given up"
# A fresh connection works, and finds the value from before the cut.
v=$(ts_run0 conf-xs read "$node") || sc_fail "a fresh connection cannot read $node"
[ "$v" = 0 ] || sc_fail "$node is '$v' on a fresh connection, not 0"
ts_run0 conf-xs rm "$node" >/dev/null 2>&1 || sc_fail "cannot remove $node"
sc_finish
