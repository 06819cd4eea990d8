#!/bin/sh
# The hostile-peer target (fuzz_vchan_peer.c), run by fuzz_run.sh.
exec sh "$(dirname "$0")/fuzz_run.sh" fuzz_vchan_peer 4096
