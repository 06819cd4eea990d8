#!/bin/sh
# xensim's drop-in libxengnttab against its daemon (gnttab_sim.c, cmocka):
# closing a handle leaves the address space alone, a map takes as many refs
# as Linux's gntdev, an unshare of no pages is EINVAL.
# Runs in dom0 of a private host, so that the library path loads the drop-in.
. "$(dirname "$0")/../lib.sh"
PROG=${GNTTAB_SIM:-$top_builddir/tests/sim/gnttab/gnttab-sim}
[ -x "$PROG" ] || { echo "FAIL: gnttab-sim not built ($PROG)"; exit 1; }
"$XENSIM" up >/dev/null || { echo "FAIL: xensim up"; exit 1; }
"$XENSIM" exec 0 -- "$PROG"
