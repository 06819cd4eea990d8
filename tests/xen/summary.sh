#!/bin/bash
# Turn the markers of a serial log into the pass/fail summary.
#   summary.sh LOG PLAN RUN_STATUS
# PLAN: the steps expected, one per line; a step without a result counts as
# failed ("NOT RUN"). Exit: 2 if the run stalled or timed out (RUN_STATUS 2),
# 1 on any failure, missing result or skip (XEN_ALLOW_SKIP=1 lets skips
# pass), 0 if all passed.
LOG=$1 PLAN=$2 RUNRC=$3
results=$(grep -a -o '@@STEP [^ ]* .*' "$LOG" | cut -d' ' -f2-)
pass=0 fail=0 skip=0
echo "== check-xen summary ($LOG) =="
while read -r step; do
  [ -n "$step" ] || continue
  r=$(echo "$results" | awk -v s="$step" '$1 == s { $1 = ""; print substr($0, 2); exit }')
  case $r in
    PASS*) pass=$((pass + 1)); printf '  PASS     %s  %s\n' "$step" "${r#PASS }";;
    SKIP*) skip=$((skip + 1)); printf '  SKIP     %s  %s\n' "$step" "${r#SKIP }";;
    FAIL*) fail=$((fail + 1)); printf '  FAIL     %s  %s\n' "$step" "${r#FAIL }";;
    *)     fail=$((fail + 1)); printf '  NOT RUN  %s\n' "$step";;
  esac
done < "$PLAN"
# what else a reader should see first: failed checks (a CONF-FAIL alone may be
# expected by its scenario), guest errors, crashes
grep -a -E 'SCENARIO-FAIL|CHECK-FAIL|@@DOMU-ERROR|Hardware Dom0 crashed|Panic on CPU|segfault at|general protection|Kernel panic' "$LOG" \
  | grep -v '@@STEP ' | head -20 | sed 's/^/  ! /'
grep -a -q '@@ALL-DONE' "$LOG" || { echo "  ! dom0 never reached @@ALL-DONE"; [ $fail -gt 0 ] || fail=1; }
grep -a '@@HOST' "$LOG" | sed 's/^/  /'
echo "check-xen: $pass passed, $fail failed, $skip skipped"
[ "$RUNRC" = 2 ] && { echo "check-xen: STALL/TIMEOUT (vCPU and Xen dumps in the log)"; exit 2; }
if [ $skip -gt 0 ] && [ "${XEN_ALLOW_SKIP:-0}" != 1 ]; then
  echo "check-xen: $skip step(s) skipped: a failure here (XEN_ALLOW_SKIP=1 allows skips)"
  exit 1
fi
[ $fail -eq 0 ] && [ "$RUNRC" = 0 ] && exit 0
exit 1
