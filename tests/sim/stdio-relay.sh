#!/bin/sh
# A domain is never handed a descriptor of a host file: reopened through
# /proc/self/fd/N it is the file itself on the host's writable mount,
# whatever the domain's mounts say. exec's stdio that are files, folders or
# disks reach the command as pipes that the CLI copies, and a console log
# is written by the daemon alone, from a pipe, so that it only grows (as
# on Xen). What goes through the pipes arrives whole and in order.
. "$(dirname "$0")/lib.sh"

"$XENSIM" up >/dev/null || { bad "up"; finish; exit 1; }
"$XENSIM" create "$(mkcfg alpha)" >/dev/null || bad "create alpha"
# In the host's folder: a domain sees its sockets alone, so these files are
# out of its reach but for the descriptors it is given.
priv=$XENSIM_DIR/private
mkdir -p "$priv/dir" && echo secret > "$priv/dir/hidden"
echo original > "$priv/f"
"$XENSIM" exec alpha -- sh -c "echo forged > '$priv/f'" 2>/dev/null &&
    bad "a domain writes the host's folder: the tests below prove nothing" ||
    ok "a domain cannot write the file by its name"

# stdin from a file: not to be rewritten, still read.
"$XENSIM" exec alpha -- sh -c 'echo forged > /proc/self/fd/0' < "$priv/f" 2>/dev/null
check "a domain cannot rewrite the file given as its stdin ($(cat "$priv/f"))" \
    test "$(cat "$priv/f")" = original
out=$("$XENSIM" exec alpha -- cat < "$priv/f")
check "the command reads the file through its stdin ($out)" test "$out" = original
# stdin from a folder: neither listed nor written through.
out=$("$XENSIM" exec alpha -- sh -c 'ls /proc/self/fd/0/; echo x > /proc/self/fd/0/planted' \
    < "$priv/dir" 2>/dev/null)
check "a domain cannot list a folder given as its stdin ($out)" test -z "$out"
check "nor write in it" test ! -e "$priv/dir/planted"
# The file's offset ends where the command stopped reading, as if it had
# read the file itself: a loop reading the same file goes on.
printf 'one\ntwo\nthree\n' > "$priv/lines"
out=$( { "$XENSIM" exec alpha -- head -c 4 >/dev/null; cat; } < "$priv/lines" | tr '\n' ' ')
check "stdin's offset is what the command read ($out)" test "$out" = "two three "
out=$( { "$XENSIM" exec alpha -- true; cat; } < "$priv/lines" | tr '\n' ' ')
check "a command that reads nothing leaves stdin's offset ($out)" test "$out" = "one two three "

# The daemon checks for itself, whoever the client: an exec sent a file's
# descriptor is refused, naming it. (python3 speaks the control socket:
# setup.sh installs it.)
if ! command -v python3 >/dev/null; then
    bad "python3 is missing (Debian package python3): the daemon's own check was not run"
else
    out=$(python3 - "$XENSIM_DIR/ctl.sock" "$priv/f" <<'PY'
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
s.settimeout(10)
req = ["exec", "alpha", "/", "3", "/bin/sh", "-c", "echo forged > /proc/self/fd/0"]
null = os.open("/dev/null", os.O_WRONLY)
socket.send_fds(s, [b"".join(a.encode() + b"\0" for a in req)],
                [os.open(sys.argv[2], os.O_RDONLY), null, null])
rep = s.recv(65536).split(b"\0")[:-1]
if rep and rep[0] == b"started":
    rep = s.recv(65536).split(b"\0")[:-1]
print(" ".join(x.decode(errors="replace") for x in rep))
PY
)
    case $out in
    "err 22 "*"stdin is a host file"*) ok "the daemon refuses a file as an exec's stdin ($out)" ;;
    *) bad "the daemon refuses a file as an exec's stdin ($out)" ;;
    esac
    check "and the file is as it was ($(cat "$priv/f"))" test "$(cat "$priv/f")" = original
fi
out=$( { read -r l; "$XENSIM" exec alpha -- sh -c 'echo ab > /proc/self/fd/0'; cat; } \
    < "$priv/lines" | tr '\n' ' ')
check "what a command writes into its stdin does not take the offset back ($out)" \
    test "$out" = "two three "

# stdout into a file: not truncated through /proc (a pipe cannot be).
"$XENSIM" exec alpha -- sh -c 'echo a; : > /proc/self/fd/1; echo b' > "$priv/out" 2>/dev/null
check "a domain cannot truncate the file given as its stdout ($(tr '\n' ' ' < "$priv/out"))" \
    test "$(tr '\n' ' ' < "$priv/out")" = "a b "
"$XENSIM" exec alpha -- sh -c 'echo a >&2; : > /proc/self/fd/2; echo b >&2' 2> "$priv/err"
check "nor the file given as its stderr ($(tr '\n' ' ' < "$priv/err"))" \
    test "$(tr '\n' ' ' < "$priv/err")" = "a b "
# stdout and stderr into one file keep their order.
"$XENSIM" exec alpha -- sh -c 'echo 1; echo 2 >&2; echo 3; echo 4 >&2' > "$priv/both" 2>&1
check "stdout and stderr into one file stay in order ($(tr '\n' ' ' < "$priv/both"))" \
    test "$(tr '\n' ' ' < "$priv/both")" = "1 2 3 4 "
# Appending stays appending.
echo first > "$priv/app"
"$XENSIM" exec alpha -- echo second >> "$priv/app"
check "stdout appended to a file ($(tr '\n' ' ' < "$priv/app"))" \
    test "$(tr '\n' ' ' < "$priv/app")" = "first second "
# Large output arrives whole and in order, and the status is the command's.
"$XENSIM" exec alpha -- sh -c 'seq 1 1500000; exit 7' > "$priv/big"; st=$?
check "exec's status through the copies is the command's ($st)" test "$st" = 7
check "10 MB through stdout arrive whole and in order ($(wc -c < "$priv/big") bytes)" \
    sh -c "seq 1 1500000 | cmp -s - '$priv/big'"
# As through any pipe, the output ends when its last writer closes it, and
# exec returns then: a process the command left behind is heard out.
"$XENSIM" exec alpha -- sh -c '(sleep 0.5; echo late) & echo early' > "$priv/late"
check "exec returns with the output complete ($(tr '\n' ' ' < "$priv/late"))" \
    test "$(tr '\n' ' ' < "$priv/late")" = "early late "
# And through stdin.
seq 1 1500000 > "$priv/bigin"
out=$("$XENSIM" exec alpha -- md5sum < "$priv/bigin")
check "10 MB through stdin arrive whole and in order" \
    test "${out%% *}" = "$(md5sum < "$priv/bigin" | cut -d' ' -f1)"
# Character devices and pipes are passed as they are.
out=$("$XENSIM" exec alpha -- sh -c 'readlink /proc/self/fd/0' < /dev/null)
check "/dev/null is passed as it is ($out)" test "$out" = /dev/null

# A terminal is relayed through pipes too (like `docker exec -i` without -t):
# a domain holding the host's terminal could change its modes, and read
# what is typed at the host's shell once exec returned. The copier reads
# only while the command runs, and never changes the terminal's modes.
# (python3 plays the user at a pty: setup.sh installs it.)
if command -v python3 >/dev/null; then
    cat > "$work/tty_user.py" <<'PY'
import os, pty, select, signal, sys, termios, time
# tty_user.py SCRIPT [LINE-AFTER-MARK MARK]...: SCRIPT runs in sh on a new pty;
# once MARK is seen, LINE is typed. Prints the pty's output, then
# "echo-before=N echo-after=N" (the pty's ECHO flag around the run).
script, steps = sys.argv[1], sys.argv[2:]
pid, m = pty.fork()
if pid == 0:
    os.execvp("sh", ["sh", "-c", script])
echo = lambda: int(bool(termios.tcgetattr(m)[3] & termios.ECHO))
before, out, end = echo(), b"", time.monotonic() + 20
while time.monotonic() < end:
    if steps and steps[1].encode() in out:
        os.write(m, steps[0].encode() + b"\n")
        steps = steps[2:]
    if not select.select([m], [], [], 0.1)[0]:
        continue
    try:
        data = os.read(m, 4096)
    except OSError:
        break
    if not data:
        break
    out += data
    if b"pty-done" in out:
        break
after = echo()
os.kill(pid, signal.SIGKILL)
os.waitpid(pid, 0)
print(out.decode(errors="replace").replace("\r", ""))
print("echo-before=%d echo-after=%d" % (before, after))
PY
    # has PATTERN...: the pty's output ($out) shows each
    has() { for p; do printf '%s\n' "$out" | grep -q -- "$p" || return 1; done; }
    # The command keeps a copy of its stdin for later and turns echo off;
    # a line typed at the host's shell after exec returned is not its.
    rm -f "$work/stolen" "$work/stolen.done"
    out=$(python3 "$work/tty_user.py" "\"$XENSIM\" exec alpha -- sh -c 'exec 3<&0
        (sleep 2; head -n1 <&3 > $work/stolen; touch $work/stolen.done) >/dev/null 2>&1 &
        stty -echo 2>/dev/null; echo kept'; echo exec-done
        i=0; while [ ! -e $work/stolen.done ] && [ \$i -lt 100 ]; do sleep 0.1; i=\$((i + 1)); done
        echo pty-done" typed-after exec-done)
    check "exec with a terminal runs the command, and returns" has kept exec-done
    check "a domain cannot change the terminal's modes ($(echo "$out" | tail -n1))" \
        has 'echo-before=1 echo-after=1'
    check "a domain cannot read a line typed after exec returned ($(cat "$work/stolen" 2>&1))" \
        sh -c "test -e '$work/stolen.done' && ! grep -q typed-after '$work/stolen'"
    # Yet what is typed while the command runs reaches it, through a pipe.
    out=$(python3 "$work/tty_user.py" "\"$XENSIM\" exec alpha -- sh -c '
        test -t 0 && echo in-tty || echo in-pipe; test -t 1 && echo out-tty || echo out-pipe
        read l; echo \"got:\$l\"'; echo exec-status:\$?; echo pty-done" typed-during out-)
    check "the command's stdin and stdout are not the terminal ($(echo $out))" \
        has in-pipe out-pipe
    check "what is typed while it runs reaches it" has got:typed-during exec-status:0
    # Lines pasted at once: the copier reads the terminal only once the
    # command took the last line given, so what it never asks for stays the
    # shell's, but for one line at most.
    paste=$(printf 'p1\np2\np3')
    out=$(python3 "$work/tty_user.py" "t0=\$(date +%s)
        \"$XENSIM\" exec alpha -- sh -c 'echo ready; head -n1 | sed s/^/got:/'
        echo exec-done; echo took:\$((\$(date +%s) - t0)); read l; echo after:\$l
        echo pty-done" "$paste" ready sentinel exec-done)
    check "of three lines pasted, the command reading one gets the first ($(echo $out))" \
        sh -c 'printf "%s\n" "$1" | grep -q got:p1 && ! printf "%s\n" "$1" | grep -q got:p[23]' \
        - "$out"
    check "and exec returns promptly" has 'took:[0-2]$'
    check "the shell reads a pasted line the command did not" has 'after:p[23]'
    # A background exec in an interactive shell is not stopped when the user
    # types at the shell: its copier reads the terminal only while exec is in
    # the foreground (else SIGTTIN stops its whole process group).
    if ! command -v bash >/dev/null; then
        bad "bash is missing (Debian package bash): exec in the background was not tried"
    else
        cat > "$work/bash_user.py" <<'PY'
import os, pty, select, signal, sys, time
# bash_user.py HIST [MARK LINE]... END: an interactive bash (history in
# HIST) on a new pty; LINE is typed once MARK shows in the output that came
# since the last line was typed. Prints the output once END shows, or
# after 20 s.
hist, steps = sys.argv[1], sys.argv[2:]
pid, m = pty.fork()
if pid == 0:
    os.environ.update(PS1="$ ", HISTFILE=hist)
    os.execvp("bash", ["bash", "--norc", "--noprofile", "-i"])
out, since, end = b"", 0, time.monotonic() + 20
while time.monotonic() < end:
    if steps and steps[0].encode() in out[since:]:
        if len(steps) == 1:
            break
        since = len(out)
        os.write(m, steps[1].encode() + b"\r")
        steps = steps[2:]
    if not select.select([m], [], [], 0.1)[0]:
        continue
    try:
        data = os.read(m, 4096)
    except OSError:
        break
    if not data:
        break
    out += data
os.kill(pid, signal.SIGKILL)
os.waitpid(pid, 0)
print(out.decode(errors="replace").replace("\r", ""))
PY
        # Typed lines are echoed: what they run sits in files, so that the
        # marks awaited are only what the commands say.
        echo "\"$XENSIM\" exec alpha -- sh -c 'echo cmd-started; sleep 2; echo cmd-done' &" \
            > "$work/bg-start.sh"
        echo 'wait %1; echo "wait-status:$?"' > "$work/bg-wait.sh"
        out=$(python3 "$work/bash_user.py" "$work/bash-history" '$ ' ". $work/bg-start.sh" \
            cmd-started 'echo at-shell-$((40 + 2))' at-shell-42 ". $work/bg-wait.sh" wait-status:)
        check "exec in the background runs on while the user types at the shell ($(printf '%s\n' \
            "$out" | grep -E 'cmd-done|Stopped|wait-status' | tr -d '\033' | tr '\n' ' '))" \
            has cmd-done wait-status:0
    fi
    # The daemon checks for itself: a client handing it a terminal is refused.
    out=$(python3 - "$XENSIM_DIR/ctl.sock" <<'PY'
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
s.settimeout(10)
req = ["exec", "alpha", "/", "2", "/bin/sh", "-c", "stty -echo"]
null = os.open("/dev/null", os.O_RDWR)
master, slave = os.openpty()
socket.send_fds(s, [b"".join(a.encode() + b"\0" for a in req)], [null, slave, null])
rep = s.recv(65536).split(b"\0")[:-1]
if rep and rep[0] == b"started":
    rep = s.recv(65536).split(b"\0")[:-1]
print(" ".join(x.decode(errors="replace") for x in rep))
PY
)
    case $out in
    "err 22 "*"stdout is a terminal"*) ok "the daemon refuses a terminal as an exec's stdout ($out)" ;;
    *) bad "the daemon refuses a terminal as an exec's stdout ($out)" ;;
    esac
    # Nor an O_PATH descriptor of one (isatty cannot see it), which the
    # domain would reopen read-write through /proc/self/fd/0.
    out=$(python3 - "$XENSIM_DIR/ctl.sock" <<'PY'
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
s.settimeout(10)
req = ["exec", "alpha", "/", "3", "/bin/sh", "-c", "exec 3<>/proc/self/fd/0; stty -echo <&3"]
null = os.open("/dev/null", os.O_RDWR)
master, slave = os.openpty()
path = os.open(os.ttyname(slave), os.O_PATH)
socket.send_fds(s, [b"".join(a.encode() + b"\0" for a in req)], [path, null, null])
rep = s.recv(65536).split(b"\0")[:-1]
if rep and rep[0] == b"started":
    rep = s.recv(65536).split(b"\0")[:-1]
print(" ".join(x.decode(errors="replace") for x in rep))
PY
)
    case $out in
    "err 22 "*"stdin is a path-only (O_PATH) descriptor"*)
        ok "the daemon refuses an O_PATH descriptor of a terminal as an exec's stdin ($out)" ;;
    *) bad "the daemon refuses an O_PATH descriptor of a terminal as an exec's stdin ($out)" ;;
    esac
else
    bad "python3 is missing (Debian package python3): exec with a terminal was not tried"
fi
# A stopped command still ends on a signal passed on: the daemon continues
# it, as shells do a stopped job, or exec would wait for ever.
"$XENSIM" exec alpha -- sh -c 'kill -STOP $$; echo resumed' stopped-cmd > "$work/stopped" &
cli=$!
i=0; while ! grep -qs '^State:.*stopped' $(grep -ls stopped-cmd /proc/[0-9]*/cmdline |
    sed 's/cmdline$/status/') /dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
kill -TERM $cli
i=0; while kill -0 $cli 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
kill -0 $cli 2>/dev/null && kill -KILL $cli
wait $cli; st=$?
check "SIGTERM ends a stopped command, signalled ($st; $(cat "$work/stopped"))" \
    test "$st" = 143 -a ! -s "$work/stopped"
# But a signal the command ignores wakes none of its processes that it
# stopped on purpose: CONT follows only when the command itself is stopped.
"$XENSIM" exec alpha -- sh -c "trap '' INT; sleep 30 & p=\$!; kill -STOP \$p; sleep 4
    grep State /proc/\$p/status; kill -KILL \$p" > "$work/kept-stopped" &
cli=$!
sleep 1.5
kill -INT $cli
wait $cli; st=$?
check "an ignored SIGINT leaves a process the command stopped stopped ($st; $(cat "$work/kept-stopped"))" \
    sh -c "test $st = 0 && grep -q '^State:.*T' '$work/kept-stopped'"

# The console log only grows: the first process writes to a pipe.
"$XENSIM" create "$(mkcfg beta)" -- \
    sh -c 'echo line-one; : > /proc/self/fd/1; echo line-two; exec sleep 600' >/dev/null ||
    bad "create beta"
i=0; while ! "$XENSIM" console beta | grep -q line-two && [ $i -lt 50 ]; do
    sleep 0.1; i=$((i + 1))
done
out=$("$XENSIM" console beta | tr '\n' ' ')
check "a domain cannot truncate its console log ($out)" test "$out" = "line-one line-two "
# Once destroyed, its log holds its last words, and the daemon lets go of it.
# (It marks its output written, in the host's work folder that it may write.)
"$XENSIM" create "$(mkcfg gamma)" -- \
    sh -c "seq 1 30000; touch '$work/gamma.done'; exec sleep 600" >/dev/null ||
    bad "create gamma"
i=0; while [ ! -e "$work/gamma.done" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
"$XENSIM" destroy gamma
check "the log holds a destroyed domain's whole output" \
    sh -c "seq 1 30000 | cmp -s - '$XENSIM_DIR/console/gamma.log'"
daemon=$(sim_daemon "$XENSIM_DIR")
n=$(for f in /proc/$daemon/fd/*; do readlink "$f"; done | grep -c "console/gamma.log")
check "the daemon holds no destroyed domain's log ($n)" test "$n" = 0
"$XENSIM" create "$(mkcfg delta)" -- echo delta-said >/dev/null || bad "create delta"
i=0; while for f in /proc/$daemon/fd/*; do readlink "$f"; done | grep -q "console/delta.log" &&
    [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
check "the daemon lets go of a log all its writers closed" \
    sh -c "! for f in /proc/$daemon/fd/*; do readlink \$f; done | grep -q console/delta.log"
check "and it holds what they wrote" grep -q delta-said "$XENSIM_DIR/console/delta.log"
finish
