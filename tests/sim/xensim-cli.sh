#!/bin/sh
# xensim's command line and domain lifecycle: up/down, create/exec/list/
# destroy/console, exit statuses, errors that name what was wrong, and that a
# domain's identity comes from what a process is, never from what it says.
. "$(dirname "$0")/lib.sh"
# Without pgrep every "! pgrep ..." below would pass having seen nothing.
command -v pgrep > /dev/null 2>&1 ||
    { echo "FAIL: pgrep is missing (Debian package procps): this test needs it"; exit 1; }
# This run's long sleeps: unique (600.PID seconds), so that pgrep never sees
# another run's; the [.] keeps the pattern from matching its own command line.
long=600.$$ longpat="sleep 600[.]$$"

out=$("$XENSIM" up) && ok "up starts the host" || bad "up starts the host"
# The daemon is the one process holding the state folder's lock (no pid file).
daemon=$(for f in /proc/[0-9]*/fd/*; do
    [ "$(readlink "$f" 2>/dev/null)" = "$XENSIM_DIR/xensimd.lock" ] && { f=${f#/proc/}; echo "${f%%/*}"; }
done | sort -u)
check "the daemon is one process ($daemon)" sh -c "test -n '$daemon' && test '$daemon' -eq '$daemon'"
out=$("$XENSIM" up) && echo "$out" | grep -q "already up" && ok "up is idempotent" || bad "up is idempotent: $out"

a=$("$XENSIM" create "$(mkcfg alpha 'memory = 256' 'vcpus = 2')")
b=$("$XENSIM" create "$(mkcfg beta)" -- sleep $long)
check "create prints increasing domids ($a, $b)" test "$a" -ge 1 -a "$b" -gt "$a"

err=$("$XENSIM" create "$(mkcfg alpha)" 2>&1) && bad "duplicate name refused" ||
    { echo "$err" | grep -q "alpha" && ok "duplicate name refused, naming it" || bad "duplicate name message: $err"; }
printf 'memory = 128\n' > "$work/noname.cfg"
err=$("$XENSIM" create "$work/noname.cfg" 2>&1) && bad "cfg without name refused" ||
    { echo "$err" | grep -q "name= is required" && ok "cfg without name refused" || bad "no-name message: $err"; }
printf 'name = "broken\n' > "$work/broken.cfg"
err=$("$XENSIM" create "$work/broken.cfg" 2>&1) && bad "broken cfg refused" ||
    { echo "$err" | grep -q "broken.cfg" && ok "broken cfg refused, naming the file" || bad "broken cfg message: $err"; }
err=$("$XENSIM" create "$work/missing.cfg" 2>&1) && bad "missing cfg refused" ||
    { echo "$err" | grep -q "missing.cfg" && ok "missing cfg refused, naming the file" || bad "missing cfg message: $err"; }

# A value is refused, naming the file and the key, rather than cut or read
# as something else (a cut kernel= or cmdline= would run another command).
# refused NAME CFG PATTERN...: create from CFG fails, the message names the
# file and matches every PATTERN, and no domain is left.
refused() {
    n=$1 f=$2; shift 2
    err=$("$XENSIM" create "$f" 2>&1) && { bad "$n: created"; return; }
    for p in "$(basename "$f")" "$@"; do
        echo "$err" | grep -q -- "$p" || { bad "$n: no '$p' in: $err"; return; }
    done
    ok "$n"
}
x100=$(printf '%0100d' 0 | tr 0 x)
printf 'name = "%s"\n' "$x100" > "$work/longname.cfg"
refused "a 100-character name is refused, not cut" "$work/longname.cfg" "name=" "63"
refused "a kernel= too long is refused" \
    "$(mkcfg longkernel "kernel = \"/$(printf '%05000d' 0)\"")" "kernel=" "4095"
refused "a cmdline= too long is refused" \
    "$(mkcfg longcmd 'kernel = "/bin/echo"' "cmdline = \"$(printf '%09000d' 0)\"")" "cmdline=" "8191"
refused "a uuid with trailing garbage is refused" \
    "$(mkcfg uuidtrail 'uuid = "00000000-0000-0000-0000-000000000001trailing"')" "uuid="
refused "a uuid with misplaced dashes is refused" \
    "$(mkcfg uuiddash 'uuid = "0000000000000000-0000-0000-00000001"')" "uuid=" "8-4-4-4-12"
printf 'name = "tab\tname"\n' > "$work/tabname.cfg"
refused "a name with a tab is refused" "$work/tabname.cfg" "name=" "control character"
printf 'name = "sl/ash"\n' > "$work/slash.cfg"
refused "a name with '/' is refused naming the file" "$work/slash.cfg" "name=" "'/'"
# A number xl would only warn about (and leave at its default) is refused,
# naming the value and the range the daemon takes too.
refused "a memory= that is not a number is refused" \
    "$(mkcfg memword 'memory = "lots"')" "memory= 'lots' is not a number" "1 to 1073741824"
refused "a vcpus= of 0 is refused" "$(mkcfg vcpuzero 'vcpus = 0')" "vcpus= '0' is zero" "1 to 512"
refused "a negative vcpus= is refused" "$(mkcfg vcpuneg 'vcpus = "-2"')" "vcpus= '-2' is negative" "1 to 512"
refused "a max_grant_frames= past the daemon's bound is refused" \
    "$(mkcfg bigframes 'max_grant_frames = 4097')" "max_grant_frames= '4097' is too large" "1 to 4096"
check "no refused cfg left a domain" sh -c "! '$XENSIM' list | grep -Eq '^(x{63}|tab|sl|longkernel|longcmd|uuidtrail|uuiddash|memword|vcpuzero|vcpuneg|bigframes) '"
"$XENSIM" create "$(mkcfg bounds 'memory = 0x100' 'vcpus = 512' 'max_grant_frames = 4096' \
    'max_event_channels = 131072' 'xensim_max_fds = 4294967295')" > /dev/null &&
    ok "the largest values the cfg takes, the daemon takes too" ||
    bad "the largest values the cfg takes, the daemon takes too"
"$XENSIM" destroy bounds
u=$("$XENSIM" create "$(mkcfg uuidok 'uuid = "0123ABCD-4567-89ab-cdef-0123456789AB"')") &&
    "$XENSIM" list --json | grep -q '"uuid": "0123abcd-4567-89ab-cdef-0123456789ab"' &&
    ok "an 8-4-4-4-12 uuid is taken, in either case" || bad "an 8-4-4-4-12 uuid is taken"
"$XENSIM" destroy uuidok

# kernel= and cmdline= of the file are the first process and its arguments.
k=$("$XENSIM" create "$(mkcfg gamma 'kernel = "/bin/sh"' 'cmdline = "-c \"echo booted-gamma; sleep '$long'\""')")
sleep 0.3
check "kernel=/cmdline= run as the first process, console captured" \
    sh -c "'$XENSIM' console gamma | grep -q booted-gamma"
check "console by domid" sh -c "'$XENSIM' console $k | grep -q booted-gamma"

# A first process that cannot start fails the create, like xl create with a
# kernel it cannot load: the message names it and why, and no domain stays.
err=$("$XENSIM" create "$(mkcfg nokernel 'kernel = "/nonexistent/prog"')" 2>&1) &&
    bad "create with a missing kernel= fails" ||
    { echo "$err" | grep -q '/nonexistent/prog: No such file or directory' &&
      ok "create with a missing kernel= fails naming it and why" || bad "missing kernel= message: $err"; }
check "the failed create left no domain" sh -c "! '$XENSIM' list | grep -q '^nokernel '"
err=$("$XENSIM" create "$(mkcfg nocmd)" -- /nonexistent/x 2>&1) &&
    bad "create -- with a missing command fails" ||
    { echo "$err" | grep -q '/nonexistent/x' && ok "create -- with a missing command fails naming it" ||
      bad "missing command message: $err"; }
# Gone at once: its name is free for the next try.
"$XENSIM" create "$work/nokernel.cfg" -- true >/dev/null &&
    "$XENSIM" destroy nokernel && ok "a failed create's name is free at once" ||
    bad "a failed create's name is free at once"

# The daemon checks for itself, whoever the client; and a client that leaves
# before create's answer takes the domain with it. (python3 speaks the
# control socket's strings: setup.sh installs it.)
if ! command -v python3 >/dev/null; then
    bad "python3 is missing (Debian package python3): the daemon's own checks were not run"
else
    # raw ask|leave ARG...: one request; ask prints the reply, leave hangs up
    # at once (staying alive a second, so the daemon can still tell who it was).
    raw() {
        python3 - "$XENSIM_DIR/ctl.sock" "$@" <<'PY'
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
if sys.argv[2] == "leave":
    # Gone before the daemon could answer (it makes a domain first, some
    # ms): not preempted between the send and the close, where possible.
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
    except OSError:
        pass
s.send(b"".join(a.encode() + b"\0" for a in sys.argv[3:]))
if sys.argv[2] == "leave":
    s.close()
    time.sleep(1)
else:
    s.settimeout(10)
    print(" ".join(x.decode(errors="replace") for x in s.recv(65536).split(b"\0")[:-1]))
PY
    }
    out=$(raw ask create name=rawuuid1 uuid=00000000-0000-0000-0000-000000000001x)
    check "the daemon refuses a uuid with trailing garbage ($out)" sh -c "echo '$out' | grep -q '^err 22 .*uuid'"
    out=$(raw ask create name=rawuuid2 uuid=0000000000000000-0000-0000-00000001)
    check "the daemon refuses a uuid with misplaced dashes ($out)" sh -c "echo '$out' | grep -q '^err 22 .*uuid'"
    out=$(raw ask create "$(printf 'name=raw\tname')")
    check "the daemon refuses a name with a tab ($out)" sh -c "echo '$out' | grep -q '^err 22 .*control character'"
    raw leave create name=rawleft -- / 2 /bin/sleep "$long"
    # Its destroy may still be under way on a loaded machine: up to 10 s.
    n=0; while "$XENSIM" list | grep -q '^rawleft ' && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
    check "a create whose client left leaves no domain (gone after $n looks)" sh -c "! '$XENSIM' list | grep -q '^rawleft '"
fi

"$XENSIM" exec alpha -- sh -c 'exit 3'; st=$?
check "exec returns the command's status (3 = $st)" test "$st" = 3
out=$(echo hello-stdin | "$XENSIM" exec alpha -- cat)
check "exec passes stdin and stdout" test "$out" = hello-stdin
"$XENSIM" exec alpha -- sh -c 'echo to-stderr >&2' 2>"$work/err" >/dev/null
check "exec passes stderr" grep -q to-stderr "$work/err"
"$XENSIM" exec alpha -- /nonexistent/prog 2>"$work/err"; st=$?
check "exec of a missing program exits 127 ($st) naming it" sh -c "test $st = 127 && grep -q /nonexistent/prog '$work/err'"
"$XENSIM" exec nosuchdom -- true 2>"$work/err"; st=$?
check "exec in a missing domain fails ($st) naming it" sh -c "test $st != 0 && grep -q nosuchdom '$work/err'"
"$XENSIM" exec "$a" -- true
check "exec by domid" test $? = 0
# A domain's programs inherit nothing past stdio: the monitor's socket to
# the daemon stays the monitor's (a guest program has no such descriptor).
out=$("$XENSIM" exec alpha -- sh -c 'readlink /proc/self/fd/3 || echo none' 2>/dev/null)
check "a domain's program inherits no descriptor 3 ($out)" test "$out" = none
out=$("$XENSIM" exec 0 -- sh -c 'echo $XENSTORED_PATH')
check "exec in dom0 runs on the host with the store pointed at xensim" test "$out" = "$XENSIM_DIR/xenstored.sock"
out=$("$XENSIM" exec alpha -- readlink /proc/self/ns/pid)
host=$(readlink /proc/self/ns/pid)
check "a domain is its own PID namespace ($out, host $host)" sh -c "test -n '$out' -a -n '$host' -a '$out' != '$host'"

# Identity: a domU process cannot use dom0's control socket, whatever it says.
# (env -u: the CLI links libxlutil, whose libxenlight needs the real libxenctrl.)
err=$("$XENSIM" exec alpha -- env -u LD_LIBRARY_PATH XENSIM_DIR="$XENSIM_DIR" "$XENSIM" list 2>&1) && bad "domU refused on the control socket" ||
    { echo "$err" | grep -q "Domain-0 only" && ok "domU refused on the control socket" || bad "domU control message: $err"; }
# Refused for being a domU, not for some other reason; and beta survives.
err=$("$XENSIM" exec alpha -- env -u LD_LIBRARY_PATH "$XENSIM" destroy beta 2>&1) && bad "domU cannot destroy another domain" ||
    { echo "$err" | grep -q "Domain-0 only" && "$XENSIM" list | grep -q '^beta ' &&
      ok "domU cannot destroy another domain" || bad "domU destroy: $err"; }
# Nor can it climb out by nesting a PID namespace of its own.
if command -v unshare >/dev/null; then
    # A domain's processes hold no capability (isolation.sh): the nesting
    # itself is refused, or, where it is not, the domU still refused.
    err=$("$XENSIM" exec alpha -- env -u LD_LIBRARY_PATH unshare --pid --fork "$XENSIM" list 2>&1) && bad "nested namespace still domU" ||
        { echo "$err" | grep -q "Domain-0 only\|unshare failed: Operation not permitted" && ok "nested PID namespace is still the domU" || bad "nested ns message: $err"; }
else
    bad "unshare(1) is missing (util-linux): a nested PID namespace was not tried"
fi

list=$("$XENSIM" list)
check "list shows Domain-0 and the domains" sh -c "echo '$list' | grep -q '^Domain-0 ' && echo '$list' | grep -q '^alpha ' && echo '$list' | grep -q '^beta '"
check "list reports memory from the cfg" sh -c "echo '$list' | awk '\$1==\"alpha\"{exit \$3==256?0:1}'"
check "list ends with an fds column" sh -c "echo '$list' | head -1 | grep -q ' fds\$'"
check "list shows alpha's descriptors out of its budget" \
    sh -c "echo '$list' | awk '\$1==\"alpha\"{exit \$NF ~ /^[0-9]+\/[0-9]+\$/ ? 0 : 1}'"
check "list shows Domain-0's descriptors, unbudgeted" \
    sh -c "echo '$list' | awk '\$1==\"Domain-0\"{exit \$NF ~ /^[0-9]+\/-\$/ ? 0 : 1}'"
json=$("$XENSIM" list --json)
check "list --json has fds_used and fds_max (null for Domain-0)" sh -c "echo '$json' | grep -q '\"fds_used\": [0-9]*, \"fds_max\": null}' && echo '$json' | grep -q '\"fds_max\": [0-9][0-9]*}'"
check "list --json has every domain" sh -c "echo '$json' | grep -q '\"name\": \"beta\"' && echo '$json' | grep -q '\"domid\": $a,'"
err=$("$XENSIM" list --bogus 2>&1); st=$?
check "list with a bad flag is a usage error" test $st = 2

# A stopped (wedged) daemon: every command gives up within XENSIM_TIMEOUT,
# saying which host did not answer, instead of hanging.
# Two commands in alpha first, for the signals below; each leaves a mark
# once it runs.
XENSIM_TIMEOUT=1 "$XENSIM" exec alpha -- sh -c "touch '$work/p1.up'; exec sleep $long" & p1=$!
"$XENSIM" exec alpha -- sh -c "touch '$work/p2.up'; exec sleep $long" & p2=$!
i=0; while ! [ -e "$work/p1.up" -a -e "$work/p2.up" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
sleep 0.2 # their "started" replies
kill -STOP "$daemon"
# wedged NAME STATUS ARG...: xensim ARG... fails with STATUS within 3 s,
# naming the host's folder. (Into a file: exec's stdio, sent to the daemon,
# stays open in its queue while it is stopped.)
wedged() {
    n=$1 want=$2; shift 2
    t0=$(date +%s)
    XENSIM_TIMEOUT=1 timeout -k 1 8 "$XENSIM" "$@" </dev/null >"$work/wedged.out" 2>&1; st=$?
    t=$(($(date +%s) - t0))
    err=$(cat "$work/wedged.out")
    if [ "$st" = "$want" ] && [ $t -le 3 ] && echo "$err" | grep -q "$XENSIM_DIR.* answer"; then
        ok "$n ($t s)"
    else
        bad "$n: status $st after $t s: $err"
    fi
}
wedged "list gives up on a stopped daemon" 1 list
wedged "up gives up on a stopped daemon" 1 up
wedged "create gives up on a stopped daemon" 1 create "$(mkcfg wedged)" -- sleep 1
wedged "destroy gives up on a stopped daemon" 1 destroy nosuchdom
wedged "exec gives up on a stopped daemon" 125 exec alpha -- true
# exec passes signals on; when the daemon does not take one, exec takes it
# itself: at once on a second one, else after XENSIM_TIMEOUT.
(sleep 6; kill -KILL $p1 $p2) 2>/dev/null & watchdog=$!
t0=$(date +%s)
kill -TERM $p1 $p2
sleep 0.3
kill -TERM $p2
wait $p2; st2=$?
wait $p1; st1=$?
t=$(($(date +%s) - t0))
kill $watchdog 2>/dev/null
check "exec dies of a second TERM the daemon did not take ($st2)" test $st2 = 143
check "exec dies of a TERM the daemon did not take in time ($st1 after $t s)" test $st1 = 143 -a $t -le 3
kill -CONT "$daemon"
check "the daemon goes on when continued" sh -c "'$XENSIM' list | grep -q '^alpha '"
check "the timed-out create left no domain" sh -c "! '$XENSIM' list | grep -q '^wedged '"

# An idle domain (no process left) stays until destroyed, like an idle VM.
"$XENSIM" exec alpha -- true
check "idle domain stays" sh -c "'$XENSIM' list | grep -q '^alpha '"

# Destroy ends every process, even ones that daemonized to escape.
"$XENSIM" exec beta -- sh -c 'setsid sh -c "sleep 700.'$$' & echo \$! > '"$work"'/escapee" >/dev/null 2>&1 &'
sleep 0.3
esc=$(cat "$work/escapee" 2>/dev/null || echo none)
before=$(pgrep -f "sleep 700[.]$$" | wc -l)
"$XENSIM" destroy beta
check "destroy succeeds" test $? = 0
after=$(pgrep -f "sleep 700[.]$$" | wc -l)
check "destroy killed daemonized processes ($before -> $after)" test "$before" -ge 1 -a "$after" = 0
check "destroyed domain is gone from list" sh -c "! '$XENSIM' list | grep -q '^beta '"
err=$("$XENSIM" destroy beta 2>&1) && bad "destroy of a missing domain fails" ||
    { echo "$err" | grep -q beta && ok "destroy of a missing domain fails naming it" || bad "destroy msg: $err"; }
err=$("$XENSIM" destroy 0 2>&1) && bad "Domain-0 cannot be destroyed" ||
    { echo "$err" | grep -q "Domain-0 cannot be destroyed" && ok "Domain-0 cannot be destroyed" || bad "destroy 0 message: $err"; }

# Unknown commands and missing arguments are usage errors.
"$XENSIM" frobnicate 2>/dev/null; check "unknown command exits 2" test $? = 2
"$XENSIM" exec alpha 2>/dev/null; check "exec without -- exits 2" test $? = 2

"$XENSIM" down >/dev/null
check "down stops the host" sh -c "! test -S '$XENSIM_DIR/ctl.sock'"
# down waits for the lock, so the daemon should already be gone; allow 2 s.
i=0; while [ -n "$daemon" ] && kill -0 "$daemon" 2>/dev/null && [ $i -lt 20 ]; do sleep 0.1; i=$((i + 1)); done
check "down ended the daemon ($daemon)" sh -c "test -n '$daemon' && ! kill -0 '$daemon' 2>/dev/null"
check "down ended every domain's processes" sh -c "! pgrep -f '$longpat' >/dev/null"
out=$("$XENSIM" down)
check "down is idempotent" sh -c "echo '$out' | grep -q 'not running'"
err=$("$XENSIM" list 2>&1)
check "a command on a stopped host says so" sh -c "echo '$err' | grep -q 'not up'"
finish
