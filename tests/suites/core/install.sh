#!/bin/sh
# install.sh - `make install` and `make uninstall` into a DESTDIR:
#  - the installed file list is exactly the expected one (binary, man
#    pages, systemd unit, configuration, docs/*.md, the JSON Schema,
#    conf/examples, the Postfix and Sendmail snippets), derived here from
#    the tree independently of the Makefile's lists;
#  - the binary is stripped (`file`, and readelf shows no .debug_*
#    section); with STRIP= empty it keeps its debug info;
#  - `make uninstall` leaves no file and removes the package's own folders;
#    an edited gatewarden.json is kept (and said so);
#  - a build with SYSCONFDIR=/opt/etc reads /opt/etc/gatewarden/gatewarden.json
#    when no -c is given.
# Ends with "install: N passed, N failed".
cd "$(dirname "$0")/../../.." || exit 1
. tests/lib.sh
t_init install
t_require file readelf

dest=$T/root
mk() {	# mk LOG ARGS... - make quietly, the log kept for a failure
	t_log=$1
	shift
	make --no-print-directory BUILD="$BUILD" "$@" >"$T/$t_log" 2>&1
}

# expected - the installed files, relative to DESTDIR, sorted
expected() {
	{
		echo usr/sbin/gatewarden
		echo usr/share/man/man8/gatewarden.8
		echo usr/share/man/man5/gatewarden.json.5
		echo usr/lib/systemd/system/gatewarden.service
		echo etc/gatewarden/gatewarden.json
		for f in docs/*.md; do
			echo "usr/share/doc/gatewarden/${f#docs/}"
		done
		echo usr/share/gatewarden/gatewarden.schema.json
		find conf/examples conf/postfix -type f | sed 's|^conf/|usr/share/gatewarden/|'
		[ ! -d conf/sendmail ] ||
		    find conf/sendmail -type f -name '*.mc' | sed 's|^conf/|usr/share/gatewarden/|'
	} | LC_ALL=C sort
}
installed() {
	(cd "$dest" && find . -type f -o -type l) | sed 's|^\./||' | LC_ALL=C sort
}

if mk install.log install DESTDIR="$dest" PREFIX=/usr; then
	ok "make install DESTDIR PREFIX=/usr"
else
	ko "make install DESTDIR PREFIX=/usr" "$(tail -5 "$T/install.log")"
	t_done
fi
expected >"$T/want"
installed >"$T/got"
if cmp -s "$T/want" "$T/got"; then
	ok "installed files are exactly the expected $(wc -l <"$T/want")"
else
	ko "installed files differ from the expected list" \
	    "$(diff "$T/want" "$T/got" | grep '^[<>]' | head -20)"
fi
check "a Sendmail .mc is installed (conf/sendmail)" \
    grep -q '^usr/share/gatewarden/sendmail/.*\.mc$' "$T/got"
check "docs/ARCHITECTURE.md is installed" \
    test -s "$dest/usr/share/doc/gatewarden/ARCHITECTURE.md"
check "installed examples equal the tree's" \
    diff -r conf/examples "$dest/usr/share/gatewarden/examples"
check "installed schema equals the tree's" \
    cmp -s conf/gatewarden.schema.json "$dest/usr/share/gatewarden/gatewarden.schema.json"

bin=$dest/usr/sbin/gatewarden
check "file(1) says the installed binary is stripped" \
    sh -c 'file -b "$1" | grep -q ", stripped"' sh "$bin"
check "the installed binary has no .debug_* section" \
    sh -c '! readelf -S -W "$1" | grep -q "\.debug_"' sh "$bin"
check "the build keeps its debug info (install strips the copy only)" \
    sh -c 'readelf -S -W "$1" | grep -q "\.debug_info"' sh "$GW"
check "the stripped binary runs (--version)" \
    sh -c '"$1" --version | grep -q "^gatewarden "' sh "$bin"

# uninstall: nothing left but folders shared with other packages
if mk uninstall.log uninstall DESTDIR="$dest" PREFIX=/usr; then
	ok "make uninstall"
else
	ko "make uninstall" "$(tail -5 "$T/uninstall.log")"
fi
check "uninstall leaves no file" sh -c '[ -z "$(find "$1" ! -type d)" ]' sh "$dest"
for d in usr/share/gatewarden usr/share/doc/gatewarden etc/gatewarden; do
	check "uninstall removes $d/" test ! -e "$dest/$d"
done

# an edited configuration survives uninstall, and uninstall says so
mk install2.log install DESTDIR="$dest" PREFIX=/usr
printf '{ "#": "edited by the postmaster" }\n' >"$dest/etc/gatewarden/gatewarden.json"
mk uninstall2.log uninstall DESTDIR="$dest" PREFIX=/usr
check "uninstall keeps an edited gatewarden.json" \
    grep -q 'edited by the postmaster' "$dest/etc/gatewarden/gatewarden.json"
check "uninstall says it kept it" grep -q '^kept .*gatewarden.json (edited)' "$T/uninstall2.log"
check "and nothing else is left" \
    sh -c '[ "$(find "$1" ! -type d)" = "$1/etc/gatewarden/gatewarden.json" ]' sh "$dest"

# STRIP= empty: the installed binary keeps its debug info
dest2=$T/root2
mk install3.log install DESTDIR="$dest2" PREFIX=/usr STRIP=
check "with STRIP= the installed binary keeps .debug_info" \
    sh -c 'readelf -S -W "$1" | grep -q "\.debug_info"' sh "$dest2/usr/sbin/gatewarden"

# SYSCONFDIR is compiled in: a separate build folder, so that the tree's
# own build is not touched
b2=$T/build-opt
if mk build-opt.log -j2 BUILD="$b2" SYSCONFDIR=/opt/etc "$b2/gatewarden"; then
	ok "build with SYSCONFDIR=/opt/etc"
else
	ko "build with SYSCONFDIR=/opt/etc" "$(tail -5 "$T/build-opt.log")"
fi
"$b2/gatewarden" -n >"$T/n.out" 2>&1
check "that binary's -n reads /opt/etc/gatewarden/gatewarden.json" \
    grep -q '^/opt/etc/gatewarden/gatewarden.json:' "$T/n.out"
check "the default build names /etc/gatewarden/gatewarden.json" \
    grep -aq '/etc/gatewarden/gatewarden.json' "$GW"
check "and not the other one" sh -c '! grep -aq /opt/etc/gatewarden "$1"' sh "$GW"
mk install-opt.log BUILD="$b2" install DESTDIR="$T/root3" PREFIX=/opt \
    SYSCONFDIR=/opt/etc
check "make install SYSCONFDIR=/opt/etc puts the configuration there" \
    test -s "$T/root3/opt/etc/gatewarden/gatewarden.json"
check "the unit starts it with that configuration" \
    grep -qx 'ExecStart=/opt/sbin/gatewarden -f -c /opt/etc/gatewarden/gatewarden.json' \
    "$T/root3/opt/lib/systemd/system/gatewarden.service"

# the user's CFLAGS are extended, not replaced: -O0 still gets -Werror
make --no-print-directory -n -B BUILD="$b2" CFLAGS=-O0 \
    "$b2/obj/filter/util/log.o" >"$T/cflags.out" 2>&1
check "make CFLAGS=-O0 compiles with -O0, the warnings and -Werror" \
    sh -c 'grep -- " -O0 " "$1" | grep -- "-Wall" | grep -q -- "-Werror"' sh "$T/cflags.out"
t_done
