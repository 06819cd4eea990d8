#!/bin/sh
# The xenstore wire-protocol target (fuzz_xs_wire.c), run by fuzz_run.sh;
# room for a few requests of the full 4096-byte payload.
exec sh "$(dirname "$0")/fuzz_run.sh" fuzz_xs_wire 16384
