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

# 2. What to fetch, from apt's lists: the kernel that Debian's
#    linux-image-amd64 currently depends on (security updates replace 6.1.0-N,
#    so never hard-code N), and each file's name, size and hash as
#    `apt-get download --print-uris` gives them. resolve() sets KPKG, KVER,
#    PKGS and FILES (lines "name size hash"), or says in $why why it cannot.
DEBS=$XEN_QEMU_CACHE/debs
mkdir -p "$DEBS"
TMPD=$(mktemp -d); trap 'rm -rf "$TMPD"' EXIT
mkdir "$TMPD/empty"
kernel_pkg() { apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-6\.1\.0-[0-9]+-amd64/ {print $2; exit}'; }
resolve() {
  local out
  KPKG=$(kernel_pkg)
  [ -n "$KPKG" ] || { why="apt does not know linux-image-amd64 -> linux-image-6.1.0-*-amd64"; return 1; }
  KVER=${KPKG#linux-image-}
  PKGS="xen-hypervisor-4.17-amd64 xen-utils-4.17 xen-utils-common xenstore-utils
    libxenmisc4.17 libxencall1 libxendevicemodel1 libxenevtchn1 libxenforeignmemory1
    libxengnttab1 libxenstore4 libxentoolcore1 libxentoollog1 libxenhypfs1 libyajl2
    busybox-static $KPKG"
  # apt prints only what the current folder lacks: ask from an empty one.
  # URI lines start with a quote; anything else (warnings) is not a file.
  # shellcheck disable=SC2086
  out=$(cd "$TMPD/empty" && apt-get download --print-uris $PKGS 2>"$TMPD/err") \
    || { why="apt cannot resolve the packages: $(cat "$TMPD/err")"; return 1; }
  FILES=$(echo "$out" | awk -v q="'" 'substr($0, 1, 1) == q {print $2, $3, $4}' | sort)
  [ -n "$FILES" ] || { why="apt-get download --print-uris named no file: $out $(cat "$TMPD/err")"; return 1; }
}
resolve || { apt_update_once; resolve; } || setup_fail "$why"
files() { echo "$FILES" | cut -d' ' -f1; }

# A cached file is good if it has apt's size and hash (an interrupted
# download leaves a short one); sets $bad to what is wrong.
good_deb() {  # name size hash
  local f=$DEBS/$1 sum
  bad=
  [ -e "$f" ] || { bad=missing; return 1; }
  [ "$(stat -c %s "$f")" = "$2" ] || { bad="$(stat -c %s "$f") bytes, apt says $2"; return 1; }
  case $3 in
    SHA256:*) sum=$(sha256sum < "$f");;
    SHA512:*) sum=$(sha512sum < "$f");;
    *) return 0;;   # no hash apt gave that we can check: the size must do
  esac
  [ "${sum%% *}" = "${3#*:}" ] || { bad="${3%%:*} differs from apt's"; return 1; }
}

# 3. Download what the cache lacks (file names carry the versions); a damaged
#    file is deleted, or apt would keep it for having the right size.
find_missing() {
  local f size hash
  missing=()
  while read -r f size hash; do
    good_deb "$f" "$size" "$hash" && continue
    if [ "$bad" != missing ]; then   # (and the stage may hold what was in it)
      say "cached $f is damaged ($bad): fetching it again"; rm -f "$DEBS/$f" "$STAGE/.done"
    fi
    missing+=("$f")
  done <<< "$FILES"
}
# shellcheck disable=SC2086
get() { (cd "$DEBS" && apt-get download -q $PKGS 2>&1 >/dev/null | grep -v 'unsandboxed'; exit "${PIPESTATUS[0]}"); }
find_missing
if [ ${#missing[@]} -gt 0 ]; then
  say "downloading ${#missing[@]} packages into $DEBS"
  if ! get; then   # stale lists: update once, and ask apt again what to fetch
    [ $apt_updated = 0 ] || setup_fail "apt-get download failed"
    apt_update_once
    resolve || setup_fail "$why"
    find_missing
    get || setup_fail "apt-get download failed"
  fi
  while read -r f size hash; do
    good_deb "$f" "$size" "$hash" || setup_fail "apt-get download did not produce $f as apt described it ($bad)"
  done <<< "$FILES"
  # versions replaced since the last fetch
  for f in "$DEBS"/*.deb; do files | grep -qxF "$(basename "$f")" || rm -f "$f"; done
fi

# 4. Unpack (again only when the package set changed).
want=$(files; echo "kver=$KVER")
if [ ! -e "$STAGE/.done" ] || [ "$(cat "$STAGE/.done")" != "$want" ]; then
  say "unpacking into $STAGE"
  rm -rf "$STAGE"; mkdir -p "$STAGE"
  for f in $(files); do dpkg -x "$DEBS/$f" "$STAGE" || setup_fail "dpkg -x $f failed"; done
  echo "$KVER" > "$STAGE/KVER"
  echo "$want" > "$STAGE/.done"
fi
say "stage ready: Xen $(ls "$DEBS" | sed -n 's/^xen-hypervisor-4.17-amd64_\([^_]*\)_.*/\1/p'), kernel $KVER"
