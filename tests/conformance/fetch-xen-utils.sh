#!/bin/sh
# Get Debian's unmodified Xen programs used by the conformance tier
# (vchan-socket-proxy, test-xenstore) from the xen-utils-4.17 package, and
# the xenstore-* tools from xenstore-utils, with apt-get download + dpkg -x
# into DEST/root: nothing is installed on the host.  Prints the folder
# holding the xen-utils programs (the tools land in DEST/root/usr/bin).
# Reruns reuse what is there.
#   usage: fetch-xen-utils.sh DEST
set -e
dest=${1:?usage: fetch-xen-utils.sh DEST}
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
bin=$dest/root/usr/lib/xen-4.17/bin
say() { echo "fetch-xen-utils: $*" >&2; }

cli=$dest/root/usr/bin
if [ ! -x "$bin/vchan-socket-proxy" ] || [ ! -x "$bin/test-xenstore" ] ||
   [ ! -x "$cli/xenstore-read" ]; then
    if ! command -v apt-get >/dev/null || ! command -v dpkg >/dev/null; then
        say "needs apt-get and dpkg (a Debian host), or set XEN_UTILS_DIR"
        exit 1
    fi
    rm -rf "$dest/debs" "$dest/root"
    mkdir -p "$dest/debs"
    for pkg in xen-utils-4.17 xenstore-utils; do
        if ! (cd "$dest/debs" && apt-get download "$pkg" >&2); then
            say "apt-get download $pkg failed: are the apt lists there (apt-get update, as root)?"
            exit 1
        fi
        deb=$(ls "$dest/debs/${pkg}"_*.deb | sort | tail -n 1)
        say "unpacking $deb"
        dpkg -x "$deb" "$dest/root"
    done
fi
for p in "$bin/vchan-socket-proxy" "$bin/test-xenstore" "$cli/xenstore-read"; do
    [ -x "$p" ] || { say "$p is not in the packages"; exit 1; }
    # Their libraries come from the host (libxen-dev pulls them in); xensim
    # swaps in its own libxenctrl/evtchn/gnttab in a domain.
    missing=$(ldd "$p" 2>/dev/null | awk '/not found/ { print $1 }')
    [ -z "$missing" ] || { say "$p needs libraries this host lacks: $missing (install libxen-dev)"; exit 1; }
done
echo "$bin"
