#!/bin/sh
# The liveness-node target (fuzz_live_nodes.c), run by fuzz_run.sh.
exec sh "$(dirname "$0")/fuzz_run.sh" fuzz_live_nodes 1024
