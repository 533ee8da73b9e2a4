#!/bin/sh
# config.sh - configuration checking, end to end through the
# binary: `gatewarden -n -c FILE`.
#
#  - tests/data/conf/bad-NAME.json: exit 78 and stderr exactly as in
#    bad-NAME.err (file:line:col: /pointer: message), nothing on stdout;
#  - tests/data/conf/good-NAME.json: exit 0, "configuration OK", no stderr;
#  - tests/data/conf/warn-NAME.json: exit 0, "configuration OK", and
#    stderr exactly as in warn-NAME.err (the same form, "warning: " before
#    the message);
#  - conf/gatewarden.schema.json is a valid Draft 2020-12 schema; every
#    shipped config (conf/*.json, conf/examples/*.json) and every good-*.json
#    validates against it and passes -n; the bad cases the schema can
#    express are rejected by it too.
#
# Run from anywhere; GW is the binary (default build/gatewarden).
cd "$(dirname "$0")/../../.." || exit 1
. tests/lib.sh
t_init config
tmp=$T
SCHEMA=conf/gatewarden.schema.json
DATA=tests/data/conf
# bad cases that the schema must reject as well as the loader
SCHEMA_BAD="duration enum policy policy-key range root several socket type
	unknown-key unknown-nested"

# gw_check FILE - run -n -c FILE; sets st, leaves $tmp/out and $tmp/err
gw_check() {
	"$GW" -n -c "$1" >"$tmp/out" 2>"$tmp/err"
	st=$?
}

# expect_ok FILE - the binary accepts FILE; nothing on stderr but, when
# run as root, the warning that a file without milter.user keeps root
# (tests/suites/milter/daemon.sh checks that warning)
expect_ok() {
	gw_check "$1"
	no_root_warning "$tmp/err"
	if [ "$st" -eq 0 ] && [ "$(cat "$tmp/out")" = "configuration OK" ] &&
	    [ ! -s "$tmp/err" ]; then
		ok
	else
		ko "$1: exit $st, want 0 and \"configuration OK\""
		head -20 "$tmp/out" "$tmp/err"
	fi
}

# schema FILE... - validates against the schema
schema() {
	if "$PY" tests/conf/schema_check.py "$SCHEMA" "$@" >"$tmp/schema" 2>&1; then
		ok
	else
		ko "schema: $*"
		head -20 "$tmp/schema"
	fi
}

if [ ! -x "$GW" ]; then
	ko "no binary at $GW"
fi

# golden errors
for f in "$DATA"/bad-*.json; do
	want=${f%.json}.err
	gw_check "$f"
	if [ "$st" -eq 78 ]; then ok; else ko "$f: exit $st, want 78"; fi
	if [ -f "$want" ] && cmp -s "$want" "$tmp/err"; then
		ok
	else
		ko "$f: stderr differs from $want"
		diff -u "$want" "$tmp/err" | head -30
	fi
	if [ ! -s "$tmp/out" ]; then ok; else ko "$f: output on stdout"; fi
done

# good configs: the binary and the schema
for f in "$DATA"/good-*.json; do
	expect_ok "$f"
	schema "$f"
done

# golden warnings: the check passes, the warnings are exact
for f in "$DATA"/warn-*.json; do
	want=${f%.json}.err
	gw_check "$f"
	no_root_warning "$tmp/err"
	if [ "$st" -eq 0 ] && [ "$(cat "$tmp/out")" = "configuration OK" ]; then
		ok
	else
		ko "$f: exit $st, want 0 and \"configuration OK\""
	fi
	if [ -s "$want" ] && cmp -s "$want" "$tmp/err"; then
		ok
	else
		ko "$f: stderr differs from $want"
		diff -u "$want" "$tmp/err" | head -30
	fi
	schema "$f"
done

# the schema itself, and the bad cases it can express
if "$PY" tests/conf/schema_check.py "$SCHEMA" >"$tmp/schema" 2>&1; then
	ok
else
	ko "$SCHEMA is not a valid schema"
	cat "$tmp/schema"
fi
for c in $SCHEMA_BAD; do
	f=$DATA/bad-$c.json
	if [ -f "$f" ] && ! "$PY" tests/conf/schema_check.py "$SCHEMA" "$f" \
	    >"$tmp/schema" 2>&1 && grep -q "^invalid $f:" "$tmp/schema"; then
		ok
	else
		ko "schema accepts $f"
	fi
done

# every shipped configuration
if [ -f conf/gatewarden.json ]; then ok; else ko "conf/gatewarden.json missing"; fi
# The examples are checked in a copy of conf/examples whose keys/ holds
# keys made by `gatewarden keygen` for the key_file entries they name:
# private keys are not shipped, and git would not keep their 0600 mode.
EX=$T/examples
mkdir "$EX"
cp -R conf/examples/. "$EX/"
mkdir -p "$EX/keys"
grep -ho '"key_file": *"keys/[^"]*"' conf/examples/*.json 2>/dev/null |
    sed 's/.*"keys\/\([^"]*\)"/\1/' | sort -u | while read -r k; do
	d=${k%%.*}.${k#*.}; d=${d%.*}; sel=${d##*.}; dom=${d%.*}
	case $sel in
	ed*) set -- --algorithm ed25519-sha256 ;;
	*) set -- --algorithm rsa-sha256 --bits 1024 ;;
	esac
	"$GW" keygen --domain "$dom" --selector "$sel" "$@" --group "$(id -gn)" \
	    --out "$EX/keys" >/dev/null 2>&1 ||
	    echo "note: keygen for $k failed"
done
for f in conf/*.json conf/examples/*.json; do
	[ -f "$f" ] || continue
	case $f in *.schema.json) continue ;; esac
	schema "$f"
	case $f in
	conf/examples/*) expect_ok "$EX/${f#conf/examples/}" ;;
	*) expect_ok "$f" ;;
	esac
done

t_done
