#!/usr/bin/env python3
# fork-flood.py N: fork up to N children, each a `sleep 60` writing nowhere
# (so that a domain's exec returns while they live on), until refused;
# prints how many it started and the refusal's errno name ("none").
# Used by dom-pids.sh and dom-cgroup.sh inside a domain.
import errno, os, sys
n, err = 0, "none"
null = os.open("/dev/null", os.O_RDWR)
while n < int(sys.argv[1]):
    try:
        pid = os.fork()
    except OSError as e:
        err = errno.errorcode.get(e.errno, str(e.errno))
        break
    if pid == 0:
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        try:
            os.execvp("sleep", ["sleep", "60"])
        finally:
            os._exit(127)
    n += 1
print(n, err)
