#!/bin/sh
# xensim's drop-in libxenevtchn against its daemon (evtchn_sim.c, cmocka):
# a hostile port owner cannot make its peer's notify block, a flood loses no
# later wake-up, a masked port's event leaves the fd quiet until unmask, and
# threads notifying across a peer change or an unbind touch no other fd.
# Runs in dom0 of a private host, so that the library path loads the drop-in.
. "$(dirname "$0")/../lib.sh"
PROG=${EVTCHN_SIM:-$top_builddir/tests/sim/evtchn/evtchn-sim}
[ -x "$PROG" ] || { echo "FAIL: evtchn-sim not built ($PROG)"; exit 1; }
"$XENSIM" up >/dev/null || { echo "FAIL: xensim up"; exit 1; }
"$XENSIM" exec 0 -- "$PROG"
