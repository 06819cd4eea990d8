#!/bin/sh
# A guest cannot freeze its domain's monitor, nor through it the daemon.
# A guest process may stop every process of its domain but init (kill -STOP
# -1): the monitor's freshly forked children too, before their exec.  The
# monitor keeps serving (a stopped child's job just waits), and the daemon
# never waits for a monitor that does not read (here one stopped from
# Domain-0): that request fails, naming the domain, and the daemon answers
# on.  Every wait is bounded, so a regression fails rather than hangs.
. "$(dirname "$0")/lib.sh"

"$XENSIM" up >/dev/null || { bad "up"; finish; exit 1; }
daemon=$(sim_daemon "$XENSIM_DIR")
# The monitors the daemon runs (its children named so), one pid a line.
monitors() {
    for p in /proc/[0-9]*; do
        [ "$(cat "$p/comm" 2>/dev/null)" = xensim-domain ] || continue
        set -- $(cat "$p/stat" 2>/dev/null)
        [ "${4:-}" = "$daemon" ] && echo "${p#/proc/}"
    done
}
# answers WHAT: the daemon still answers a request of Domain-0's.
answers() {
    if timeout -k 1 5 env XENSIM_TIMEOUT=4 "$XENSIM" list >/dev/null; then
        ok "$1"; else bad "$1"; fi
}
# A long argument: each spawn request then fills much of the monitor
# socket's buffer, which a few requests overflow.
big=$(head -c 30000 /dev/zero | tr '\0' x)

# stopper SECONDS FILE: stops all it can for SECONDS, then leaves them
# stopped and makes FILE.
cat > "$work/stopper.c" <<'EOF'
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv)
{
    struct timespec now, end;
    if (argc != 3)
        return 2;
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += atoi(argv[1]);
    do {
        kill(-1, SIGSTOP);
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while (now.tv_sec < end.tv_sec);
    return close(open(argv[2], O_WRONLY | O_CREAT, 0644)) ? 1 : 0;
}
EOF
${CC:-cc} -o "$work/stopper" "$work/stopper.c" 2> "$work/stopper.err" ||
    { bad "the stopper does not compile: $(cat "$work/stopper.err")"; finish; exit 1; }

timeout -k 1 10 env XENSIM_TIMEOUT=5 "$XENSIM" create "$(mkcfg calm)" -- sleep 600 >/dev/null
check "a bystander domain" timeout -k 1 10 "$XENSIM" exec calm -- true
timeout -k 1 10 env XENSIM_TIMEOUT=5 "$XENSIM" create "$(mkcfg stopper)" -- "$work/stopper" 6 "$work/stopper.done" >/dev/null
check "a domain whose guest stops every process it can" \
    test -n "$(timeout -k 1 5 "$XENSIM" list 2>/dev/null | grep stopper)"
# Execs into it meanwhile: each child may be stopped, before its exec or
# after, and waits; its CLI gives up on it (or is killed) after a few
# seconds, which kills it.
i=0
while [ $i -lt 10 ]; do
    XENSIM_TIMEOUT=2 timeout -k 1 4 "$XENSIM" exec stopper -- true "$big" >/dev/null 2>&1 &
    i=$((i + 1))
done
wait
answers "the daemon answers while the stopper runs"
check "another domain still runs commands" \
    timeout -k 1 10 env XENSIM_TIMEOUT=5 "$XENSIM" exec calm -- true
# Once the stopper is done, the domain's monitor serves again (the
# stopped children it has left were killed with their given-up execs).
i=0
while [ ! -e "$work/stopper.done" ] && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done
check "the stopper is done" test -e "$work/stopper.done"
check "the stopper's domain runs commands again after it" \
    timeout -k 1 10 env XENSIM_TIMEOUT=5 "$XENSIM" exec stopper -- true
check "destroy ends the stopper's domain" \
    timeout -k 1 10 env XENSIM_TIMEOUT=5 "$XENSIM" destroy stopper

# A monitor that does not keep up: stopped from Domain-0, it reads no
# request; its socket fills, and then the daemon refuses the request
# rather than wait.
before=$(monitors)
timeout -k 1 10 env XENSIM_TIMEOUT=5 "$XENSIM" create "$(mkcfg slow)" -- sleep 600 >/dev/null
mon=
for p in $(monitors); do
    case " $(echo $before) " in *" $p "*) ;; *) mon=$p ;; esac
done
check "the new domain's monitor (${mon:-none})" test -n "$mon"
[ -z "$mon" ] || kill -STOP "$mon"
# Enough requests to overflow its socket's buffer (net.core.wmem_default).
buf=$(cat /proc/sys/net/core/wmem_default 2>/dev/null || echo 212992)
n=$((buf / 30000 + 4))
[ $n -le 64 ] || n=64
i=0
while [ $i -lt $n ]; do
    XENSIM_TIMEOUT=3 timeout -k 1 6 "$XENSIM" exec slow -- true "$big" >/dev/null 2> "$work/exec-slow.$i" &
    i=$((i + 1))
done
wait
# (Those it queued wait for it, and their CLIs say the daemon did not.)
refused=$(cat "$work"/exec-slow.* | grep -v "did not answer" | grep -m 1 slow)
check "an exec the monitor cannot take fails, naming the domain ($refused)" \
    test -n "$refused"
answers "the daemon answers while a monitor does not read"
check "another domain still runs commands meanwhile" \
    timeout -k 1 10 env XENSIM_TIMEOUT=5 "$XENSIM" exec calm -- true
[ -z "$mon" ] || kill -CONT "$mon"
check "continued, the monitor serves again" \
    timeout -k 1 10 env XENSIM_TIMEOUT=5 "$XENSIM" exec slow -- true
check "destroy ends that domain" \
    timeout -k 1 10 env XENSIM_TIMEOUT=5 "$XENSIM" destroy slow

# A daemon that stopped answering cannot be taken down by `xensim down`:
# end it (its monitors die with it, and their domains' processes).
if ! timeout -k 1 5 env XENSIM_TIMEOUT=4 "$XENSIM" list >/dev/null 2>&1; then
    bad "the daemon is wedged: killing it (pid $daemon)"
    [ -z "$daemon" ] || kill -KILL $daemon
fi
finish
