#!/bin/sh
# vipc-bench's bare ring peer works: every measurement of `vipc-bench local
# --tiny --transports ring`, in both layouts, ran (a framing mistake fails its receiver with
# EPROTO) and gave a positive figure.  It checks that the peer runs, never
# how fast (benchmarks are not timed tests).  Then what the command line
# and the report promise: empty --transports/--tests lists refused; a
# stream pass counts the header it times; an interrupted `xensim up` is
# followed by `xensim down`; --json keeps the ring out of results and
# ratios; and, with a preloaded shim, a host peer's receiving child that
# dies or stalls ends its measurement (no hang, SIGTERM heard), and a
# cpuset without CPU 0 is measured on its own CPUs.
BENCH=${VIPC_BENCH:-${top_builddir:-..}/tools/vipc-bench}
one_cpu=
# In both layouts of the channel's control page (--layout).
for layout in lines xenvchan; do
    out=$("$BENCH" local --tiny --transports ring --layout "$layout" 2>&1) || {
        echo "FAIL: vipc-bench local --layout $layout exited $?"; echo "$out"; exit 1; }
    rows=$(printf '%s\n' "$out" | grep -c '^ROW ring ')
    if [ "$(nproc)" -lt 2 ]; then
        # It spins: with one CPU it is left out, and must say nothing.
        [ "$rows" -eq 0 ] || { echo "FAIL: $rows ring rows on one CPU"; exit 1; }
        echo "ok: one CPU, the ring is left out as documented"
        one_cpu=1
        continue
    fi
    # One round trip, and per ring (64 KiB, 1 MiB) four streams and a batch.
    [ "$rows" -eq 11 ] || { echo "FAIL ($layout): $rows ring rows, expected 11"; echo "$out"; exit 1; }
    bad=$(printf '%s\n' "$out" | awk '$1 == "ROW" && $2 == "ring" && !($7 > 0)')
    [ -z "$bad" ] || { echo "FAIL ($layout): rows without a positive figure:"; echo "$bad"; exit 1; }
    echo "ok: $layout layout, $rows ring rows"
done
# A wrong layout name is refused, naming it.
out=$("$BENCH" local --tiny --transports ring --layout bogus 2>&1) &&
    { echo "FAIL: --layout bogus accepted"; exit 1; }
printf '%s\n' "$out" | grep -q "not 'bogus'" ||
    { echo "FAIL: --layout bogus: no clear error"; echo "$out"; exit 1; }
echo "ok: --layout bogus refused"
# --rounds: the rounds merged into one row per measurement, each a figure
# the rounds gave (the median of 3), not one row per round.
if [ -z "$one_cpu" ]; then
    out=$("$BENCH" local --tiny --transports ring --tests stream-msgs --rounds 3 2>&1) || {
        echo "FAIL: --rounds 3 exited $?"; echo "$out"; exit 1; }
    rows=$(printf '%s\n' "$out" | grep -c '^ROW ring stream-msgs ')
    [ "$rows" -eq 2 ] || { echo "FAIL: --rounds 3: $rows rows, expected 2"; echo "$out"; exit 1; }
    bad=$(printf '%s\n' "$out" | awk '$1 == "ROW" && !($7 > 0)')
    [ -z "$bad" ] || { echo "FAIL: --rounds 3: rows without a positive figure:"; echo "$bad"; exit 1; }
    echo "ok: --rounds 3 merged into $rows rows"
fi
for bad in 0 21 -1 2x +3 ""; do
    out=$("$BENCH" local --tiny --transports ring --rounds "$bad" 2>&1) &&
        { echo "FAIL: --rounds '$bad' accepted"; exit 1; }
    printf '%s\n' "$out" | grep -q "not '$bad'" ||
        { echo "FAIL: --rounds '$bad': no clear error"; echo "$out"; exit 1; }
done
echo "ok: --rounds 0, 21, -1, 2x, +3 and empty refused"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-smoke.XXXXXX") ||
    { echo "FAIL: no temporary folder"; exit 1; }
trap 'rm -rf "$tmp"' EXIT
two_cpus=; [ "$(nproc)" -ge 2 ] && two_cpus=1

# Each command refuses an option it does not use, naming it (exit 2), rather
# than ignoring it; the worker's domain ids are never reached (a worker that
# ran anyway is cut short).
limit=; command -v timeout > /dev/null 2>&1 && limit="timeout -k 2 20"
refuse() { # WHAT-IS-NAMED command-words...
    what=$1; shift
    out=$($limit "$BENCH" "$@" 2>&1)
    rc=$?
    [ $rc -eq 2 ] || { echo "FAIL: '$*' exited $rc, not 2"; echo "$out"; exit 1; }
    printf '%s\n' "$out" | grep -q -- "$what" ||
        { echo "FAIL: '$*': no message naming $what"; echo "$out"; exit 1; }
}
for opt in --json "--rounds 2" "--transports pipe" "--xensim /bin/true"; do
    # shellcheck disable=SC2086
    refuse "worker takes no ${opt%% *}" worker vipc server 1 2 --tiny $opt
done
refuse "local takes no --json" local --tiny --transports pipe --json
refuse "local takes no --xensim" local --tiny --transports pipe --xensim /bin/true
refuse "unknown option '--json'" ratios --json /dev/null
refuse "grant-release takes two domain ids" grant-release 1
refuse "not 'vipcx'" worker vipcx server 1 2
echo "ok: worker, local, ratios and grant-release refuse what they do not use"
# --help after a command: that command's usage on stdout, exit 0.
for cmd in channel worker local ratios grant-release; do
    out=$("$BENCH" $cmd --help 2>"$tmp/help.err")
    rc=$?
    [ $rc -eq 0 ] && [ ! -s "$tmp/help.err" ] && printf '%s\n' "$out" | grep -q "^usage: vipc-bench $cmd " ||
        { echo "FAIL: $cmd --help: exit $rc, stdout:"; echo "$out"; echo "stderr:"; cat "$tmp/help.err"; exit 1; }
done
echo "ok: --help prints each command's usage"

# An empty --transports or --tests list is refused, naming it (exit 2),
# rather than measuring nothing and saying all went well.
for cmd in local channel; do
    for opt in --transports --tests; do
        for arg in , ""; do
            out=$("$BENCH" $cmd --tiny "$opt" "$arg" 2>&1)
            rc=$?
            [ $rc -eq 2 ] ||
                { echo "FAIL: $cmd $opt '$arg' exited $rc, not 2"; echo "$out"; exit 1; }
            printf '%s\n' "$out" | grep -q -- "$opt '$arg' names no" ||
                { echo "FAIL: $cmd $opt '$arg': no message naming it"; echo "$out"; exit 1; }
        done
    done
done
echo "ok: empty --transports and --tests lists refused"

# A pass is counted as it is timed: its messages and the header (a full
# message) that starts it.  --tiny plans passes of 256 KiB of 64 B
# messages, of 4 MiB of larger ones and of 16384 batched ones; the first
# timed pass sends just that, so it counts one message more.  Every pass's
# rate is its count over its time, and each row the median of its passes.
out=$("$BENCH" local --tiny --transports pipe --tests stream,stream-msgs --verbose 2>&1 >/dev/null) || {
    echo "FAIL: pipe streams --verbose exited $?"; echo "$out"; exit 1; }
bad=$(printf '%s\n' "$out" | awk '
    function num(k,   i, v) {
        for (i = 1; i < NF; i++)
            if ($i == k) { v = $(i + 1); sub(/,$/, "", v); return v + 0 }
        return -1
    }
    function near(a, b) { return a > 0 && b > 0 && (a > b ? a / b : b / a) < 1.0001 }
    / pass: size / {
        msgs_test = $2 == "stream-msgs"
        size = num("size"); pass = num("pass"); msgs = num("messages")
        bytes = num("bytes"); ns = num("ns"); rate = num("rate"); passes++
        if (bytes != msgs * size) print "bytes are not messages x size: " $0
        if (!near(rate, msgs_test ? msgs * 1000 / ns : bytes / ns))
            print "the rate is not the count over the time: " $0
        planned = msgs_test ? 16384 : (size < 4096 ? 262144 : 4194304) / size
        if (pass == 1 && msgs != planned + 1)
            print "pass 1 counted " msgs " messages, not " planned " and the header: " $0
        r[++n] = rate
        next
    }
    $1 == "ROW" {
        if (n != 3) { print "a row after " n " timed passes, not 3: " $0; n = 0; next }
        m = r[1]                # the median of three
        if ((r[2] - r[1]) * (r[2] - r[3]) <= 0) m = r[2]
        else if ((r[3] - r[1]) * (r[3] - r[2]) <= 0) m = r[3]
        if (!near($7, m)) print "the row is not the median of its passes (" m "): " $0
        rows++; n = 0
    }
    END { if (rows != 10 || passes != 30) print rows " rows of " passes " passes, expected 10 of 30" }')
[ -z "$bad" ] || { echo "FAIL: stream passes counted other than timed:"; echo "$bad"; echo "$out"; exit 1; }
echo "ok: stream passes count the header they time"

# An interrupted `xensim up` (whose daemon may already be on its own) is
# followed by `xensim down`: a stand-in xensim interrupts us during up.
cat > "$tmp/xensim" <<EOF
#!/bin/sh
echo "\$1" >> "$tmp/xensim.log"
[ "\$1" = up ] || exit 0
kill -INT \$PPID
exit 130
EOF
chmod +x "$tmp/xensim"
out=$("$BENCH" channel --tiny --transports vipc --tests rtt --xensim "$tmp/xensim" 2>&1)
rc=$?
[ $rc -eq 130 ] || { echo "FAIL: interrupted xensim up: exit $rc, not 130"; echo "$out"; exit 1; }
calls=$(tr '\n' ' ' < "$tmp/xensim.log")
[ "$calls" = "up down " ] ||
    { echo "FAIL: interrupted xensim up: the calls were: $calls"; echo "$out"; exit 1; }
echo "ok: an interrupted xensim up is followed by xensim down"

# --json: results and ratios name only the contract's transports; the bare
# ring's rows and ratios are in extra_results and extra_ratios.
if [ -n "$two_cpus" ]; then
    XENSIM=${XENSIM:-${top_builddir:-..}/hyp/sim/xensim} \
        "$BENCH" channel --tiny --json --transports vipc,ring,busypoll --tests rtt \
        > "$tmp/run.json" 2> "$tmp/run.err" || {
        echo "FAIL: channel --json exited $?"; cat "$tmp/run.err"; exit 1; }
    bad=$(awk '
        /^ "[a-z_]*": \[/ { key = $1; gsub(/[":]/, "", key) }
        /"transport": "ring"|"peer": "ring"/ { ring[key]++ }
        /"transport": "(vipc|busypoll)"/ && key != "results" { print "a contract row in " key ": " $0 }
        END {
            if (ring["results"] || ring["ratios"]) print "the ring in results or ratios"
            if (!ring["extra_results"]) print "no ring row in extra_results"
            if (!ring["extra_ratios"]) print "no ring ratio in extra_ratios"
        }' "$tmp/run.json")
    [ -z "$bad" ] || { echo "FAIL: --json:"; echo "$bad"; cat "$tmp/run.json"; exit 1; }
    # A --tiny run says so (quick is true for both shortened plans).
    grep -q '"mode": "tiny", "quick": true' "$tmp/run.json" ||
        { echo "FAIL: --json does not say mode tiny"; head -3 "$tmp/run.json"; exit 1; }
    command -v python3 > /dev/null 2>&1 ||
        { echo "FAIL: python3 is missing (Debian package python3): --json not parsed"; exit 1; }
    {
        python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
ok = {"vipc", "libxenvchan", "pipe", "unix", "eventfd", "busypoll", "memcpy"}
assert d["results"] and all(r["transport"] in ok for r in d["results"]), "results"
assert d["ratios"] and all(r["peer"] in ok for r in d["ratios"]), "ratios"
assert [r["transport"] for r in d["extra_results"]] == ["ring"], "extra_results"
assert [r["peer"] for r in d["extra_ratios"]] == ["ring"], "extra_ratios"' "$tmp/run.json" ||
            { echo "FAIL: --json is not as documented"; cat "$tmp/run.json"; exit 1; }
    }
    echo "ok: --json keeps the bare ring to extra_results and extra_ratios"
fi

# The last checks bend the CPU calls with a preloaded shim.
cat > "$tmp/shim.c" <<'EOF'
/* BENCH_SHIM=child-fails: sched_setaffinity fails in a child process;
 * child-stalls: it never returns there; cpuset: the process may use CPUs
 * 1 and 2 only (a cpuset without CPU 0), and is put on CPU 1. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int (*get_fn)(pid_t, size_t, cpu_set_t *);
typedef int (*set_fn)(pid_t, size_t, const cpu_set_t *);
static pid_t first;

__attribute__((constructor)) static void note_first(void)
{
	first = getpid();
}

static int is(const char *mode)
{
	const char *m = getenv("BENCH_SHIM");

	return m && !strcmp(m, mode);
}

int sched_getaffinity(pid_t pid, size_t sz, cpu_set_t *set)
{
	if (!is("cpuset"))
		return ((get_fn)dlsym(RTLD_NEXT, "sched_getaffinity"))(pid, sz, set);
	CPU_ZERO(set);
	CPU_SET(1, set);
	CPU_SET(2, set);
	return 0;
}

int sched_setaffinity(pid_t pid, size_t sz, const cpu_set_t *set)
{
	set_fn real = (set_fn)dlsym(RTLD_NEXT, "sched_setaffinity");
	cpu_set_t one;

	if (getpid() != first && is("child-fails")) {
		errno = EIO;
		return -1;
	}
	while (getpid() != first && is("child-stalls"))
		pause();
	if (!is("cpuset"))
		return real(pid, sz, set);
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, set) && c != 1 && c != 2) {
			errno = EINVAL;
			return -1;
		}
	CPU_ZERO(&one);
	CPU_SET(1, &one);
	return real(pid, sizeof(one), &one);
}
EOF
if ! command -v timeout > /dev/null 2>&1 ||
   ! ${CC:-cc} -shared -fPIC -o "$tmp/shim.so" "$tmp/shim.c" -ldl > "$tmp/cc.log" 2>&1; then
    echo "FAIL: no C compiler or timeout(1): a dead or stalled receiving end and a cpuset not checked"; cat "$tmp/cc.log"
    exit 1
else
    shim() { # MODE command...
        mode=$1; shift
        BENCH_SHIM=$mode LD_PRELOAD="$tmp/shim.so" \
            ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" "$@"
    }
    peers="pipe unix eventfd"; [ -n "$two_cpus" ] && peers="$peers busypoll ring"
    # The receiving child of a host peer dies (here: it cannot pin
    # itself): the measurement fails at once, it does not wait for ever.
    for t in $peers; do
        out=$(shim child-fails timeout -k 5 20 "$BENCH" local --tiny --transports $t --tests rtt 2>&1)
        rc=$?
        [ $rc -eq 1 ] ||
            { echo "FAIL: $t: a dead receiving end: exit $rc, not 1 (124, 137: it hung)"; echo "$out"; exit 1; }
        printf '%s\n' "$out" | grep -q "$t: the receiving end failed (exit status 1)" ||
            { echo "FAIL: $t: a dead receiving end: no message saying so"; echo "$out"; exit 1; }
    done
    echo "ok: a dead receiving end fails the measurement ($peers)"
    # SIGTERM ends a client waiting for a receiving end that never answers.
    for t in $peers; do
        out=$(shim child-stalls timeout --preserve-status -k 5 1 "$BENCH" local --tiny --transports $t --tests rtt 2>&1)
        rc=$?
        [ $rc -eq 130 ] ||
            { echo "FAIL: $t: SIGTERM while waiting: exit $rc, not 130 (137: ignored)"; echo "$out"; exit 1; }
    done
    echo "ok: SIGTERM ends a waiting client ($peers)"
    # In a cpuset without CPU 0 (CPUs 1 and 2): every end pins itself to an
    # allowed CPU, and every measurement runs.
    if [ -n "$two_cpus" ]; then
        out=$(shim cpuset timeout -k 5 120 "$BENCH" local --tiny --transports pipe,memcpy --tests rtt,stream 2>&1)
        rc=$?
        [ $rc -eq 0 ] || { echo "FAIL: a cpuset without CPU 0: exit $rc"; echo "$out"; exit 1; }
        rows=$(printf '%s\n' "$out" | grep -c '^ROW ')
        [ "$rows" -eq 14 ] || { echo "FAIL: a cpuset without CPU 0: $rows rows, expected 14"; echo "$out"; exit 1; }
        echo "ok: a cpuset without CPU 0 is measured on its own CPUs"
    fi
fi

# On one CPU the ring's frames were never exercised: say so as a skip.
[ -z "$one_cpu" ] || { echo "SKIP: one CPU: the bare ring's framing was not run"; exit 77; }
