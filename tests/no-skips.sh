#!/bin/sh
# After `make check`: fail when any test was skipped, naming each, unless
# VIPC_ALLOW_SKIP=1.  Automake counts a skipped program (exit 77) as a
# success, and a cmocka skip() inside a program that passed is seen only in
# its log: either would let a tier lose a check without anyone noticing.
# Usage: no-skips.sh [tests build folder, default .]
dir=${1:-.}
[ -d "$dir" ] || { echo "no-skips.sh: no folder $dir" >&2; exit 2; }
list=$(mktemp) || exit 2
trap 'rm -f "$list"' EXIT
find "$dir" -name '*.trs' -exec grep -l '^:test-result: SKIP' {} + 2>/dev/null |
    sed 's/\.trs$//; s/^/skipped program: /' >> "$list"
find "$dir" -name '*.log' ! -name config.log ! -name test-suite.log \
    -exec grep -H '^\[  SKIPPED \]' {} + 2>/dev/null |
    grep -v 'listed below:$' | sed 's/\.log:\[  SKIPPED \] */: skipped case /' |
    sort -u >> "$list"
[ -s "$list" ] || exit 0
cat "$list"
if [ "${VIPC_ALLOW_SKIP:-0}" = 1 ]; then
    echo "no-skips.sh: $(wc -l < "$list") skip(s) above, allowed by VIPC_ALLOW_SKIP=1"
    exit 0
fi
echo "no-skips.sh: $(wc -l < "$list") skip(s) above: each test says why in its log; set VIPC_ALLOW_SKIP=1 to accept them" >&2
exit 1
