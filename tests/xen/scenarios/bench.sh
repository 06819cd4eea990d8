#!/bin/sh
# vipc-bench on the real hypervisor: the vipc data channel and Debian's stock
# libxenvchan between two guest domains, the host peers (pipe, unix, eventfd,
# memcpy) inside one guest and busypoll in dom0 (it needs two CPUs; a guest
# has one), then the table of vipc / peer ratios, which is what this run
# reports: absolute figures under QEMU's emulation mean little. It passes
# when every measurement ran and produced result rows; performance is
# reported, not judged. It opens @releaseDomain to its guests (as vipcd
# does), so the harness runs it alone. Modelled on vchan-cap.sh.
#   CONF_BENCH_PLAN  quick (default; ~100 s under TCG on a fast host, over 300
#                    on a slow one) or tiny (check-xen's default): --quick / --tiny
#   CONF_BENCH_WAIT_S  seconds a measurement may take (default 150)
S=bench
# shellcheck disable=SC1090
. "$TS_IMPL" || { echo "SCENARIO-FAIL $S: cannot load TS_IMPL"; exit 2; }
PLAN=--${CONF_BENCH_PLAN:-quick}
WAIT=${CONF_BENCH_WAIT_S:-150}
ROWS=$TS_WORK/rows
fails=0
bad() { fails=$((fails + 1)); echo "CHECK-FAIL [$S] $*"; }
mkdir -p "$ROWS" || { echo "SCENARIO-FAIL $S: cannot make $ROWS"; exit 2; }
t0=$(date +%s)
elapsed() { echo $(($(date +%s) - t0)); }

# ran NAME DOM: DOM's program ended with status 0 (else show why, and its
# console's tail).
ran() {
    if ! ts_wait_marker "$2" "@@DOMU-EXIT" "$WAIT"; then
        bad "$1: $2 did not finish within $WAIT s"; ts_console "$2" | tail -n 8
        return 1
    fi
    if ! ts_console "$2" | grep -q '^@@DOMU-EXIT .* rc=0$'; then
        bad "$1: $2 failed: $(ts_console "$2" | grep '^@@DOMU-EXIT')"
        ts_console "$2" | grep -v '^ROW ' | tail -n 8
        return 1
    fi
    return 0
}

# rows NAME DOM: DOM's result rows into $ROWS/NAME; at least one.
rows() {
    ts_console "$2" | grep '^ROW ' > "$ROWS/$1"
    n=$(wc -l < "$ROWS/$1")
    if [ "$n" -gt 0 ]; then
        echo "[$S] $1: $n result rows ($(elapsed) s)"
    else
        bad "$1: no result rows from $2"
    fi
}

# pair T: the client domain first, so that the server publishes only for a
# domain that exists; dom0 then lets both read @releaseDomain and tells
# each its peer; both workers read their domids from the store.
pair() {
    c=vb-$1-c s=vb-$1-s
    ts_create "$c" vipc-bench worker "$1" client store store "$PLAN" ||
        { bad "$1: cannot create the client"; return 1; }
    cid=$(ts_domid "$c")
    ts_create "$s" vipc-bench worker "$1" server store store "$PLAN" ||
        { bad "$1: cannot create the server"; ts_destroy "$c"; return 1; }
    sid=$(ts_domid "$s")
    ts_run0 conf-xs chmod @releaseDomain n0 "r$cid" "r$sid" || bad "$1: cannot open @releaseDomain"
    ts_run0 conf-xs write "/local/domain/$sid/data/conf/peer" "$cid" || bad "$1: cannot tell the server"
    ts_run0 conf-xs write "/local/domain/$cid/data/conf/peer" "$sid" || bad "$1: cannot tell the client"
    ran "$1 client" "$c" && rows "$1" "$c"
    ran "$1 server" "$s"
    # free the pair's memory and vCPUs before the next measurement
    ts_destroy "$s" 2>/dev/null; ts_destroy "$c" 2>/dev/null
    return 0
}

echo "[$S] plan $PLAN; each guest has one vCPU, so its rows say same-cpu (both ends of a pair run on their own vCPUs)"
pair vipc
pair libxenvchan
if ts_create vb-local vipc-bench local "$PLAN"; then
    ran local vb-local && rows local vb-local
    ts_destroy vb-local 2>/dev/null
else
    bad "local: cannot create the domain"
fi
if [ "$(grep -c '^processor' /proc/cpuinfo)" -ge 2 ]; then
    if ts_run0 vipc-bench local "$PLAN" --transports busypoll --tests rtt > "$ROWS/dom0-busypoll"; then
        n=$(grep -c '^ROW ' "$ROWS/dom0-busypoll")
        [ "$n" -gt 0 ] || bad "busypoll in dom0: no result rows"
        echo "[$S] dom0-busypoll: $n result rows ($(elapsed) s)"
        sed "s/^/[$S] dom0: /" "$ROWS/dom0-busypoll"
    else
        bad "busypoll in dom0 failed"
    fi
else
    echo "[$S] dom0 has one CPU: busypoll not measured"
fi
ts_run0 conf-xs chmod @releaseDomain n0 || bad "cannot close @releaseDomain again"

echo "[$S] vipc / peer on Xen 4.17 under QEMU (TCG); busypoll from dom0 (split, two vCPUs)"
# shellcheck disable=SC2046
ts_run0 vipc-bench ratios $(ls "$ROWS"/* 2>/dev/null) || bad "vipc-bench ratios failed"
echo "[$S] done in $(elapsed) s"
if [ "$fails" = 0 ]; then echo "SCENARIO-PASS $S"; else echo "SCENARIO-FAIL $S: $fails check(s) failed"; exit 1; fi
