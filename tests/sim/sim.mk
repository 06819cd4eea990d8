# Integration on xensim: real processes in simulated domains.
TESTS += sim/xensim-cli.sh
EXTRA_DIST += sim/lib.sh sim/xensim-cli.sh
TESTS += sim/vchan/vchan-sim.sh
EXTRA_DIST += sim/vchan/vchan-sim.sh
