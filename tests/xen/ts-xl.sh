# ts-xl.sh: the scenario toolstack on real Xen (dom0, busybox ash).
# Same functions as tests/conformance/ts-xensim.sh, so that one scenario runs
# on both: ts_create ts_domid ts_destroy ts_wait_marker ts_console ts_run0.
# A domain is a PV guest started with `xl create`; its init (init-domU) runs
# the requested command; its console is read from xenconsoled's log.
# Sourcing twice is harmless. Sets TS_BIN (the project's programs) and
# TS_XEN_BIN (Debian's vchan-socket-proxy, test-xenstore) as every domain sees them.
if [ -z "${TS_XL_LOADED:-}" ]; then
TS_XL_LOADED=1
: "${TS_BIN:=/opt/vipc/bin}"
: "${TS_XEN_BIN:=/usr/lib/xen-4.17/bin}"
: "${TS_WORK:=/tmp/ts}"
: "${TS_DOMU_MEMORY:=128}"
: "${TS_DOMU_CMDLINE:=quiet loglevel=3}"   # kernel options of every domU
TS_CONSOLE_DIR=/var/log/xen/console

# print each argument single-quoted, for the domU's `eval "set -- ..."`
_ts_quote() {
  local a
  for a in "$@"; do printf "'%s' " "$(printf '%s' "$a" | sed "s/'/'\\\\''/g")"; done
}

# ts_create NAME PROG [ARGS...]: returns once /local/domain/<id> exists
ts_create() {
  local name=$1 cmd log off cfg id
  shift
  [ -n "$name" ] && [ $# -ge 1 ] || { echo "ts_create: usage: ts_create NAME PROG [ARGS...]" >&2; return 2; }
  case $1 in
    /*) ;;
    */*) echo "ts_create: $1: PROG is a name in \$TS_BIN or an absolute path" >&2; return 2;;
    *) [ -x "$TS_BIN/$1" ] || { echo "ts_create: $1 not found in $TS_BIN" >&2; return 2; };;
  esac
  cmd=$(_ts_quote "$@" | base64 | tr -d '\n')
  # Xen keeps at most 1024 bytes of a PV guest's command line
  [ ${#cmd} -le 900 ] || { echo "ts_create: $name: command too long for the kernel command line" >&2; return 2; }
  mkdir -p "$TS_WORK/doms"
  # xenconsoled appends to guest-NAME.log: this domain's output starts here
  log=$TS_CONSOLE_DIR/guest-$name.log
  off=$(stat -c %s "$log" 2>/dev/null || echo 0)
  echo "$off" > "$TS_WORK/doms/$name"
  cfg=$TS_WORK/$name.cfg
  cat > "$cfg" <<CFG
name = "$name"
type = "pv"
kernel = "/boot/vmlinux"
ramdisk = "/boot/domU.cpio"
extra = "console=hvc0 $TS_DOMU_CMDLINE vipc.name=$name vipc.cmd=$cmd"
memory = $TS_DOMU_MEMORY
vcpus = 1
on_poweroff = "destroy"
on_crash = "preserve"
CFG
  xl create -q "$cfg" || { echo "ts_create: xl create $name failed" >&2; return 1; }
  id=$(xl domid "$name") || { echo "ts_create: $name has no domid after xl create" >&2; return 1; }
  xenstore-exists "/local/domain/$id" || { echo "ts_create: /local/domain/$id missing" >&2; return 1; }
  echo "ts_create: $name is domain $id" >&2
}

ts_domid() { xl domid "$1"; }

ts_destroy() { xl destroy "$1"; }

# the console output of NAME's current (or last) incarnation, CRs dropped
ts_console() {
  local off
  off=$(cat "$TS_WORK/doms/$1" 2>/dev/null) || { echo "ts_console: no domain $1 created" >&2; return 1; }
  tail -c +$((off + 1)) "$TS_CONSOLE_DIR/guest-$1.log" 2>/dev/null | tr -d '\r'
}

# ts_wait_marker NAME MARKER SECS: a console line starting with MARKER
ts_wait_marker() {
  local n=0 max=$(($3 * 2)) off
  off=$(cat "$TS_WORK/doms/$1" 2>/dev/null) || { echo "ts_wait_marker: no domain $1 created" >&2; return 1; }
  while :; do
    # (two processes per poll: exec is slow under emulation)
    tail -c +$((off + 1)) "$TS_CONSOLE_DIR/guest-$1.log" 2>/dev/null \
      | awk -v m="$2" 'index($0, m) == 1 { f = 1; exit } END { exit !f }' && return 0
    n=$((n + 1))
    [ $n -ge $max ] && break
    sleep 0.5
  done
  echo "ts_wait_marker: $1: no line starting with '$2' after $3 s" >&2
  return 1
}

# ts_run0 PROG [ARGS...]: in dom0, synchronously; PROG from $TS_BIN first
ts_run0() {
  local p=$1
  shift
  case $p in */*) ;; *) [ -x "$TS_BIN/$p" ] && p=$TS_BIN/$p;; esac
  "$p" "$@"
}

# Not part of the interface: the runner's cleanup between scenarios.
ts_xl_destroy_all() {
  local d
  for d in $(xl list 2>/dev/null | awk 'NR > 1 && $2 != 0 { print $1 }'); do xl destroy "$d" || true; done
}
fi
