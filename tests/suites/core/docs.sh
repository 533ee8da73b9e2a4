#!/bin/sh
# docs.sh - the documentation and the installation:
#  - every man page under docs/ renders without groff/man warnings;
#  - gatewarden(8) names every option and command the binary's usage
#    prints, and every exit code the sources return;
#  - gatewarden.json(5) names every core key of conf/gatewarden.json;
#  - README.md gives both commands (make run, make test);
#  - `make install DESTDIR=... PREFIX=/usr` installs the binary, both man
#    pages, the configuration and the systemd unit with its paths filled
#    in, and a second install keeps an edited configuration;
#  - the installed unit passes systemd-analyze verify (when present; a
#    missing tool is reported, not counted).
# Ends with "docs: N passed, N failed".
cd "$(dirname "$0")/../../.." || exit 1
. tests/lib.sh
t_init docs
tmp=$T

# --- man pages ----------------------------------------------------------
for page in docs/*.[1-8]; do
	[ -e "$page" ] || continue
	err=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >"$tmp/render")
	st=$?
	if [ $st -eq 0 ] && [ -z "$err" ] && [ -s "$tmp/render" ]; then
		ok "$page renders without warnings"
	else
		ko "$page renders without warnings (exit $st)"
		printf '%s\n' "$err" | head -10
	fi
done
check "docs/gatewarden.8 exists" test -s docs/gatewarden.8
check "docs/gatewarden.json.5 exists" test -s docs/gatewarden.json.5

# Every option in the usage text appears in gatewarden(8).
usage=$("$GW" --help 2>&1)
opts=$(printf '%s\n' "$usage" | grep -oE '(^|[[ ])--?[a-z][a-z-]*' |
    sed -E 's/^[[ ]//' | sort -u)
src=$(sed 's/\\-/-/g' docs/gatewarden.8)
missing=""
for o in $opts; do
	printf '%s\n' "$src" | grep -qE "(^|[^a-z-])$o([^a-z-]|\$)" ||
	    missing="$missing $o"
done
if [ -n "$opts" ] && [ -z "$missing" ]; then
	ok "gatewarden.8 documents every option of the usage ($(echo $opts | wc -w))"
else
	ko "gatewarden.8 documents every option of the usage (missing:${missing:- usage empty})"
fi

# Every key of the core sections of conf/gatewarden.json appears in (5).
keys=$($PY - conf/gatewarden.json <<'EOF'
import json, sys
conf = json.load(open(sys.argv[1]))
out = set()
def walk(v, depth):
	if isinstance(v, dict):
		for k, x in v.items():
			if k.startswith("#"):
				continue
			out.add(k)
			if depth < 2:
				walk(x, depth + 1)
for k, v in conf.items():
	if k.startswith("#") or k == "policies":
		continue
	out.add(k)
	walk(v, 1)
out.add("policies")
print("\n".join(sorted(out)))
EOF
)
src5=$(sed 's/\\-/-/g; s/\\(dq/"/g' docs/gatewarden.json.5)
missing=""
for k in $keys; do
	printf '%s\n' "$src5" | grep -qE "(^|[^a-z_])$k([^a-z_]|\$)" ||
	    missing="$missing $k"
done
if [ -n "$keys" ] && [ -z "$missing" ]; then
	ok "gatewarden.json.5 names every core key of conf/gatewarden.json ($(echo $keys | wc -w))"
else
	ko "gatewarden.json.5 names every core key of conf/gatewarden.json (missing:${missing:- no keys read})"
fi
# Every command of the usage has its place in gatewarden(8).
cmds=$(printf '%s\n' "$usage" | sed -n 's/^\(usage:\)\{0,1\} *gatewarden \([a-z][a-z]*\).*/\2/p' | sort -u)
missing=""
for c in $cmds; do
	grep -q "^\.B gatewarden $c" docs/gatewarden.8 || missing="$missing $c"
done
if [ -n "$cmds" ] && [ -z "$missing" ]; then
	ok "gatewarden.8 has every command of the usage ($(echo $cmds | wc -w): $(echo $cmds))"
else
	ko "gatewarden.8 has every command of the usage (missing:${missing:- no commands read})"
fi

# Every <sysexits.h> code the sources return is in EXIT STATUS, by number
# and name (Python's os module has the same table).
codes=$(git grep -ohE '\bEX_[A-Z]+\b' -- 'filter/*.c' 'policies/*.c' 2>/dev/null | sort -u)
section=$(sed -n '/^\.SH EXIT STATUS/,/^\.SH /p' docs/gatewarden.8)
missing=""
for c in $codes; do
	n=$($PY -c "import os, sys; print(getattr(os, sys.argv[1], ''))" "$c")
	if [ -z "$n" ] || ! printf '%s\n' "$section" | grep -qx "\.B $n"; then
		missing="$missing $c=$n"
	elif [ "$c" != EX_OK ] && ! printf '%s\n' "$section" | grep -q "($c)"; then
		missing="$missing $c"
	fi
done
if [ -n "$codes" ] && [ -z "$missing" ]; then
	ok "gatewarden.8 EXIT STATUS lists every code the sources use ($(echo $codes | wc -w))"
else
	ko "gatewarden.8 EXIT STATUS lists every code the sources use (missing:${missing:- none found})"
fi

# Every arena of filter/ and policies/ has a budget (never a bare 0) and
# its file is in filter/util/arena.h's table of lifetimes.
bare=$(grep -rn --include='*.c' 'arena_create(0)' filter policies)
check "no arena_create(0) in filter/ or policies/${bare:+: $bare}" test -z "$bare"
unlisted=""
for f in $(grep -rl --include='*.c' 'arena_create(' filter policies); do
	case $f in filter/util/arena.c) continue ;; esac
	b=${f##*/}
	grep -q "[[:space:]]$b[[:space:]]" filter/util/arena.h ||
	    unlisted="$unlisted $f"
done
check "arena.h lists the budget of every arena_create (unlisted:${unlisted:- none})" \
    test -z "$unlisted"

# The EXAMPLE of gatewarden.json(5) loads, and README's `gatewarden test`
# example gives the verdict README shows.
MANWIDTH=200 man -l docs/gatewarden.json.5 2>/dev/null |
    sed -n '/^EXAMPLE/,/^FILES/p' | sed '1d;$d' > "$tmp/example.json"
check "gatewarden.json.5 EXAMPLE passes -n" \
    sh -c '"$1" -n -c "$2" >/dev/null' sh "$GW" "$tmp/example.json"
printf 'From: x@spammer.example\r\nTo: bob@example.net\r\nSubject: t\r\n\r\nhi\r\n' \
    > "$tmp/message.eml"
"$GW" test -c "$tmp/example.json" --ip 203.0.113.9 --helo mail.example.org \
    --from x@spammer.example --rcpt bob@example.net "$tmp/message.eml" \
    > "$tmp/test.json" 2>/dev/null
check "README test example: reject at mail with 550 5.7.1" $PY -c '
import json, sys
o = json.load(open(sys.argv[1]))
sys.exit(not (o["verdict"] == "reject" and o["stage"] == "mail" and
    o["reply"]["code"] == "550" and o["reply"]["xcode"] == "5.7.1" and
    o["symbol"] == "no_spammer_example" and o["rcpts"] == [] and
    set(o) >= {"headers", "results", "trace", "score", "policy"}))
' "$tmp/test.json"

# --- README ---------------------------------------------------------------
check "README.md gives 'make run'" grep -q 'make run' README.md
check "README.md gives 'make test'" grep -q 'make test' README.md
check "README.md shows the Postfix milter settings" \
    sh -c 'grep -q smtpd_milters README.md && grep -q non_smtpd_milters README.md &&
	grep -q "milter_default_action = tempfail" README.md &&
	grep -q "milter_protocol = 6" README.md'

# --- make install -----------------------------------------------------------
dest=$tmp/root
if make --no-print-directory BUILD="$BUILD" install DESTDIR="$dest" \
    PREFIX=/usr >"$tmp/install.log" 2>&1; then
	ok "make install DESTDIR PREFIX=/usr"
else
	ko "make install DESTDIR PREFIX=/usr"
	tail -20 "$tmp/install.log"
fi
check "installs the binary" test -x "$dest/usr/sbin/gatewarden"
check "installed binary runs (--version)" \
    sh -c '"$1" --version | grep -q "^gatewarden "' sh "$dest/usr/sbin/gatewarden"
check "installs gatewarden.8" test -s "$dest/usr/share/man/man8/gatewarden.8"
check "installs gatewarden.json.5" test -s "$dest/usr/share/man/man5/gatewarden.json.5"
check "installs /etc/gatewarden/gatewarden.json" \
    cmp -s conf/gatewarden.json "$dest/etc/gatewarden/gatewarden.json"
check "installed configuration passes -n" \
    sh -c '"$1" -n -c "$2" >/dev/null' sh "$GW" "$dest/etc/gatewarden/gatewarden.json"
unit=$dest/usr/lib/systemd/system/gatewarden.service
check "installs the systemd unit" test -s "$unit"
check "unit has no @placeholders@ left" sh -c '! grep -q "@[A-Z]*@" "$1"' sh "$unit"
check "unit starts /usr/sbin/gatewarden -f -c /etc/gatewarden/gatewarden.json" \
    grep -qx 'ExecStart=/usr/sbin/gatewarden -f -c /etc/gatewarden/gatewarden.json' "$unit"
check "unit runs as an unprivileged user" grep -qx 'User=gatewarden' "$unit"
check "unit reloads with SIGHUP" grep -qx 'ExecReload=/bin/kill -HUP $MAINPID' "$unit"

# A second install keeps the edited configuration.
printf '{ "#": "edited by the postmaster" }\n' > "$dest/etc/gatewarden/gatewarden.json"
if make --no-print-directory BUILD="$BUILD" install DESTDIR="$dest" \
    PREFIX=/usr >"$tmp/install2.log" 2>&1; then
	ok "second make install"
else
	ko "second make install"
	tail -20 "$tmp/install2.log"
fi
check "second install keeps an existing gatewarden.json" \
    grep -q 'edited by the postmaster' "$dest/etc/gatewarden/gatewarden.json"

# systemd's own parser, on a copy whose paths point into DESTDIR.
if command -v systemd-analyze >/dev/null 2>&1; then
	mkdir -p "$tmp/unit"
	sed "s|/usr/sbin/|$dest/usr/sbin/|g" "$unit" > "$tmp/unit/gatewarden.service"
	out=$(cd "$tmp/unit" && timeout 60 systemd-analyze verify --man=no \
	    ./gatewarden.service 2>&1)
	st=$?
	if [ $st -eq 0 ] && ! printf '%s\n' "$out" | grep -q 'gatewarden.service:'; then
		ok "systemd-analyze verify accepts the unit"
	else
		ko "systemd-analyze verify accepts the unit (exit $st)"
		printf '%s\n' "$out" | head -10
	fi
else
	echo "note systemd-analyze not installed: unit not verified (not counted)"
fi

t_done
