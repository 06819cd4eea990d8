#!/bin/sh
# A domain's processes are bounded (xensim.1, "Isolation"): they are uid 0,
# to whom RLIMIT_NPROC does not apply, so a fork bomb in one domain would
# take the host's pids, and other domains could no longer start anything.
# On Linux 6.14 and later pid_max is one per PID namespace, and a domain's
# is 1024: a flood stops there with EAGAIN while other domains carry on.
# Before 6.14 only the domain's cgroup bounds them (dom-cgroup.sh), to as
# many; without one the daemon says in its log, once per domain, that the
# domain's processes are not bounded. Either way the host's pid_max is
# left as it was.
. "$(dirname "$0")/lib.sh"
# The fork flood run inside a domain (an absolute path: its cwd differs).
flood_py=$(cd "$(dirname "$0")" && pwd)/fork-flood.py

host_max=$(cat /proc/sys/kernel/pid_max)
rel=$(uname -r)
major=${rel%%.*}
minor=${rel#*.}
minor=${minor%%[!0-9]*}
if [ "$major" -gt 6 ] || { [ "$major" -eq 6 ] && [ "$minor" -ge 14 ]; }; then
    per_ns=yes
    echo "kernel $rel has a pid_max per PID namespace: flooding a domain"
else
    per_ns=no
    echo "kernel $rel has no pid_max per PID namespace"
fi

"$XENSIM" up >/dev/null || { bad "up"; finish; exit 1; }
b=$("$XENSIM" create "$(mkcfg beta)" -- sleep 600)
# A thousand processes take some 200 MB (kernel stacks, page tables):
# more than the default 128 MB, which would stop the flood first.
f=$("$XENSIM" create "$(mkcfg flood 'memory = 512')" -- sleep 600)
check "two domains ($b, $f)" test -n "$b" -a -n "$f"
log=$XENSIM_DIR/xensimd.log

if [ $per_ns = yes ]; then
    out=$("$XENSIM" exec flood -- cat /proc/sys/kernel/pid_max)
    check "a domain's pid_max is 1024 ($out)" test "$out" = 1024
    # Its root may write its namespace's pid_max (the kernel asks no
    # capability of it): the read-only /proc/sys is what stops it.
    "$XENSIM" exec flood -- sh -c 'echo 65536 > /proc/sys/kernel/pid_max' 2>/dev/null &&
        bad "a domain raises its pid_max" || ok "a domain cannot raise its pid_max"
    said=$(grep -c "its processes.* not bounded" "$log")
    check "the daemon's log says nothing of unbounded processes ($said)" test "$said" = 0
    flood=yes
elif grep -q "(flood): its processes.* not bounded" "$log"; then
    echo "and no cgroup bounds them: checking the daemon's log"
    for d in beta flood; do
        said=$(grep -c "^xensim: domain [0-9]* ($d): its processes.* not bounded: .*pid_max" "$log")
        check "the daemon's log says once that $d's processes are not bounded ($said)" test "$said" = 1
    done
    check "and the domains run" "$XENSIM" exec flood -- true
    flood=no
else
    echo "their cgroup bounds them: flooding a domain"
    flood=yes
fi
if [ $flood = yes ]; then
    # Fork until refused: each child becomes a sleep writing nowhere, so
    # the exec returns while they live on in the domain.
    out=$(timeout -k 1 15 "$XENSIM" exec flood -- python3 "$flood_py" 2000)
    # (check() has a variable n of its own.)
    forks=${out%% *}
    check "a fork flood in a domain stops with EAGAIN ($out)" test "${out#* }" = EAGAIN
    check "below the domain's pid_max (${forks:-no} forks)" test "${forks:-9999}" -lt 1024
    # Meanwhile the others are not short of pids: one starts, one runs.
    g=$(timeout -k 1 10 "$XENSIM" create "$(mkcfg gamma)" -- sleep 600)
    check "another domain is created meanwhile ($g)" test -n "$g"
    out=$(timeout -k 1 10 "$XENSIM" exec beta -- sh -c 'sleep 0 && echo ran')
    check "another domain execs meanwhile ($out)" test "$out" = ran
    err=$(timeout -k 1 10 "$XENSIM" exec flood -- true 2>&1) &&
        bad "the flooded domain still execs" ||
        check "the flooded domain's exec fails, naming the bound ($err)" \
            sh -c 'case "$1" in *"fewer than 1024 processes"*) ;; *) exit 1;; esac' - "$err"
    check "the flood ends with its domain" timeout -k 1 10 "$XENSIM" destroy flood
    check "the others carry on" timeout -k 1 10 "$XENSIM" exec gamma -- true
fi
now=$(cat /proc/sys/kernel/pid_max)
check "the host's pid_max is left as it was ($host_max, now $now)" test "$now" = "$host_max"
finish
