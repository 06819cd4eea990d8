#!/bin/bash
# Fetch what a real-Xen run needs, with apt only:
#  - host tools (QEMU, cpio) are installed on the host if missing;
#  - Xen 4.17 (hypervisor, tools, libraries), the current Debian 6.1 kernel and
#    a static busybox are downloaded and unpacked with dpkg -x into the cache,
#    never installed. Reruns reuse the cache; a new package version refetches.
# Output: $STAGE (unpacked tree), $STAGE/KVER (kernel version).
set -euo pipefail
. "$(dirname "$0")/common.sh"

apt_updated=0
apt_update_once() {  # lists may be missing on a fresh machine
  [ $apt_updated = 1 ] && return 0
  [ "$(id -u)" = 0 ] || setup_fail "apt lists needed but not root: run 'apt-get update' as root"
  say "apt-get update"
  apt-get update -qq || setup_fail "apt-get update failed"
  apt_updated=1
}

# 1. Host tools.
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v cpio >/dev/null || need+=(cpio)
command -v xz >/dev/null || need+=(xz-utils)
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || setup_fail "missing host tools: ${need[*]} (apt-get install ${need[*]})"
  apt_update_once
  say "installing host tools: ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" \
    || setup_fail "apt-get install ${need[*]} failed"
fi

# 2. Which kernel: the one Debian's linux-image-amd64 currently depends on
#    (security updates replace 6.1.0-N, so never hard-code N).
kernel_pkg() { apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-6\.1\.0-[0-9]+-amd64/ {print $2; exit}'; }
KPKG=$(kernel_pkg)
[ -n "$KPKG" ] || { apt_update_once; KPKG=$(kernel_pkg); }
[ -n "$KPKG" ] || setup_fail "apt does not know linux-image-amd64 -> linux-image-6.1.0-*-amd64"
KVER=${KPKG#linux-image-}

PKGS="xen-hypervisor-4.17-amd64 xen-utils-4.17 xen-utils-common xenstore-utils
  libxenmisc4.17 libxencall1 libxendevicemodel1 libxenevtchn1 libxenforeignmemory1
  libxengnttab1 libxenstore4 libxentoolcore1 libxentoollog1 libxenhypfs1 libyajl2
  busybox-static $KPKG"

# 3. Download what the cache lacks (file names carry the versions).
DEBS=$XEN_QEMU_CACHE/debs
mkdir -p "$DEBS"
# shellcheck disable=SC2086
# (apt prints only what the current folder lacks: ask from an empty one)
EMPTY=$(mktemp -d); trap 'rmdir "$EMPTY"' EXIT
uris() { (cd "$EMPTY" && apt-get download --print-uris $PKGS 2>&1); }
uris=$(uris) || { apt_update_once; uris=$(uris) || setup_fail "apt cannot resolve the packages: $uris"; }
files=$(echo "$uris" | awk '{print $2}' | sort)
missing=()
for f in $files; do [ -s "$DEBS/$f" ] || missing+=("$f"); done
if [ ${#missing[@]} -gt 0 ]; then
  say "downloading ${#missing[@]} packages into $DEBS"
  # shellcheck disable=SC2086
  get() { (cd "$DEBS" && apt-get download -q $PKGS 2>&1 >/dev/null | grep -v 'unsandboxed'; exit "${PIPESTATUS[0]}"); }
  get || { apt_update_once; get; } || setup_fail "apt-get download failed"   # stale lists: update once
  for f in $files; do [ -s "$DEBS/$f" ] || setup_fail "apt-get download did not produce $f"; done
  # versions replaced since the last fetch
  for f in "$DEBS"/*.deb; do echo "$files" | grep -qxF "$(basename "$f")" || rm -f "$f"; done
fi

# 4. Unpack (again only when the package set changed).
want=$(echo "$files"; echo "kver=$KVER")
if [ ! -e "$STAGE/.done" ] || [ "$(cat "$STAGE/.done")" != "$want" ]; then
  say "unpacking into $STAGE"
  rm -rf "$STAGE"; mkdir -p "$STAGE"
  for f in $files; do dpkg -x "$DEBS/$f" "$STAGE" || setup_fail "dpkg -x $f failed"; done
  echo "$KVER" > "$STAGE/KVER"
  echo "$want" > "$STAGE/.done"
fi
say "stage ready: Xen $(ls "$DEBS" | sed -n 's/^xen-hypervisor-4.17-amd64_\([^_]*\)_.*/\1/p'), kernel $KVER"
