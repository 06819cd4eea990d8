#!/bin/sh
# The hypervisor-socket target (fuzz_hypsock.c: hostile processes on
# xensim's hyp.sock), run by fuzz_run.sh.  The seed: domain 3 shares a page
# with domain 0, which maps it with an unmap-notify byte and an owner pipe,
# and the mapping process dies (found by the fuzzer in ~450k runs; a 30 s
# run from nothing seldom gets there).
exec sh "$(dirname "$0")/fuzz_run.sh" fuzz_hypsock 4096 \
	'\017\017\000\125\050\264\374\211\021\000\012\016\034\255\255\255\364\255\255\000\021\016\034\046\255\255\255\255\364'
