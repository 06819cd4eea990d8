#!/bin/sh
# setup.sh and a build folder configured before: CONFIGURE_FLAGS that differ
# from the folder's configuration configure it again (saying so), the same
# flags or none leave it as it is.  setup.sh runs on a copy of itself with
# stand-ins for configure, make and dpkg-query: no package, build or real
# configure run.
top_srcdir=${top_srcdir:?}
t=$(mktemp -d "${TMPDIR:-/tmp}/vipc-setup.XXXXXX") || exit 99
trap 'rm -rf "$t"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok   $*"; }

mkdir "$t/src" "$t/bin"
cp "$top_srcdir/setup.sh" "$t/src/"
touch -d '1 hour ago' "$t/src/configure.ac"
# configure: notes its arguments; its config.status prints them as
# autoconf's does (each quoted).
cat > "$t/src/configure" <<EOF
#!/bin/sh
echo "configure \$*" >> "$t/calls"
: > Makefile
q=; for a in "\$@"; do q="\$q '\$a'"; done
printf '#!/bin/sh\n[ "\$1" = --config ] && echo "%s"\n' "\${q# }" > config.status
chmod +x config.status
EOF
printf '#!/bin/sh\necho "make $*" >> "%s/calls"\n' "$t" > "$t/bin/make"
printf '#!/bin/sh\necho "install ok installed"\n' > "$t/bin/dpkg-query"
printf '#!/bin/sh\necho "autoreconf ran" >> "%s/calls"; exit 1\n' "$t" > "$t/bin/autoreconf"
chmod +x "$t/src/configure" "$t/bin/"*

# run NAME [VAR=VALUE...]: setup.sh build on $t/build; $t/calls and
# $t/err are what it called and printed on stderr.
run() {
    n=$1; shift
    : > "$t/calls"
    # Not the caller's CONFIGURE_FLAGS: .ci/run sets them for make check.
    env -u CONFIGURE_FLAGS PATH="$t/bin:$PATH" BUILD_DIR="$t/build" "$@" sh "$t/src/setup.sh" build \
        > "$t/out" 2> "$t/err" || { fail "$n: setup.sh failed:"; cat "$t/out" "$t/err"; }
}
configured() { grep '^configure' "$t/calls"; }

run "first" CONFIGURE_FLAGS="--enable-werror  --enable-fuzz"
[ "$(configured)" = "configure --enable-werror --enable-fuzz" ] &&
    ok "a new folder is configured with CONFIGURE_FLAGS" ||
    fail "a new folder: $(cat "$t/calls")"
run "same" CONFIGURE_FLAGS=" --enable-werror --enable-fuzz "
[ -z "$(configured)" ] && [ ! -s "$t/err" ] &&
    ok "the same flags (spaced otherwise) do not configure again" ||
    fail "the same flags: $(cat "$t/calls" "$t/err")"
run "none"
[ -z "$(configured)" ] && ok "no CONFIGURE_FLAGS keep the folder's configuration" ||
    fail "no flags: $(cat "$t/calls")"
run "other" CONFIGURE_FLAGS="--enable-werror --enable-sanitizers"
[ "$(configured)" = "configure --enable-werror --enable-sanitizers" ] &&
    ok "other flags configure the folder again" ||
    fail "other flags did not configure again: $(cat "$t/calls")"
grep -q "configured with '--enable-werror --enable-fuzz'.*'--enable-werror --enable-sanitizers'" "$t/err" &&
    ok "and say so, naming both" || fail "other flags: no word on stderr: $(cat "$t/err")"
grep -q '^make' "$t/calls" && ok "make runs after" || fail "no make: $(cat "$t/calls")"
run "emptied" CONFIGURE_FLAGS=
[ "$(configured)" = "configure " ] && ok "CONFIGURE_FLAGS set empty configures without flags" ||
    fail "empty flags: $(cat "$t/calls")"
[ "$fails" = 0 ] && echo "setup-flags: all checks passed" || { echo "setup-flags: $fails check(s) failed"; exit 1; }
