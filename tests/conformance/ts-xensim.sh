# The conformance toolstack interface (see scenarios/lib.sh) over the xensim
# CLI. Sourced (POSIX sh). Needs, from run-xensim.sh:
#   XENSIM      the xensim program       XENSIM_DIR  this host's state folder
#   TS_BIN      conf-* programs          TS_XEN_BIN  Debian's Xen programs
#   TS_WORK     a folder for the xl.cfg files written here

ts__prog() {
    case $1 in
    /*) echo "$1" ;;
    *) echo "$TS_BIN/$1" ;;
    esac
}

# ts_create NAME PROG [ARGS...]: a domain whose first process is PROG ARGS.
ts_create() {
    _ts_n=$1
    _ts_p=$(ts__prog "$2")
    shift 2
    printf 'name = "%s"\nmemory = 64\nvcpus = 1\n' "$_ts_n" > "$TS_WORK/$_ts_n.cfg"
    _ts_id=$("$XENSIM" create "$TS_WORK/$_ts_n.cfg" -- "$_ts_p" "$@") || return 1
    echo "$_ts_id" > "$TS_WORK/$_ts_n.id"
}

# ts_domid NAME: what create printed; else ask the host (xl list style).
ts_domid() {
    if [ -s "$TS_WORK/$1.id" ]; then
        cat "$TS_WORK/$1.id"
        return 0
    fi
    "$XENSIM" list | awk -v n="$1" '$1 == n { print $2; f = 1 } END { exit !f }'
}

# The cached id goes with the domain, so that ts_domid asks the host and
# fails once the domain is gone (as ts-xl.sh's `xl domid` does).
ts_destroy() { rm -f "$TS_WORK/$1.id"; "$XENSIM" destroy "$1"; }

ts_console() { "$XENSIM" console "$1"; }

# ts_wait_marker NAME MARKER SECS: a console line starting with MARKER. The
# log file is read directly while polling (the CLI documents where it is).
ts_wait_marker() {
    _ts_log=$XENSIM_DIR/console/$1.log
    _ts_end=$(($(date +%s) + $3))
    while :; do
        if [ -r "$_ts_log" ]; then
            awk -v m="$2" 'index($0, m) == 1 { f = 1; exit } END { exit !f }' "$_ts_log" && return 0
        else
            ts_console "$1" 2>/dev/null |
                awk -v m="$2" 'index($0, m) == 1 { f = 1; exit } END { exit !f }' && return 0
        fi
        [ "$(date +%s)" -ge "$_ts_end" ] && return 1
        sleep 0.1
    done
}

# ts_run0 PROG [ARGS...]: in dom0, synchronously.
ts_run0() {
    _ts_p=$(ts__prog "$1")
    shift
    "$XENSIM" exec 0 -- "$_ts_p" "$@"
}
