#!/bin/sh
# Set up vipc on a Debian 12 machine and run one job:
#   ./setup.sh demo    install packages, configure, build, run the demo on xensim
#   ./setup.sh check   same set-up, then every test tier this machine runs (make check)
#   ./setup.sh build   set-up and build only
# Run as root (it installs Debian packages with apt-get). BUILD_DIR (default
# _build) is where it configures out of tree; CONFIGURE_FLAGS are passed on
# (a BUILD_DIR configured with other flags is configured again).
set -eu
job=${1:-build}
case "$job" in demo|check|build) ;; *) echo "usage: $0 demo|check|build" >&2; exit 2;; esac
src=$(cd "$(dirname "$0")" && pwd)
build=${BUILD_DIR:-$src/_build}

# Debian 12 packages: Xen 4.17 headers and libraries, cmocka, the autotools,
# clang for the libFuzzer targets, and what the tests drive (groff-base:
# the manuals' check; procps: pgrep, which the xensim tests look for
# processes with; python3: raw control-socket requests and JSON checks;
# cpio: the real-Xen tier's images, which its self-test builds too).
pkgs="build-essential autoconf automake libtool pkg-config libxen-dev libcmocka-dev
      clang libclang-rt-14-dev ca-certificates groff-base procps python3 cpio"
missing=$(for p in $pkgs; do dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || echo "$p"; done)
if [ -n "$missing" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "setup.sh: missing Debian packages: $missing; run as root to install them" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing
fi

cd "$src"
[ -x configure ] && [ configure -nt configure.ac ] || autoreconf -fi
mkdir -p "$build"
cd "$build"
# Flags as words: no quotes (config.status adds them), single blanks.
flags_norm() { printf '%s\n' "$1" | tr -d "'" | tr -s ' \t\n' ' ' | sed 's/^ //; s/ $//'; }
# A folder configured before keeps its configuration, unless CONFIGURE_FLAGS
# asks for another (a reused _build would otherwise lose e.g. -Werror).
# shellcheck disable=SC2086
if [ ! -f Makefile ]; then
    "$src/configure" ${CONFIGURE_FLAGS:-}
elif [ -n "${CONFIGURE_FLAGS+set}" ]; then
    was=$(flags_norm "$(./config.status --config 2>/dev/null || echo '(unknown)')")
    want=$(flags_norm "$CONFIGURE_FLAGS")
    if [ "$was" != "$want" ]; then
        echo "setup.sh: $build was configured with '$was', CONFIGURE_FLAGS says '$want': configuring again" >&2
        "$src/configure" $CONFIGURE_FLAGS
    fi
fi
make -j"$(nproc)"
case "$job" in
demo)  make demo ;;
# A skipped test fails the job too (VIPC_ALLOW_SKIP=1 accepts them): make
# check counts a skip as a success.
check) make -j"$(nproc)" check && sh "$src/tests/no-skips.sh" tests ;;
esac
