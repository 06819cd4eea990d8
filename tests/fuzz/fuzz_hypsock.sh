#!/bin/sh
# The hypervisor-socket target (fuzz_hypsock.c: hostile processes on
# xensim's hyp.sock), run by fuzz_run.sh.  The seed, in the script's terms
# (step(): a command byte, a connection byte, then the request's fields):
#   \000                  cfg: no scene, Xen's default limits
#   \017\007              open connection 7 in dom3, HELLO as GNTSHR
#   \010\006              open connection 6 in dom0, HELLO as GNTTAB
#   \113\007 \000 \200 \001 \000 \000 \000 \000
#                         SHARE on 7: to dom0, one page, writable, no notify
#                         offset or port, right length, the right memfd
#   \110\006 \200 \001 \001 \000 \001 \000 \000 \000
#                         MAP on 6: one page, writable, notify byte at
#                         offset 0, no notify port, an owner pipe (kept
#                         open), the ref dom3 granted to dom0, right
#                         length, the pipe as its fd
#   \310\000 \001         the mapping process dies: its owner pipe hangs
#                         up, the daemon's loop clears the notify byte
# (on_owner_gone() -> notify_clear_byte()) before the input ends.
exec sh "$(dirname "$0")/fuzz_run.sh" fuzz_hypsock 4096 \
	'\000\017\007\010\006\113\007\000\200\001\000\000\000\000\110\006\200\001\001\000\001\000\000\000\310\000\001'
