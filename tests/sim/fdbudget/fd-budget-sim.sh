#!/bin/sh
# The daemon's per-domain descriptor budget (fd_budget.h) on a private host:
# a guest with xensim_max_fds = 9 binds ports, opens a connection and shares
# pages until refused with EMFILE (fd_budget_sim.c, hog); while it holds
# everything, another guest and dom0 still get ports, shares and
# connections, and the daemon answers; the refusals make one log line naming
# the domain and its budget; releasing gives the room back; destroying the
# guest, even one holding its whole budget, leaves nothing charged and no
# descriptor behind in the daemon.
. "$(dirname "$0")/../lib.sh"
PROG=${FD_BUDGET_SIM:-$top_builddir/tests/sim/fdbudget/fd-budget-sim}
[ -x "$PROG" ] || { echo "FAIL: fd-budget-sim not built ($PROG)"; exit 1; }
"$XENSIM" up >/dev/null || { echo "FAIL: xensim up"; exit 1; }
dlog="$XENSIM_DIR/xensimd.log"
daemon=$(for f in /proc/[0-9]*/fd/*; do
    [ "$(readlink "$f" 2>/dev/null)" = "$XENSIM_DIR/xensimd.lock" ] && { f=${f#/proc/}; echo "${f%%/*}"; }
done | sort -u)
nfds() { ls "/proc/$daemon/fd" | wc -l; }
# The count once two looks 0.2 s apart agree: a CLI's control connection
# or a new guest's first connections come and go around each step.
nfds_settled() {
    prev=-1 i=0
    while n=$(nfds); [ "$n" != "$prev" ] && [ $i -lt 25 ]; do
        prev=$n i=$((i + 1)); sleep 0.2
    done
    echo "$n"
}
console() { tr -d '\r' < "$XENSIM_DIR/console/$1.log" 2>/dev/null; }
wait_line() {     # NAME PATTERN: up to 30 s
    i=0
    until console "$1" | grep -q "$2"; do
        i=$((i + 1)); [ $i -ge 150 ] && return 1
        sleep 0.2
    done
}

check "the daemon logs its descriptor limit and the guest budget" \
    grep -q "descriptor limit [0-9]*, guest budget [0-9]*" "$dlog"
"$XENSIM" create "$(mkcfg other)" -- sleep 600 >/dev/null
before=$(nfds_settled)
hog=$("$XENSIM" create "$(mkcfg fdhog 'xensim_max_fds = 9')" -- "$PROG" hog "$work/release")
if wait_line fdhog "^holding"; then ok "the guest filled its budget"; else bad "the guest filled its budget: $(console fdhog)"; fi
# One connection + 8 ports, then one connection + 4 shares (a share: its
# memfd and its owner pipe).
c=$(console fdhog)
echo "$c" | grep -q "^ports 8 refused Too many open files" && ok "8 ports, then EMFILE" || bad "8 ports, then EMFILE: $c"
echo "$c" | grep -q "^connection refused" && ok "a connection over budget is refused" || bad "connection over budget: $c"
echo "$c" | grep -q "^shares 4 refused Too many open files" && ok "4 shares, then EMFILE" || bad "4 shares, then EMFILE: $c"
echo "$c" | grep -q "^store connection refused" && ok "a store connection over budget is refused" || bad "store connection over budget: $c"

# Everyone else is unaffected, and the daemon answers.
out=$("$XENSIM" exec other -- "$PROG" use 2>&1)
check "another guest still gets a port, a share and connections ($out)" test $? = 0
out=$("$XENSIM" exec 0 -- "$PROG" use 2>&1)
check "dom0 still gets a port, a share and connections ($out)" test $? = 0
out=$(timeout 10 "$XENSIM" list 2>&1)
check "the daemon answers while the guest holds its budget" sh -c "echo '$out' | grep -q fdhog"
# xensim list shows it holding its whole budget (the last column: fds).
fds_of() { "$XENSIM" list | awk -v n="$1" '$1 == n { print $NF }'; }
f=$(fds_of fdhog)
check "list shows the guest's descriptors as 9/9 ($f)" test "$f" = 9/9
json=$("$XENSIM" list --json | grep '"name": "fdhog"')
check "list --json has fds_used 9 and fds_max 9 ($json)" \
    sh -c "echo '$json' | grep -q '\"fds_used\": 9, \"fds_max\": 9}'"
f=$(fds_of Domain-0)
check "list shows Domain-0 without a budget ($f)" sh -c "echo '$f' | grep -Eq '^[0-9]+/-$'"
n=$(grep -c "domain $hog (fdhog) is out of its descriptor budget" "$dlog")
check "the refusals make one log line naming the domain ($n)" test "$n" = 1
check "the log line names the budget" grep -q "max_fds=9 held" "$dlog"

touch "$work/release"
if wait_line fdhog "^hog "; then :; fi
c=$(console fdhog)
echo "$c" | grep -q "^released, ports again 8" && ok "releasing gives the room back" || bad "room back after release: $c"
echo "$c" | grep -q "^hog ok" && ok "the guest saw every step as expected" || bad "guest steps: $c"
# Its process gone, the guest holds nothing: list shows the count drop.
i=0
while f=$(fds_of fdhog); [ "$f" != 0/9 ] && [ $i -lt 50 ]; do i=$((i + 1)); sleep 0.2; done
check "after release list shows 0/9 ($f)" test "$f" = 0/9

"$XENSIM" destroy fdhog
# Destroyed while holding its whole budget: the hooks give it all back.
"$XENSIM" create "$(mkcfg fdhog2 'xensim_max_fds = 9')" -- "$PROG" hog "$work/never" >/dev/null
if wait_line fdhog2 "^holding"; then ok "a second guest filled its budget"; else bad "a second guest filled its budget: $(console fdhog2)"; fi
"$XENSIM" destroy fdhog2
check "nothing left charged at destroy" sh -c "! grep -q 'still charged at destroy' '$dlog'"
after=$(nfds_settled)
check "the daemon holds no descriptor of the destroyed guests ($before -> $after)" test "$after" -le "$before"
finish
