#!/bin/bash
# Boot Xen 4.17 + dom0 (init-dom0 runs the scenarios) under QEMU TCG.
#   run.sh LOG [DOM0_EXTRA_CMDLINE]
# Writes a host-timestamped serial log. If the log stays silent for XEN_STALL s
# (dom0 prints a heartbeat every 15 s, so silence means Xen or dom0 froze), or
# the run exceeds XEN_TIMEOUT s, it dumps the vCPUs (QEMU monitor) and Xen's
# state (debug keys over the serial line), then stops QEMU.
# Exit: QEMU's status, or 2 on stall/timeout.
set -uo pipefail
. "$(dirname "$0")/common.sh"
LOG=$1 EXTRA=${2:-}
# 900 s: the whole run takes 4-5 minutes on a fast host and about 9 on a
# slow one (TCG runs at the host CPU's speed); with the fetch and the images
# it stays within 16 minutes
TMO=${XEN_TIMEOUT:-900} STALL=${XEN_STALL:-60}
XEN_CMDLINE="console=com1 com1=115200,8n1 dom0_mem=1024M,max:1024M dom0_max_vcpus=2 \
loglvl=all guest_loglvl=all bootscrub=false smap=0 spec-ctrl=eager-fpu"
# smap=0: with SMAP under QEMU's -cpu max dom0 dies at once (#PF in create_bounce_frame).
# spec-ctrl=eager-fpu: lazy FPU switching under QEMU corrupts PV user space (random segfaults).
DOM0_CMDLINE="console=hvc0 earlyprintk=xen rdinit=/init $EXTRA"

for f in xen vmlinux dom0.cpio; do [ -s "$IMG/$f" ] || setup_fail "$IMG/$f missing: run mkimg.sh"; done
mkdir -p "$(dirname "$LOG")"
T=$(mktemp -d "${TMPDIR:-/tmp}/check-xen.XXXXXX")
trap 'rm -rf "$T"' EXIT
mkfifo "$T/ser.in" "$T/ser.out" "$T/mon.in" "$T/mon.out"
# keep the input ends open for the whole run (QEMU sees no EOF)
exec 7<>"$T/ser.in" 8<>"$T/mon.in"

# serial reader: one line per line, prefixed with seconds since start
( start=${EPOCHREALTIME/./}
  while IFS= read -r line; do
    cs=$(( (${EPOCHREALTIME/./} - start) / 10000 ))
    printf '[%4d.%02d] %s\n' $((cs / 100)) $((cs % 100)) "${line//$'\r'/}"
  done < "$T/ser.out" > "$LOG" ) &
RP=$!
cat "$T/mon.out" > "$T/mon.log" &
MP=$!

t0=$SECONDS
qemu-system-x86_64 -machine pc -accel tcg -cpu max -m 3072 -smp 2 \
  -nodefaults -display none -no-reboot \
  -serial "pipe:$T/ser" -monitor "pipe:$T/mon" \
  -kernel "$IMG/xen" -append "$XEN_CMDLINE" \
  -initrd "$IMG/vmlinux $DOM0_CMDLINE,$IMG/dom0.cpio" \
  </dev/null > "$T/qemu.out" 2>&1 &
QP=$!

mon() { echo "$1" >&8; sleep 1; }
xenkeys() {  # Ctrl-A three times hands the serial input to Xen, and back
  printf '\001\001\001' >&7; sleep 1
  for k in "$@"; do printf '%s' "$k" >&7; sleep 3; done
  printf '\001\001\001' >&7; sleep 1
}
dump() {
  echo "@@HOST $1 at $((SECONDS - t0)) s: dumping vCPUs and Xen state" >> "$T/host.log"
  mon "info cpus"; mon "info registers -a"
  xenkeys q r e d   # domains, run queues, event channels, CPU registers/stacks
  mon "info cpus"
  sleep 5
}

rc=
last=-1 quiet=0
while kill -0 $QP 2>/dev/null; do
  sleep 2
  size=$(stat -c %s "$LOG" 2>/dev/null || echo 0)
  if [ "$size" = "$last" ]; then quiet=$((quiet + 2)); else quiet=0; last=$size; fi
  if [ $quiet -ge "$STALL" ]; then dump "STALL (no serial output for ${quiet}s)"; rc=2; break; fi
  if [ $((SECONDS - t0)) -ge "$TMO" ]; then dump "TIMEOUT (run longer than ${TMO}s)"; rc=2; break; fi
done
if [ -n "$rc" ]; then kill $QP 2>/dev/null; fi
wait $QP; qrc=$?
[ -n "$rc" ] || rc=$qrc
if [ "$rc" = "$qrc" ] && [ "$qrc" != 0 ] && [ ! -s "$LOG" ]; then  # no output at all
  say "QEMU did not start: $(cat "$T/qemu.out")"; rc=3
fi
exec 7>&- 8>&-
# The readers end when QEMU closes the pipes; a QEMU that failed before it
# opened them leaves them blocked in open(), which an open and close of each
# output end releases (they then read EOF).
for _ in $(seq 50); do
  kill -0 $RP 2>/dev/null || kill -0 $MP 2>/dev/null || break
  : <>"$T/ser.out"; : <>"$T/mon.out"
  sleep 0.2
done
for p in $RP $MP; do kill "$p" 2>/dev/null && say "a log reader (pid $p) outlived QEMU by 10 s: stopped it"; done
wait
{
  echo "@@HOST qemu exit=$qrc wall=$((SECONDS - t0))s"
  cat "$T/qemu.out"
  # the monitor echoes each typed key with escape sequences: keep its answers
  [ -e "$T/host.log" ] && { cat "$T/host.log"; echo "@@MON (info cpus; info registers -a; info cpus)"
    sed -e 's/\x1b\[[0-9;]*[A-Za-z]//g' -e '/^(qemu)/d' -e 's/^/@@MON /' "$T/mon.log"; }
} >> "$LOG"
exit "$rc"
