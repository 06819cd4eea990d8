#!/bin/bash
# `make check-xen`: fetch (apt, cached), build the images, boot Xen in QEMU,
# run the scenarios there, summarise. Exit: 0 all passed, 1 a failure,
# 2 stall or timeout, 3 setup problem.
# Environment (xen.mk sets the first three from the build tree):
#   XEN_CARRY          project executables to carry into the guests (globs ok)
#   XEN_CARRY_LIBDIRS  folders with the project's shared libraries
#   XEN_SCENARIO_DIRS  scenario folders (<folder>/scenarios/*.sh)
#   XEN_SCENARIOS      run only these steps: "xen/vchan-proxy" picks one, a bare
#                      name ("vchan-proxy") that name in every folder
#   XEN_JOBS           scenarios run at once in dom0 (default 2)
#   XEN_WORK XEN_QEMU_CACHE XEN_TIMEOUT XEN_STALL XEN_SCENARIO_TIMEOUT
#   CONF_*             passed on to the scenarios in dom0 (CONF_VCHAN_MIB=2 here)
set -uo pipefail
. "$(dirname "$0")/common.sh"
export XEN_WORK XEN_QEMU_CACHE
t0=$SECONDS

# The plan, first (a mistyped XEN_SCENARIOS fails before the downloads): boot
# steps, then every scenario (folder name / file name). A word of
# XEN_SCENARIOS is a step (xen/vchan-proxy) or a bare name, which picks that
# name in every folder (vchan-proxy: conformance/ and xen/).
mkdir -p "$LOGS"
PLAN=$XEN_WORK/plan
{ echo boot/dom0; echo boot/toolstack; } > "$PLAN"
only='' all='' used=''
read -r -d "" -a words <<< "${XEN_SCENARIOS:-}"   # words as typed: no globbing
for d in ${XEN_SCENARIO_DIRS:-$XEN_SRC/scenarios}; do
  for f in "$d"/*.sh; do
    [ -f "$f" ] || continue
    [ "$(basename "$f")" = lib.sh ] && continue   # sourced by scenarios
    step=$(basename "$(dirname "$d")")/$(basename "$f" .sh)
    all="$all $step"
    if [ ${#words[@]} -gt 0 ]; then
      hit=
      for w in "${words[@]}"; do
        if [ "$w" = "$step" ] || [ "$w" = "${step#*/}" ]; then hit=1; used="$used $w"; fi
      done
      [ -n "$hit" ] || continue
      only=$only${only:++}$step
    fi
    echo "$step" >> "$PLAN"
  done
done
unknown=
for w in "${words[@]}"; do
  case " $used " in *" $w "*) ;; *) unknown="$unknown $w";; esac
done
[ -z "$unknown" ] || setup_fail "XEN_SCENARIOS:$unknown: no such step (a word is <folder>/<name> or <name>); steps:${all:- none in ${XEN_SCENARIO_DIRS:-$XEN_SRC/scenarios}}"

"$XEN_SRC/fetch.sh" || exit 3
"$XEN_SRC/mkimg.sh" || exit 3

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
