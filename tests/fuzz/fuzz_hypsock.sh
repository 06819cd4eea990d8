#!/bin/sh
# The hypervisor-socket target (fuzz_hypsock.c: hostile processes on
# xensim's hyp.sock), run by fuzz_run.sh.
exec sh "$(dirname "$0")/fuzz_run.sh" fuzz_hypsock 4096
