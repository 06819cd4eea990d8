#!/bin/sh
# xensim's command line and domain lifecycle: up/down, create/exec/list/
# destroy/console, exit statuses, errors that name what was wrong, and that a
# domain's identity comes from what a process is, never from what it says.
. "$(dirname "$0")/lib.sh"

out=$("$XENSIM" up) && ok "up starts the host" || bad "up starts the host"
# The daemon is the one process holding the state folder's lock (no pid file).
daemon=$(for f in /proc/[0-9]*/fd/*; do
    [ "$(readlink "$f" 2>/dev/null)" = "$XENSIM_DIR/xensimd.lock" ] && { f=${f#/proc/}; echo "${f%%/*}"; }
done | sort -u)
check "the daemon is one process ($daemon)" sh -c "test -n '$daemon' && test '$daemon' -eq '$daemon'"
out=$("$XENSIM" up) && echo "$out" | grep -q "already up" && ok "up is idempotent" || bad "up is idempotent: $out"

a=$("$XENSIM" create "$(mkcfg alpha 'memory = 256' 'vcpus = 2')")
b=$("$XENSIM" create "$(mkcfg beta)" -- sleep 600)
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

# kernel= and cmdline= of the file are the first process and its arguments.
k=$("$XENSIM" create "$(mkcfg gamma 'kernel = "/bin/sh"' 'cmdline = "-c \"echo booted-gamma; sleep 600\""')")
sleep 0.3
check "kernel=/cmdline= run as the first process, console captured" \
    sh -c "'$XENSIM' console gamma | grep -q booted-gamma"
check "console by domid" sh -c "'$XENSIM' console $k | grep -q booted-gamma"

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
    err=$("$XENSIM" exec alpha -- env -u LD_LIBRARY_PATH unshare --pid --fork "$XENSIM" list 2>&1) && bad "nested namespace still domU" ||
        { echo "$err" | grep -q "Domain-0 only" && ok "nested PID namespace is still the domU" || bad "nested ns message: $err"; }
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

# An idle domain (no process left) stays until destroyed, like an idle VM.
"$XENSIM" exec alpha -- true
check "idle domain stays" sh -c "'$XENSIM' list | grep -q '^alpha '"

# Destroy ends every process, even ones that daemonized to escape.
"$XENSIM" exec beta -- sh -c 'setsid sh -c "sleep 700 & echo \$! > '"$work"'/escapee" >/dev/null 2>&1 &'
sleep 0.3
esc=$(cat "$work/escapee" 2>/dev/null || echo none)
before=$(pgrep -f 'sleep 70[0]' | wc -l)
"$XENSIM" destroy beta
check "destroy succeeds" test $? = 0
after=$(pgrep -f 'sleep 70[0]' | wc -l)
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
check "down ended every domain's processes" sh -c "! pgrep -f 'sleep 60[0]' >/dev/null"
out=$("$XENSIM" down)
check "down is idempotent" sh -c "echo '$out' | grep -q 'not running'"
err=$("$XENSIM" list 2>&1)
check "a command on a stopped host says so" sh -c "echo '$err' | grep -q 'not up'"
finish
