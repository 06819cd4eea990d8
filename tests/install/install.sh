#!/bin/sh
# make install into a scratch DESTDIR: the libraries, headers, pkg-config
# file, programs and manuals land where a Xen dom0 or a guest-app
# developer looks for them; every manual renders without a warning; each
# call of <vipc/vchan.h> has its man page, and its line in the synopsis
# declares what the header does; the library exports those calls and
# libhyp's, nothing internal; and a program built with pkg-config's flags
# against the installed files alone runs.
top_builddir=${top_builddir:?}
top_srcdir=${top_srcdir:?}
CC=${CC:-cc}
dest=$(mktemp -d "${TMPDIR:-/tmp}/vipc-install.XXXXXX") || exit 99
trap 'rm -rf "$dest"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok   $*"; }

# Every folder with something to install (tests/ has nothing; its own
# programs are being run by make check meanwhile).
for d in hyp libvchan-cap frontend backend tools; do
    make -s -C "$top_builddir/$d" install DESTDIR="$dest" >"$dest/make.log" 2>&1 ||
        { fail "make install in $d:"; tail -n 20 "$dest/make.log"; exit 1; }
done
# Where configure said things go (--prefix, --libdir, --mandir...), as the
# build's own Makefile expands them.
folder() {   # (a make of its own: make check's flags would add noise)
    printf 'print-%%:\n\t@echo $($*)\n' |
        env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory \
            -C "$top_builddir/libvchan-cap" -f Makefile -f - "print-$1"
}
prefix=$(folder prefix); bindir=$(folder bindir); libdir=$(folder libdir)
includedir=$(folder includedir); mandir=$(folder mandir)
[ -n "$prefix" ] && [ -n "$bindir" ] && [ -n "$libdir" ] && [ -n "$includedir" ] &&
    [ -n "$mandir" ] || { fail "cannot read the install folders from the build"; exit 1; }

for f in "$libdir/libvchan-cap.so" "$libdir/pkgconfig/libvchan-cap.pc" \
         "$includedir/vipc/vchan.h" "$includedir/vipc/hyp.h" \
         "$bindir/xensim" "$bindir/vipc-bench" \
         "$mandir/man1/xensim.1" "$mandir/man1/vipc-bench.1" \
         "$mandir/man3/libvchan-cap.3"; do
    if [ -e "$dest$f" ]; then ok "installed $f"; else fail "not installed: $f"; fi
done

# Manuals: groff's warnings are errors here.
for m in "$dest$mandir"/man*/*; do
    if head -n 1 "$m" | grep -q '^\.so '; then continue; fi
    w=$(groff -man -ww -z -Tutf8 "$m" 2>&1)
    if [ -z "$w" ]; then ok "renders: ${m#"$dest"}"; else fail "${m#"$dest"}: $w"; fi
done
# A page per call of the installed header, each pointing to the manual.
calls=$(sed -n '/^typedef/d; s/^[a-z][a-z_ ]*[ *]\(vchan_[a-z_]*\)(.*/\1/p' "$dest$includedir/vipc/vchan.h")
[ -n "$calls" ] || fail "no calls found in vipc/vchan.h"
n=0
for c in $calls; do
    p="$dest$mandir/man3/$c.3"
    if [ "$(cat "$p" 2>/dev/null)" != ".so man3/libvchan-cap.3" ]; then
        fail "man page of $c: missing or not pointing to libvchan-cap(3)"
    elif ! grep -q "^\.BI \"[a-z].*[ *]$c(" "$dest$mandir/man3/libvchan-cap.3"; then
        fail "libvchan-cap(3)'s synopsis lacks $c"
    else
        n=$((n + 1))
    fi
done
ok "$n calls of vipc/vchan.h with a man page each and in the synopsis"
# The synopsis says what the header says: its prototypes (roff's quotes
# dropped, whitespace is C's) compile after the installed header, which
# they would not with a type changed in one and not the other.
sed -n '/^\.SH SYNOPSIS/,/^\.SH /p' "$dest$mandir/man3/libvchan-cap.3" |
    sed -n 's/^\.BI //p' | tr -d '"' > "$dest/synopsis.c"
# shellcheck disable=SC2086
if printf '#include <vipc/vchan.h>\n' | cat - "$dest/synopsis.c" |
   $CC -std=gnu11 -Wall -Werror -fsyntax-only -I"$dest$includedir" -x c - 2>"$dest/cc.log"; then
    ok "libvchan-cap(3)'s synopsis matches the installed header"
else
    fail "libvchan-cap(3)'s synopsis and vipc/vchan.h differ:"; head -n 5 "$dest/cc.log"
fi

# The library exports the calls of its installed headers and nothing else:
# no internal function (vchan_log, vchan_fail...) is ABI, nor replaced by an
# application's function of that name.  Its headers: <vipc/vchan.h>, and
# <vipc/hyp.h> (libhyp is linked into it).
decl=$(for h in vchan.h hyp.h; do
    sed -n '/^typedef/d; s/^[a-z][a-z_0-9 ]*[ *]\([a-z_][a-z_0-9]*\)(.*/\1/p' "$dest$includedir/vipc/$h"
done | sort -u)
if ! nm -D --defined-only "$dest$libdir/libvchan-cap.so" > "$dest/nm.out" 2>"$dest/nm.err"; then
    fail "nm -D cannot read libvchan-cap.so: $(cat "$dest/nm.err")"
elif [ -z "$decl" ]; then
    fail "no calls found in vipc/vchan.h and vipc/hyp.h"
else
    awk '{ print $NF }' "$dest/nm.out" | sort -u > "$dest/exported"
    printf '%s\n' "$decl" > "$dest/declared"
    extra=$(comm -23 "$dest/exported" "$dest/declared" | tr '\n' ' ')
    missing=$(comm -13 "$dest/exported" "$dest/declared" | tr '\n' ' ')
    [ -z "$extra" ] || fail "libvchan-cap.so exports what no installed header declares: $extra"
    [ -z "$missing" ] || fail "libvchan-cap.so does not export these calls of its headers: $missing"
    [ -n "$extra$missing" ] ||
        ok "libvchan-cap.so exports exactly the $(wc -l < "$dest/declared") calls of vipc/vchan.h and vipc/hyp.h"
fi

# A program built against the installed files only.
if ! PKG_CONFIG_PATH="$dest$libdir/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$dest" \
     pkg-config --exists libvchan-cap; then
    fail "pkg-config does not find libvchan-cap"
else
    flags=$(PKG_CONFIG_PATH="$dest$libdir/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$dest" \
            pkg-config --cflags --libs libvchan-cap)
    # shellcheck disable=SC2086
    if $CC ${SAN_FLAGS:-} -o "$dest/pc_user" "$top_srcdir/tests/install/pc_user.c" $flags 2>"$dest/cc.log"; then
        out=$(LD_LIBRARY_PATH="$dest$libdir" "$dest/pc_user" 2>&1)
        if [ "$out" = "pc_user: ping, pong" ]; then ok "a program built with pkg-config's flags ($flags) runs"
        else fail "pc_user: $out"; fi
    else
        fail "cannot build against the installed files ($flags):"; cat "$dest/cc.log"
    fi
fi
[ "$fails" = 0 ] && echo "install: all checks passed" || { echo "install: $fails check(s) failed"; exit 1; }
