#!/bin/bash
# Build what QEMU boots, from the unpacked stage and the project's build tree:
#   $IMG/xen        Xen as an ELF multiboot image (QEMU's -kernel)
#   $IMG/vmlinux    the Debian kernel, uncompressed (dom0 and domU kernel:
#                   spares xz decompression under TCG, ~4 s at boot, ~8 s per domU)
#   $IMG/domU.cpio  busybox, Xen modules, xenstore tools, Debian's Xen test
#                   programs, the project's binaries and libraries, init-domU
#   $IMG/dom0.cpio  the same plus xl, xenstored, xenconsoled, the scenarios,
#                   the toolstack ts-xl.sh, the domU kernel and image
# Images stay uncompressed: QEMU and libxenguest load them as they are, while
# gunzip under TCG costs seconds.
# Input: XEN_CARRY (paths, globs allowed: project executables), XEN_CARRY_LIBDIRS
# (folders holding the project's shared libraries), XEN_SCENARIO_DIRS.
set -euo pipefail
. "$(dirname "$0")/common.sh"

[ -e "$STAGE/.done" ] || setup_fail "no stage in $STAGE: run fetch.sh first"
KVER=$(cat "$STAGE/KVER")
XLIB=$STAGE/usr/lib/x86_64-linux-gnu
XBIN=$STAGE/usr/lib/xen-4.17/bin
MODS=$STAGE/lib/modules/$KVER/kernel/drivers/xen
mkdir -p "$IMG"

# 1. Hypervisor and kernel, derived once per stage.
if [ ! -s "$STAGE/xen.elf" ]; then
  zcat "$STAGE/boot/xen-4.17-amd64.gz" > "$STAGE/xen.elf.tmp" && mv "$STAGE/xen.elf.tmp" "$STAGE/xen.elf"
fi
if [ ! -s "$STAGE/vmlinux" ]; then
  bz=$STAGE/boot/vmlinuz-$KVER
  # the bzImage payload is an xz stream: find its magic, unpack it to the ELF
  off=$(perl -0777 -ne 'print index($_, "\xfd7zXZ\x00")' "$bz")
  [ "$off" -ge 0 ] || setup_fail "no xz payload in $bz"
  # (xz stops reading at the end of its stream: tail's SIGPIPE is expected)
  xz -dc --single-stream < <(tail -c +$((off + 1)) "$bz") > "$STAGE/vmlinux.tmp" \
    || setup_fail "cannot unpack the kernel payload of $bz"
  mv "$STAGE/vmlinux.tmp" "$STAGE/vmlinux"
fi
ln -sf "$STAGE/xen.elf" "$IMG/xen"
ln -sf "$STAGE/vmlinux" "$IMG/vmlinux"

is_elf() { [ "$(head -c 4 "$1" 2>/dev/null | tail -c 3)" = ELF ]; }

# Project libraries are looked up in their build folders; Xen's in the stage,
# first, so that xensim's drop-in libxen*.so never reach a real Xen guest.
PROJ_LIBPATH=
for d in ${XEN_CARRY_LIBDIRS:-}; do [ -d "$d" ] && PROJ_LIBPATH=$PROJ_LIBPATH:$d; done
LDPATH=$XLIB$PROJ_LIBPATH

copy_lib() {  # root lib
  local root=$1 lib=$2 base
  base=$(basename "$lib")
  case $base:$lib in
    libxen*:"$XLIB"/*|libxl*:"$XLIB"/*|libyajl*:"$XLIB"/*) ;;
    libxen*|libxl*) setup_fail "$base would come from $lib, not from Debian's Xen packages (xensim drop-in?)";;
  esac
  [ -e "$root/lib/x86_64-linux-gnu/$base" ] || cp -L "$lib" "$root/lib/x86_64-linux-gnu/$base"
}

copy_bin() {  # root src dst: an ELF program and the shared libraries it needs
  local root=$1 src=$2 dst=$3 libs
  mkdir -p "$root/$(dirname "$dst")"
  cp -L "$src" "$root/$dst"
  libs=$(LD_LIBRARY_PATH=$LDPATH ldd "$src") || setup_fail "ldd $src failed"
  if echo "$libs" | grep -q 'not found'; then
    setup_fail "$src: $(echo "$libs" | grep 'not found' | tr -s ' \t' ' ')"
  fi
  for lib in $(echo "$libs" | awk '/=> \// {print $3}'); do copy_lib "$root" "$lib"; done
}

base_root() {  # root: what both guests share
  local r=$1
  rm -rf "$r"
  mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,etc,root,lib/x86_64-linux-gnu,lib64,var}
  mkdir -p "$r/usr/lib/xen-4.17/bin" "$r/opt/vipc/bin" "$r/lib/modules/$KVER/kernel/drivers/xen/xenfs"
  ln -s /run "$r/var/run"
  cp "$STAGE/bin/busybox" "$r/bin/busybox"
  ln -s busybox "$r/bin/sh"
  cp -L /lib64/ld-linux-x86-64.so.2 "$r/lib64/"
  # glibc dlopen()s libgcc_s for pthread_cancel: xl aborts without it
  cp -L /lib/x86_64-linux-gnu/libgcc_s.so.1 "$r/lib/x86_64-linux-gnu/"
  for m in xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs/xenfs; do
    cp "$MODS/$m.ko" "$r/lib/modules/$KVER/kernel/drivers/xen/$m.ko"
  done
  copy_bin "$r" "$STAGE/usr/bin/xenstore" /usr/bin/xenstore
  for c in read write ls list exists rm chmod watch; do ln -s xenstore "$r/usr/bin/xenstore-$c"; done
  # Debian's unmodified Xen programs, where Debian puts them (XEN_UTILS_DIR)
  for b in vchan-socket-proxy test-xenstore; do
    copy_bin "$r" "$XBIN/$b" "/usr/lib/xen-4.17/bin/$b"
    ln -s "/usr/lib/xen-4.17/bin/$b" "$r/usr/bin/$b"
  done
  carry_project "$r"
  # the harness' own guest programs live beside the project's (TS_BIN)
  cp "$XEN_SRC"/guest/* "$r/opt/vipc/bin/"
  chmod +x "$r"/opt/vipc/bin/*
}

# The project's executables: ELF files as they are, libtool wrapper scripts
# replaced by the real program in .libs/, anything else (scripts) copied.
# Each word of XEN_CARRY must name at least one executable file: a glob may
# also match other files (a test's .log), which are left out.
carry_project() {  # root
  local r=$1 w p n=0 found
  local -a words
  read -r -d '' -a words <<< "${XEN_CARRY:-}" || true
  for w in "${words[@]}"; do
    found=
    for p in $w; do
      [ -f "$p" ] && [ -x "$p" ] || continue
      found=1
      carry_one "$r" "$p"
      n=$((n + 1))
    done
    [ -n "$found" ] || setup_fail "XEN_CARRY: $w names no executable file (build output missing: run make first)"
  done
  for d in ${XEN_CARRY_LIBDIRS:-}; do
    for l in "$d"/*.so*; do [ -f "$l" ] && is_elf "$l" && copy_lib "$r" "$l"; done
  done
  [ "$r" = "$D" ] && say "carrying $n project programs" || true
}

carry_one() {  # root program
  local r=$1 p=$2 real
  real=$p
  if ! is_elf "$p" && grep -q 'libtool wrapper' "$p" 2>/dev/null; then
    real=$(dirname "$p")/.libs/$(basename "$p")
    [ -e "$real" ] || real=$(dirname "$p")/.libs/lt-$(basename "$p")
    [ -e "$real" ] || setup_fail "$p is a libtool wrapper and its .libs program is missing"
  fi
  if is_elf "$real"; then copy_bin "$r" "$real" "/opt/vipc/bin/$(basename "$p")"
  else cp "$real" "$r/opt/vipc/bin/$(basename "$p")"; fi
}

mkcpio() {  # root out
  (cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) > "$2.tmp" && mv "$2.tmp" "$2"
}

# 2. domU image.
U=$XEN_WORK/root-domU
D=$XEN_WORK/root-dom0
base_root "$U"
cp "$XEN_SRC/init-domU" "$U/init"; chmod +x "$U/init"
mkcpio "$U" "$IMG/domU.cpio"

# 3. dom0 image: the toolstack, the scenarios, and the domU kernel and image.
base_root "$D"
for b in xl xenstored xenconsoled xen-init-dom0 lsevtchn; do copy_bin "$D" "$XBIN/$b" "/usr/sbin/$b"; done
mkdir -p "$D/etc/xen" "$D/boot" "$D/opt/vipc/xen" "$D/opt/vipc/scenarios"
cp "$STAGE/etc/xen/xl.conf" "$D/etc/xen/"
cp "$STAGE/vmlinux" "$D/boot/vmlinux"
cp "$IMG/domU.cpio" "$D/boot/domU.cpio"
cp "$XEN_SRC/ts-xl.sh" "$XEN_SRC/run-scenarios" "$D/opt/vipc/xen/"
chmod +x "$D/opt/vipc/xen/run-scenarios"
# each scenario folder keeps its name: tests/conformance/scenarios -> conformance
for s in ${XEN_SCENARIO_DIRS:-$XEN_SRC/scenarios}; do
  [ -d "$s" ] || continue
  name=$(basename "$(dirname "$s")")
  cp -r "$s" "$D/opt/vipc/scenarios/$name"
done
cp "$XEN_SRC/init-dom0" "$D/init"; chmod +x "$D/init"
mkcpio "$D" "$IMG/dom0.cpio"
say "images: $(cd "$IMG" && du -hL dom0.cpio domU.cpio | tr '\t\n' '  ')"
