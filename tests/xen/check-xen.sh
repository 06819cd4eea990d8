#!/bin/bash
# `make check-xen`: fetch (apt, cached), build the images, boot Xen in QEMU,
# run the scenarios there, summarise. Exit: 0 all passed, 1 a failure,
# 2 stall or timeout, 3 setup problem.
# Environment (xen.mk sets the first three from the build tree):
#   XEN_CARRY          project executables to carry into the guests (globs ok)
#   XEN_CARRY_LIBDIRS  folders with the project's shared libraries
#   XEN_SCENARIO_DIRS  scenario folders (<folder>/scenarios/*.sh)
#   XEN_SCENARIOS      run only these (e.g. "vchan-proxy" or "xen/vchan-proxy")
#   XEN_JOBS           scenarios run at once in dom0 (default 2)
#   XEN_WORK XEN_QEMU_CACHE XEN_TIMEOUT XEN_STALL XEN_SCENARIO_TIMEOUT
#   CONF_*             passed on to the scenarios in dom0 (CONF_VCHAN_MIB=2 here)
set -uo pipefail
. "$(dirname "$0")/common.sh"
export XEN_WORK XEN_QEMU_CACHE
t0=$SECONDS

"$XEN_SRC/fetch.sh" || exit 3
"$XEN_SRC/mkimg.sh" || exit 3

# The plan: boot steps, then every scenario (folder name / file name).
mkdir -p "$LOGS"
PLAN=$XEN_WORK/plan
{ echo boot/dom0; echo boot/toolstack; } > "$PLAN"
only=
for d in ${XEN_SCENARIO_DIRS:-$XEN_SRC/scenarios}; do
  for f in "$d"/*.sh; do
    [ -f "$f" ] || continue
    [ "$(basename "$f")" = lib.sh ] && continue   # sourced by scenarios
    step=$(basename "$(dirname "$d")")/$(basename "$f" .sh)
    if [ -n "${XEN_SCENARIOS:-}" ]; then
      hit=
      for w in $XEN_SCENARIOS; do [ "$w" = "$step" ] || [ "$w" = "${step#*/}" ] && hit=1; done
      [ -n "$hit" ] || continue
      only=$only${only:++}$step
    fi
    echo "$step" >> "$PLAN"
  done
done
if [ -n "${XEN_SCENARIOS:-}" ] && [ -z "$only" ]; then
  setup_fail "XEN_SCENARIOS='$XEN_SCENARIOS' names no scenario in: ${XEN_SCENARIO_DIRS:-$XEN_SRC/scenarios}"
fi

# The scenarios' CONF_* knobs (tests/conformance/scenarios/lib.sh) reach dom0
# through its kernel command line.
: "${CONF_VCHAN_MIB:=2}"   # xensim's 64 MiB each way takes minutes under TCG
# vipc-bench's quick plan takes 100 s under TCG on a fast host and over 300 s
# on a slow one; here it only has to run (figures under emulation mean little).
: "${CONF_BENCH_PLAN:=tiny}"
export CONF_VCHAN_MIB CONF_BENCH_PLAN
envargs=
for v in $(compgen -e | grep '^CONF_'); do
  case ${!v} in *[!A-Za-z0-9._/-]*|'') setup_fail "$v='${!v}': only [A-Za-z0-9._/-] can reach dom0";; esac
  envargs="$envargs vipc.env.$v=${!v}"
done

LOG=$LOGS/run-$(date +%Y%m%d-%H%M%S).log
ln -sfn "$(basename "$LOG")" "$LOGS/latest.log"
say "booting Xen in QEMU; serial log: $LOG"
"$XEN_SRC/run.sh" "$LOG" "vipc.tmo=${XEN_SCENARIO_TIMEOUT:-360} vipc.jobs=${XEN_JOBS:-2}${only:+ vipc.only=$only}$envargs"
rrc=$?
[ $rrc = 3 ] && exit 3
"$XEN_SRC/summary.sh" "$LOG" "$PLAN" "$rrc"
rc=$?
say "total $((SECONDS - t0)) s, exit $rc"
exit $rc
