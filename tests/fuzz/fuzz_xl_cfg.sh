#!/bin/sh
# xensim create's xl.cfg reading (fuzz_xl_cfg.c), run by fuzz_run.sh.
# libxlutil is not instrumented, so the seeds show its syntax: every key
# cfg.c reads, lists, escapes, comments, numbers in hex; and a NUL in a
# string, on which libxlutil itself aborts.
exec sh "$(dirname "$0")/fuzz_run.sh" fuzz_xl_cfg 4096 \
	'# a guest\nname = "alpha"\nuuid = "0123abcd-4567-89ab-cdef-0123456789AB"\nmemory = 256\nvcpus = 0x2\nkernel = "/bin/sh"\ncmdline = "-c \\"echo hi\\""\nextra = '"'"'x'"'"'\nmax_grant_frames = 64; max_event_channels = 1023\nxensim_max_fds = 100\n' \
	'name = [ "a", "b" ]\ndisk = [ "phy:/dev/x,xvda,w", ]\nmemory = "256"\n' \
	'name = "a\\tb"\nuuid = "0123abcd-4567-89ab-cdef-0123456789A"\n' \
	'name = "a\000b"\n'
