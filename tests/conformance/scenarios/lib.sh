# Sourced by every scenario (POSIX sh; busybox ash runs it). Loads the
# toolstack named by $TS_IMPL (ts-xensim.sh or tests/xen/ts-xl.sh), which
# provides ts_create/ts_domid/ts_destroy/ts_wait_marker/ts_console/ts_run0
# and sets TS_BIN (conformance programs) and TS_XEN_BIN (Debian's
# vchan-socket-proxy and test-xenstore), both as seen from inside domains.
#
# Knobs: CONF_WAIT_S (seconds to wait for any one marker, default 60; also
# the timeout of the programs' own waits),
# CONF_VCHAN_MIB (vchan-proxy size each way, default 64).

[ -n "$TS_IMPL" ] || { echo "SCENARIO-FAIL ${0##*/}: TS_IMPL (toolstack script) not set"; exit 2; }
. "$TS_IMPL" || { echo "SCENARIO-FAIL ${0##*/}: cannot load $TS_IMPL"; exit 2; }

SC_NAME=${0##*/}; SC_NAME=${SC_NAME%.sh}
SC_WAIT=${CONF_WAIT_S:-60}
SC_FAILS=0
SC_DOMS=""      # names created here, destroyed at the end

sc_log() { echo "[$SC_NAME] $*"; }
sc_fail() { SC_FAILS=$((SC_FAILS + 1)); echo "CHECK-FAIL [$SC_NAME] $*"; }

# Give up on a scenario whose setup broke: the checks cannot run.
sc_abort() { sc_fail "$*"; sc_finish; }

# Domain names are prefixed so that scenarios never clash in one host.
sc_dom() { echo "c-$SC_NAME-$1"; }

# sc_create KEY PROG [ARGS...]: start domain c-<scenario>-KEY; sets $ID_KEY.
sc_create() {
    _k=$1; shift
    _n=$(sc_dom "$_k")
    SC_DOMS="$SC_DOMS $_n"
    ts_create "$_n" "$@" || sc_abort "cannot create domain $_n ($*)"
    _id=$(ts_domid "$_n") || sc_abort "no domid for $_n"
    case $_id in ''|*[!0-9]*) sc_abort "domid of $_n is '$_id'";; esac
    eval "ID_$_k=$_id"
    sc_log "domain $_n is dom$_id: $*"
    # The programs' own waits follow the scenario's (read with the peer id).
    sc_tell "$_k" timeout-ms $((SC_WAIT * 1000))
}

# sc_tell KEY NODE VALUE: dom0 writes data/conf/NODE in domain KEY's home.
sc_tell() {
    eval "_id=\$ID_$1"
    ts_run0 conf-xs write "/local/domain/$_id/data/conf/$2" "$3" ||
        sc_abort "dom0 cannot write /local/domain/$_id/data/conf/$2"
}

# The console without carriage returns (serial consoles add them).
sc_console() { ts_console "$(sc_dom "$1")" | tr -d '\r'; }

# sc_wait KEY MARKER [SECS]: wait for a console line starting with MARKER.
sc_wait() {
    ts_wait_marker "$(sc_dom "$1")" "$2" "${3:-$SC_WAIT}" && return 0
    sc_fail "$(sc_dom "$1"): no '$2' within ${3:-$SC_WAIT} s"
    return 1
}

# sc_done KEY [PROG]: PROG (default: the first to report) finished, and
# without a failed check.
sc_done() {
    sc_wait "$1" "CONF-DONE $2" || return 1
    sc_console "$1" | grep -q "^CONF-DONE $2.* failures=0\$" && return 0
    sc_fail "$(sc_dom "$1"): $(sc_console "$1" | grep "^CONF-DONE $2" | head -n 1)"
    return 1
}

# sc_ended KEY [PROG]: PROG finished (whatever its checks said).
sc_ended() { sc_wait "$1" "CONF-DONE $2"; }

# sc_expect KEY TEST...: each TEST has a CONF-PASS line and no CONF-FAIL line.
sc_expect() {
    _k=$1; shift
    _c=$(sc_console "$_k")
    for _t in "$@"; do
        if echo "$_c" | grep -q "^CONF-FAIL $_t:"; then
            sc_fail "$(sc_dom "$_k"): $(echo "$_c" | grep "^CONF-FAIL $_t:" | head -n 1)"
        elif ! echo "$_c" | grep -qx "CONF-PASS $_t"; then
            sc_fail "$(sc_dom "$_k"): check $_t did not report"
        fi
    done
}

# sc_no_fail KEY [PREFIX]: no CONF-FAIL line (for tests starting with
# PREFIX, default all) in that domain's console.
sc_no_fail() {
    _f=$(sc_console "$1" | grep "^CONF-FAIL $2")
    [ -z "$_f" ] && return 0
    SC_FAILS=$((SC_FAILS + 1))
    echo "$_f" | while read -r _l; do echo "CHECK-FAIL [$SC_NAME] $(sc_dom "$1"): $_l"; done
}

# Tear down, show the consoles when something failed, print the verdict.
sc_finish() {
    trap - EXIT INT TERM
    if [ "$SC_FAILS" -ne 0 ] || [ -n "$CONF_VERBOSE" ]; then
        for _n in $SC_DOMS; do
            echo "----- console of $_n -----"
            ts_console "$_n" 2>&1 | tr -d '\r' | tail -n 60
        done
    fi
    for _n in $SC_DOMS; do ts_destroy "$_n" >/dev/null 2>&1; done
    if [ "$SC_FAILS" -eq 0 ]; then
        echo "SCENARIO-PASS $SC_NAME"
        exit 0
    fi
    echo "SCENARIO-FAIL $SC_NAME: $SC_FAILS check(s) failed"
    exit 1
}
trap 'sc_fail "interrupted"; sc_finish' INT TERM
