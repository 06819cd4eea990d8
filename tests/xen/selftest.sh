#!/bin/bash
# The real-Xen tier's host scripts, each run with fake programs (qemu, apt,
# dpkg) on PATH: no QEMU, no network, a few seconds. Exit 0 if every check
# held, 1 otherwise.   usage: bash tests/xen/selftest.sh
set -uo pipefail
SRC=$(cd "$(dirname "$0")" && pwd)
W=$(mktemp -d "${TMPDIR:-/tmp}/xen-selftest.XXXXXX")
trap 'rm -rf "$W"' EXIT
failed=0
check() {  # name condition...: report one check
  local name=$1; shift
  if "$@"; then echo "PASS $name"; else echo "FAIL $name"; failed=1; fi
}
has() { grep -q -e "$2" "$1" 2>/dev/null; }
same() { diff -r "$1" "$2" > /dev/null 2>&1; }
# a script of tests/xen/ in a clean environment (no CONF_* or XEN_* of ours);
# a hang ends after 30 s as status 124
run() {  # dir script args...: status in $rc, stderr in dir/err
  local d=$1 s=$2; shift 2
  env -i PATH="$d/bin:/usr/bin:/bin" HOME="$d" TMPDIR="$d" FAKE="$d/fake" \
    XEN_WORK="$d/work" XEN_QEMU_CACHE="$d/cache" "${ENVS[@]}" \
    timeout 30 bash "$SRC/$s" "$@" > "$d/out" 2> "$d/err"
  rc=$?
}
fake() {  # dir name: the program's text on stdin
  mkdir -p "$1/bin"; cat > "$1/bin/$2"; chmod +x "$1/bin/$2"
}
newdir() { rm -rf "${W:?}/$1"; mkdir -p "$W/$1/fake"; echo "$W/$1"; }

# --- run.sh: QEMU that ends before opening its pipes ----------------------
t_run() {
  local d; d=$(newdir run)
  mkdir -p "$d/work/img"
  for f in xen vmlinux dom0.cpio; do echo x > "$d/work/img/$f"; done
  ENVS=()
  fake "$d" qemu-system-x86_64 <<'EOF'
#!/bin/sh
echo "qemu-system-x86_64: fake: cannot load kernel" >&2; exit 1
EOF
  SECONDS=0
  run "$d" run.sh "$d/log"
  check "run.sh: QEMU failing at once -> exit 3 (got $rc)" [ "$rc" = 3 ]
  check "run.sh: ... within a few seconds (took $SECONDS s)" [ "$SECONDS" -le 10 ]
  check "run.sh: ... says QEMU did not start, with its error" \
    has "$d/err" 'QEMU did not start: qemu-system-x86_64: fake: cannot load kernel'
  # started, wrote the serial line, never opened the monitor
  fake "$d" qemu-system-x86_64 <<'EOF'
#!/bin/sh
while [ $# -gt 0 ]; do [ "$1" = -serial ] && ser=${2#pipe:}; shift; done
printf 'Xen is up\r\n' > "$ser.out"
EOF
  run "$d" run.sh "$d/log"
  check "run.sh: QEMU that never opens the monitor -> exit 0 (got $rc)" [ "$rc" = 0 ]
  check "run.sh: ... serial log kept" has "$d/log" '^\[ *[0-9]*\.[0-9][0-9]\] Xen is up$'
  check "run.sh: ... host line appended" has "$d/log" '^@@HOST qemu exit=0'
}

# --- check-xen.sh: the XEN_SCENARIOS selection ---------------------------
t_plan() {
  local d; d=$(newdir plan)
  mkdir -p "$d/src" "$d/conformance/scenarios" "$d/xen/scenarios"
  for s in grant evtchn vchan-proxy lib; do echo : > "$d/conformance/scenarios/$s.sh"; done
  echo : > "$d/xen/scenarios/vchan-proxy.sh"
  # the steps after the plan, reduced to recording what they were given
  printf '#!/bin/sh\ntouch "%s/fetched"\n' "$d" > "$d/src/fetch.sh"
  printf '#!/bin/sh\n' > "$d/src/mkimg.sh"
  # shellcheck disable=SC2016
  printf '#!/bin/sh\necho "$2" > "%s/cmdline"\n' "$d" > "$d/src/run.sh"
  printf '#!/bin/sh\n' > "$d/src/summary.sh"
  chmod +x "$d"/src/*.sh
  local dirs="$d/conformance/scenarios $d/xen/scenarios"
  ENVS=(XEN_SRC="$d/src" XEN_SCENARIO_DIRS="$dirs" XEN_SCENARIOS="grant evtchm")
  run "$d" check-xen.sh
  check "check-xen.sh: 'grant evtchm' -> exit 3 (got $rc)" [ "$rc" = 3 ]
  check "check-xen.sh: ... names evtchm alone" has "$d/err" 'XEN_SCENARIOS: evtchm: no such step'
  check "check-xen.sh: ... before any download" [ ! -e "$d/fetched" ]
  ENVS=(XEN_SRC="$d/src" XEN_SCENARIO_DIRS="$dirs" XEN_SCENARIOS="evtchn xen/vchan-proxy")
  run "$d" check-xen.sh
  check "check-xen.sh: 'evtchn xen/vchan-proxy' -> exit 0 (got $rc)" [ "$rc" = 0 ]
  check "check-xen.sh: ... runs those two" has "$d/cmdline" 'vipc\.only=conformance/evtchn+xen/vchan-proxy '
  ENVS=(XEN_SRC="$d/src" XEN_SCENARIO_DIRS="$dirs" XEN_SCENARIOS="vchan-proxy")
  run "$d" check-xen.sh
  check "check-xen.sh: a bare name picks it in every folder" \
    has "$d/cmdline" 'vipc\.only=conformance/vchan-proxy+xen/vchan-proxy '
}

# --- fetch.sh: apt's answers, stale lists, the cache ----------------------
# The fake apt: lists in $FAKE (kernel: the 6.1.0-N they know; kernel.new:
# what apt-get update brings; gone-PKG: a package the mirror lost; warn:
# apt warns on stderr). Package P is the file P_1.0_amd64.deb.
fake_apt() {  # dir
  local d=$1
  for p in qemu-system-x86_64 cpio xz; do printf '#!/bin/sh\n' | fake "$d" $p; done
  printf '#!/bin/sh\necho 0\n' | fake "$d" id
  fake "$d" apt-cache <<'EOF'
#!/bin/sh
[ -e "$FAKE/kernel" ] || exit 0
echo linux-image-amd64; echo "  Depends: linux-image-$(cat "$FAKE/kernel")-amd64"
EOF
  fake "$d" apt-get <<'EOF'
#!/bin/bash
known() { case $1 in linux-image-6.1.0-*) [ "$1" = "linux-image-$(cat "$FAKE/kernel")-amd64" ];; *) [ -e "$FAKE/kernel" ];; esac; }
body() { printf 'package %s\n%0500d\n' "$1" 0; }
locate() { for p; do known "$p" || { echo "E: Unable to locate package $p" >&2; exit 100; }; done; }
case $1 in
update) echo up >> "$FAKE/updates"; [ -e "$FAKE/kernel.new" ] && mv "$FAKE/kernel.new" "$FAKE/kernel"; exit 0;;
download) shift;;
*) exit 100;;
esac
if [ "$1" = --print-uris ]; then
  shift
  [ -e "$FAKE/warn" ] && echo "W: Target Packages (main/binary-amd64/Packages) is configured multiple times in /etc/apt/sources.list:1 and /etc/apt/sources.list.d/x.list:1" >&2
  locate "$@"
  for p; do f=${p}_1.0_amd64.deb
    echo "'http://fake/$f' $f $(body "$p" | wc -c) SHA256:$(body "$p" | sha256sum | cut -d' ' -f1)"
  done
  exit 0
fi
shift   # -q
locate "$@"
for p; do [ -e "$FAKE/gone-$p" ] && { echo "E: Failed to fetch http://fake/${p}_1.0_amd64.deb  404  Not Found" >&2; exit 100; }; done
for p; do f=${p}_1.0_amd64.deb
  # as apt: a file of the right size is kept
  [ -e "$f" ] && [ "$(stat -c %s "$f")" = "$(body "$p" | wc -c)" ] && continue
  body "$p" > "$f"; echo "$p" >> "$FAKE/downloads"
done
EOF
  fake "$d" dpkg <<'EOF'
#!/bin/sh
[ "$1" = -x ] && mkdir -p "$3" && cat "$2" >> "$3/unpacked"
EOF
}

t_fetch() {
  local d deb; d=$(newdir fetch)
  fake_apt "$d"
  ENVS=()
  deb=$d/cache/debs
  # apt warns on stderr: no file name comes from a warning
  echo 6.1.0-10 > "$d/fake/kernel"; touch "$d/fake/warn"
  run "$d" fetch.sh
  check "fetch.sh: apt warnings -> exit 0 (got $rc)" [ "$rc" = 0 ]
  check "fetch.sh: ... 17 packages, no file named after a warning" \
    [ "$(grep -c '_1.0_amd64.deb$' "$d/cache/root/.done" 2>/dev/null)" = 17 \
      -a "$(wc -l 2>/dev/null < "$d/cache/root/.done")" = 18 ]
  cp -r "$deb" "$d/good"
  # an interrupted download (short file), and a file of the right size but
  # other bytes: both fetched again
  head -c 100 "$d/good/xen-utils-4.17_1.0_amd64.deb" > "$deb/xen-utils-4.17_1.0_amd64.deb"
  sed 's/^package/PACKAGE/' "$d/good/libyajl2_1.0_amd64.deb" > "$deb/libyajl2_1.0_amd64.deb"
  rm -f "$d/fake/downloads"
  run "$d" fetch.sh
  check "fetch.sh: damaged cache -> exit 0 (got $rc)" [ "$rc" = 0 ]
  check "fetch.sh: ... says the short file is damaged" has "$d/err" 'cached xen-utils-4.17_1.0_amd64.deb is damaged (100 bytes'
  check "fetch.sh: ... says the altered file is damaged" has "$d/err" 'cached libyajl2_1.0_amd64.deb is damaged (SHA256'
  check "fetch.sh: ... and fetches both again" same "$d/good" "$deb"
  rm -f "$d/fake/downloads"
  run "$d" fetch.sh
  check "fetch.sh: a good cache is used as it is" [ "$rc" = 0 -a ! -e "$d/fake/downloads" ]
  # stale lists: the mirror lost the kernel they name; apt-get update brings a
  # newer one, and the retry must ask for that one
  rm -rf "$d/cache" "$d/fake"/*
  echo 6.1.0-10 > "$d/fake/kernel"; echo 6.1.0-11 > "$d/fake/kernel.new"
  touch "$d/fake/gone-linux-image-6.1.0-10-amd64"
  run "$d" fetch.sh
  check "fetch.sh: stale lists -> exit 0 after one update (got $rc)" [ "$rc" = 0 -a "$(cat "$d/fake/updates" 2>/dev/null)" = up ]
  check "fetch.sh: ... with the kernel apt names after the update" \
    [ "$(cat "$d/cache/root/KVER" 2>/dev/null)" = 6.1.0-11-amd64 -a -s "$deb/linux-image-6.1.0-11-amd64_1.0_amd64.deb" ]
}

# --- mkimg.sh: XEN_CARRY entries that name nothing ------------------------
t_carry() {
  local d s k=6.1.0-11-amd64 b; d=$(newdir carry)
  s=$d/cache/root
  mkdir -p "$s/bin" "$s/usr/bin" "$s/usr/lib/xen-4.17/bin" "$s/etc/xen" "$s/lib/modules/$k/kernel/drivers/xen/xenfs"
  echo "$k" > "$s/KVER"; touch "$s/.done" "$s/etc/xen/xl.conf"
  echo x > "$s/xen.elf"; echo x > "$s/vmlinux"; echo x > "$s/bin/busybox"
  for m in xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs/xenfs; do touch "$s/lib/modules/$k/kernel/drivers/xen/$m.ko"; done
  cp /bin/true "$s/usr/bin/xenstore"
  for p in vchan-socket-proxy test-xenstore xl xenstored xenconsoled xen-init-dom0 lsevtchn; do
    cp /bin/true "$s/usr/lib/xen-4.17/bin/$p"
  done
  mkdir -p "$d/scn/scenarios" "$d/build/conformance" "$d/build/tools"
  b=$d/build
  cp /bin/true "$b/conformance/conf-a"; echo log > "$b/conformance/conf-a.log"
  local carry="$b/conformance/conf-* $b/tools/vipc-bench"
  ENVS=(XEN_CARRY="$carry" XEN_SCENARIO_DIRS="$d/scn/scenarios")
  run "$d" mkimg.sh
  check "mkimg.sh: XEN_CARRY entry missing -> exit 3 (got $rc)" [ "$rc" = 3 ]
  check "mkimg.sh: ... naming it" has "$d/err" "XEN_CARRY: $b/tools/vipc-bench names no executable file"
  printf '#!/bin/sh\n' > "$b/tools/vipc-bench"; chmod +x "$b/tools/vipc-bench"
  rm "$b/conformance/conf-a"
  run "$d" mkimg.sh
  check "mkimg.sh: a glob that matches no program -> exit 3 (got $rc)" [ "$rc" = 3 ]
  check "mkimg.sh: ... naming it" has "$d/err" "XEN_CARRY: $b/conformance/conf-\* names no executable file"
  cp /bin/true "$b/conformance/conf-a"
  run "$d" mkimg.sh
  check "mkimg.sh: everything there -> exit 0 (got $rc)" [ "$rc" = 0 ]
  check "mkimg.sh: ... programs carried, the .log left out" \
    [ -x "$d/work/root-dom0/opt/vipc/bin/conf-a" -a -x "$d/work/root-dom0/opt/vipc/bin/vipc-bench" \
      -a ! -e "$d/work/root-dom0/opt/vipc/bin/conf-a.log" ]
}

t_run
t_plan
t_fetch
t_carry
exit $failed
