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
