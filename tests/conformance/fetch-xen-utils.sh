#!/bin/sh
# Get Debian's unmodified Xen programs used by the conformance tier
# (vchan-socket-proxy, test-xenstore) from the xen-utils-4.17 package, with
# apt-get download + dpkg -x into DEST: nothing is installed on the host.
# Prints the folder holding the programs. Reruns reuse what is there.
#   usage: fetch-xen-utils.sh DEST
set -e
dest=${1:?usage: fetch-xen-utils.sh DEST}
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
bin=$dest/root/usr/lib/xen-4.17/bin
say() { echo "fetch-xen-utils: $*" >&2; }

if [ ! -x "$bin/vchan-socket-proxy" ] || [ ! -x "$bin/test-xenstore" ]; then
    if ! command -v apt-get >/dev/null || ! command -v dpkg >/dev/null; then
        say "needs apt-get and dpkg (a Debian host), or set XEN_UTILS_DIR"
        exit 1
    fi
    mkdir -p "$dest/debs"
    if ! (cd "$dest/debs" && apt-get download xen-utils-4.17 >&2); then
        say "apt-get download xen-utils-4.17 failed: are the apt lists there (apt-get update, as root)?"
        exit 1
    fi
    deb=$(ls "$dest"/debs/xen-utils-4.17_*.deb | sort | tail -n 1)
    say "unpacking $deb"
    rm -rf "$dest/root"
    dpkg -x "$deb" "$dest/root"
fi
for p in vchan-socket-proxy test-xenstore; do
    [ -x "$bin/$p" ] || { say "$p is not in the package (looked in $bin)"; exit 1; }
    # Their libraries come from the host (libxen-dev pulls them in); xensim
    # swaps in its own libxenctrl/evtchn/gnttab in a domain.
    missing=$(ldd "$bin/$p" 2>/dev/null | awk '/not found/ { print $1 }')
    [ -z "$missing" ] || { say "$p needs libraries this host lacks: $missing (install libxen-dev)"; exit 1; }
done
echo "$bin"
