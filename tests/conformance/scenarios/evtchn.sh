#!/bin/sh
# Event channels: closing a handle frees its port at once (the next port
# allocated is that one again); a allocates an unbound port for b, b binds
# it; 200 strict ping-pong rounds lose no notification; a bound or
# never-allocated port cannot be bound again. As on Xen, binding leaves an
# event pending on the binder's new port (for notifications sent before the
# bind).
. "${0%/*}/lib.sh"

sc_create a conf-evtchn server
sc_create b conf-evtchn client
sc_tell a peer "$ID_b"
sc_tell b peer "$ID_a"
sc_wait b "CONF-READY evtchn-client"
sc_tell a finish 1
sc_tell b finish 1
sc_done a
sc_done b
sc_expect a evtchn-close-frees-port evtchn-alloc-unbound evtchn-recv evtchn-pingpong-server
sc_expect b evtchn-bind-interdomain evtchn-bind-sets-pending evtchn-recv-reply evtchn-pingpong-client \
    evtchn-rebind-refused evtchn-bogus-port-refused
sc_finish
