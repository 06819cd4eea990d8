# Sourced by the host-side scripts of tests/xen/: shared paths and the
# setup-error exit (3), so every script fails the same clear way.
XEN_SRC=${XEN_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
# Work folder for this build (images, logs); the download cache may be shared.
XEN_WORK=${XEN_WORK:-$PWD/xen-work}
XEN_QEMU_CACHE=${XEN_QEMU_CACHE:-$XEN_WORK/stage}
STAGE=$XEN_QEMU_CACHE/root          # every package unpacked with dpkg -x
IMG=$XEN_WORK/img                   # xen, vmlinux, dom0.cpio, domU.cpio
LOGS=$XEN_WORK/logs

say() { echo "check-xen: $*" >&2; }
setup_fail() { say "SETUP PROBLEM: $*"; exit 3; }
