#!/bin/sh
# A domain flooding its console neither fills the host's disk nor takes the
# daemon: its log stops at its cap (xensim_console_limit) with one line
# saying so, and the daemon reads it at a bounded rate, leaving it blocked
# on its pipe, as a guest is on Xen's full console ring. Other domains'
# consoles and requests are served meanwhile.
. "$(dirname "$0")/lib.sh"

cap=65536
rate=1048576 burst=262144 # console.h: CONSOLE_RATE, CONSOLE_BURST
notice="[xensim: console log limit of $cap bytes reached; further output dropped]"
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# The daemon's user and system time in ms (fields 14 and 15 of its stat;
# its name may hold blanks, so counted after the last ')').
cpu_ms() {
    sed 's/.*) //' "/proc/$1/stat" |
        awk -v hz="$(getconf CLK_TCK)" '{ print int(($12 + $13) * 1000 / hz) }'
}

"$XENSIM" up >/dev/null || { bad "up"; finish; exit 1; }
daemon=$(sim_daemon "$XENSIM_DIR")
log=$XENSIM_DIR/console/flood.log

# A bad value is refused, naming the key, and starts nothing.
out=$("$XENSIM" create "$(mkcfg bad 'xensim_console_limit = 0')" -- true 2>&1)
case $out in
*xensim_console_limit*) ok "a zero xensim_console_limit is refused ($out)" ;;
*) bad "a zero xensim_console_limit is refused ($out)" ;;
esac

t0=$(now_ms)
"$XENSIM" create "$(mkcfg flood "xensim_console_limit = $cap")" -- \
    sh -c 'head -c 100M /dev/zero' >/dev/null || bad "create flood"
"$XENSIM" create "$(mkcfg quiet)" -- sh -c 'echo quiet-marker; exec sleep 600' >/dev/null ||
    bad "create quiet"

s=$(now_ms)
out=$("$XENSIM" exec quiet -- echo pong)
e=$(($(now_ms) - s))
check "exec into another domain answers during the flood ($out in $e ms)" \
    test "$out" = pong -a "$e" -lt 1000
i=0; while ! grep -q quiet-marker "$XENSIM_DIR/console/quiet.log" && [ $i -lt 50 ]; do
    sleep 0.1; i=$((i + 1))
done
check "another domain's console is written during the flood" \
    grep -q quiet-marker "$XENSIM_DIR/console/quiet.log"

# The cap and the notice: $cap zero bytes, a newline (the zeros end no
# line), the notice, and nothing after it however long the flood goes on.
want=$((cap + ${#notice} + 2))
i=0; while [ "$(wc -c < "$log")" -lt "$want" ] && [ $i -lt 50 ]; do
    sleep 0.1; i=$((i + 1))
done
sleep 2
size=$(wc -c < "$log")
check "the flooding domain's log stops at its cap and the notice ($size bytes, want $want)" \
    test "$size" = "$want"
printf '\n%s\n' "$notice" > "$work/notice"
check "the log holds the first $cap bytes of the output" cmp -s -n "$cap" "$log" /dev/zero
check "then the notice" sh -c "tail -c +$((cap + 1)) '$log' | cmp -s - '$work/notice'"

# What the daemon read past the cap is counted, once the domain is gone:
# no more than the rate allowed, its burst, and the last words a destroy
# reads (16 reads of 64 KiB at most, console.c), so not all of the 100 MB.
"$XENSIM" destroy flood || bad "destroy flood"
t2=$(now_ms)
dlog=$XENSIM_DIR/xensimd.log
n=$(grep -c "flood): console log limit of $cap bytes reached" "$dlog")
check "the daemon's log says once that the domain reached its cap ($n)" test "$n" = 1
dropped=$(sed -n "s/.*(flood): console closed; \([0-9]*\) bytes were dropped.*/\1/p" "$dlog")
most=$(((t2 - t0) * rate / 1000 + burst + 16 * 65536))
check "it counts the bytes dropped (${dropped:-none}), no more than the rate let through ($most)" \
    test "${dropped:-0}" -gt 0 -a "${dropped:-0}" -le "$most"
check "and the log did not grow at the destroy" test "$(wc -c < "$log")" = "$want"
out=$("$XENSIM" exec quiet -- echo still)
check "the other domain runs on ($out)" test "$out" = still

# A flood that never ends: the daemon idles through it, leaving the pipe
# unread while the domain is over its rate. Only with the cap holding, or
# it would fill the disk.
if [ "$size" != "$want" ]; then
    bad "no endless flood without the cap: the daemon's CPU was not measured"
else
    "$XENSIM" create "$(mkcfg endless "xensim_console_limit = $cap")" -- \
        sh -c 'exec cat /dev/zero' >/dev/null || bad "create endless"
    t0=$(now_ms) c0=$(cpu_ms "$daemon")
    sleep 3
    c1=$(cpu_ms "$daemon") t1=$(now_ms)
    # Unpaced it takes ~45% here (the flooder has the other half); paced,
    # 16 reads a second take next to nothing.
    check "the daemon used $((c1 - c0)) ms of CPU in $((t1 - t0)) ms of flood (want < 10%)" \
        test $(((c1 - c0) * 10)) -lt $((t1 - t0))
    s=$(now_ms)
    out=$("$XENSIM" exec quiet -- echo pong)
    e=$(($(now_ms) - s))
    check "exec into another domain still answers at once ($out in $e ms)" \
        test "$out" = pong -a "$e" -lt 1000
    "$XENSIM" destroy endless || bad "destroy endless"
fi
finish
