#!/bin/bash
# opendkim-import - `gatewarden import-opendkim` on the OpenDKIM
# configurations in tests/data/opendkim/ (see its README): the import
# exits 0, `gatewarden -n` accepts what it printed, the list of settings
# without an equivalent is the expected one, and the imported configuration
# signs the same From domains with the same d= and s= as Debian's opendkim
# running the original configuration (driven by miltertest, the same
# messages, the same keys made by opendkim-genkey).  Where the two must
# differ (a per-address key, the wildcard lines the import refuses), the
# difference itself is asserted.
cd "$(dirname "$0")/../../.." || exit 1
. tests/lib.sh
NAME=opendkim-import
PORT=28911		# opendkim's milter port (loopback)
OD_PID=

bad() { ko "$@"; }
eq() { if [ "$2" = "$3" ]; then ok "$1"; else ko "$1" "expected: $2" "got:      $3"; fi; }

# opendkim refuses files below any folder others may write to (/tmp, and
# so also a checkout under /tmp, as .ci/run makes one): the temporary
# folder is in the user's own cache folder, made here instead of t_init's
base=${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/gatewarden-tests
mkdir -p "$base" && chmod 700 "$base" || exit 1
T_NAME=$NAME
T=$(mktemp -d "$base/odimport.XXXXXX")
trap t_exit EXIT
trap 'exit 130' INT TERM
od_stop() {
	stop_pid "$OD_PID"
	OD_PID=
}
cleanup() { od_stop; }

for b in "$GW" "$(command -v opendkim)" "$(command -v opendkim-genkey)" \
    "$(command -v miltertest)"; do
	[ -n "$b" ] && [ -x "$b" ] || { ko "set-up: opendkim, opendkim-tools, miltertest (make deps-test) and $GW"; t_done; }
done

# setup CASE - copy tests/data/opendkim/CASE to $T/CASE with @DIR@ filled
# in, and make the keys its KeyTable or KeyFile names with opendkim-genkey
setup() {
	local d=$T/$1 f dom sel
	mkdir -p "$d"
	for f in tests/data/opendkim/"$1"/*; do
		sed "s|@DIR@|$d|g" "$f" > "$d/$(basename "$f")"
	done
	grep -hoE "$d/keys/[^/]+/[^/ ]+\.private" "$d"/* | sort -u |
	while read -r f; do
		dom=$(basename "$(dirname "$f")")
		sel=$(basename "$f" .private)
		mkdir -p "$(dirname "$f")"
		opendkim-genkey -b 2048 -D "$(dirname "$f")" -d "$dom" -s "$sel" ||
		    echo "opendkim-genkey failed for $f" >&2
		chmod 600 "$f"
	done
}

# opendkim_sign CASE FROM... - what opendkim adds, running the case's own
# configuration (minus the daemon settings: socket, user, pid file)
opendkim_sign() {
	local d=$T/$1; shift
	grep -viE '^[[:space:]]*(Socket|UserID|PidFile|TrustAnchorFile|AutoRestart|AutoRestartRate|Background)[[:space:]]' \
	    "$d/opendkim.conf" > "$d/opendkim-test.conf"
	opendkim -f -x "$d/opendkim-test.conf" -p "inet:$PORT@127.0.0.1" \
	    -u "$(id -un)" </dev/null >"$d/opendkim.log" 2>&1 &
	OD_PID=$!
	for _ in $(seq 100); do
		(exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break
		sleep 0.05
	done
	OD_FROMS="$*" miltertest -D sock="inet:$PORT@127.0.0.1" -D name="$1" \
	    -D lib=tests/milter/lib.lua -s tests/opendkim/sign.lua \
	    2>"$d/miltertest.log"
	od_stop
}

# import CASE [--allow-wildcard] - run the import; $T/CASE/gw.json, .notes
import() {
	local c=$1 d=$T/$1; shift
	if "$GW" import-opendkim "$@" "$d/opendkim.conf" >"$d/gw.json" \
	    2>"$d/import.err"; then
		ok "$c: import exits 0"
	else
		bad "$c: import exits 0" "$(cat "$d/import.err")"
	fi
	eq "$c: gatewarden -n accepts the imported configuration" \
	    "configuration OK" "$("$GW" -n -c "$d/gw.json" 2>&1 |
	    no_root_warning)"
	sed "s|^gatewarden import-opendkim: $d/|gatewarden import-opendkim: |" \
	    "$d/import.err" > "$d/import.notes"
}

# notes CASE GOLDEN - the "no equivalent" list is the expected one
notes() {
	local want
	want=$(sed "s|@DIR@/||g" "tests/data/opendkim/$2")
	eq "$1: the settings without an equivalent are listed (tests/data/opendkim/$2)" \
	    "$want" "$(sed "s|$T/$1/||g" "$T/$1/import.err")"
	eq "$1: the same list is kept in the JSON as #not_imported" \
	    "$(sed "s|$T/$1/||g; s|^gatewarden import-opendkim: ||" "$T/$1/import.err")" \
	    "$($PY -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1])).get("#not_imported", [])))' "$T/$1/gw.json" | sed "s|$T/$1/||g")"
}

# compare CASE FROM... - gatewarden (imported) and opendkim sign alike
compare() {
	local c=$1 d=$T/$1 od gw; shift
	od=$(opendkim_sign "$c" "$@")
	gw=$($PY tests/opendkim/gwsign.py "$GW" "$d/gw.json" "$@" 2>"$d/gwsign.err")
	[ -n "$od" ] || bad "$c: opendkim answered" "$(cat "$d/opendkim.log" "$d/miltertest.log" | tail -5)"
	eq "$c: d= and s= as opendkim signs ($*)" "$od" "$gw"
	OD_OUT=$od GW_OUT=$gw
}

# line FROM OUTPUT - that From's line of a sign run
line() { printf '%s\n' "$2" | grep "^$1 "; }

# --- single: Domain/Selector/KeyFile ------------------------------------
setup single
import single
notes single single.notes
compare single alice@example.com bob@sub.example.com carol@example.org
eq "single: example.com signed with s2020" "alice@example.com d=example.com s=s2020" \
    "$(line alice@example.com "$GW_OUT")"

# --- multi: KeyTable + refile SigningTable ------------------------------
setup multi
import multi
notes multi multi.notes
compare multi a@example.com b@lists.example.com c@example.org \
    d@other.example e@sub.lists.example.com
eq "multi: the subdomain line signs with the parent's key" \
    "b@lists.example.com d=example.com s=mail" "$(line b@lists.example.com "$GW_OUT")"
od=$(opendkim_sign multi ceo@example.org)
gw=$($PY tests/opendkim/gwsign.py "$GW" "$T/multi/gw.json" ceo@example.org)
eq "multi: opendkim signs ceo@ with its own selector" "ceo@example.org d=example.org s=ceo" "$od"
eq "multi: gatewarden signs ceo@ with the domain's key (per-address line listed)" \
    "ceo@example.org d=example.org s=mail" "$gw"
eq "multi: InternalHosts -> trusted.networks (host names listed, not taken)" \
    '["127.0.0.1", "::1", "192.168.0.0/16", "10.1.0.0/16"]' \
    "$($PY -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["trusted"]["networks"]))' "$T/multi/gw.json")"
eq "multi: On-* actions and canonicalization carried over" \
    'reject tempfail continue tempfail relaxed/simple' \
    "$($PY -c 'import json,sys; d=json.load(open(sys.argv[1]))["policies"]["dkim"]; a=d["actions"]; print(a["fail"]["action"], a["temperror"]["action"], a["none"]["action"], d["on_error"], d["sign"]["canonicalization"])' "$T/multi/gw.json")"

# --- wildcard: "*" and "*@*.example.net" --------------------------------
setup wildcard
import wildcard
notes wildcard wildcard.notes
froms="x@example.net y@sub.example.net z@victim.example"
od=$(opendkim_sign wildcard $froms)
gw=$($PY tests/opendkim/gwsign.py "$GW" "$T/wildcard/gw.json" $froms)
eq "wildcard: opendkim signs a domain nobody configured with the default key" \
    "z@victim.example d=example.net s=net2024" "$(line z@victim.example "$od")"
eq "wildcard: the imported configuration does not" "z@victim.example none" \
    "$(line z@victim.example "$gw")"
eq "wildcard: example.net itself signed alike" "$(line x@example.net "$od")" \
    "$(line x@example.net "$gw")"
eq "wildcard: subdomains not signed without --allow-wildcard" \
    "y@sub.example.net none" "$(line y@sub.example.net "$gw")"
# with --allow-wildcard the subdomain line is kept, "*" still refused
mv "$T/wildcard/gw.json" "$T/wildcard/gw-strict.json"
import wildcard --allow-wildcard
gw=$($PY tests/opendkim/gwsign.py "$GW" "$T/wildcard/gw.json" $froms)
eq "wildcard --allow-wildcard: subdomains signed as opendkim does" \
    "$(line y@sub.example.net "$od")" "$(line y@sub.example.net "$gw")"
eq "wildcard --allow-wildcard: \"*\" still refused" "z@victim.example none" \
    "$(line z@victim.example "$gw")"
eq "wildcard --allow-wildcard: the key carries allow_wildcard" \
    '["*.example.net"] True' \
    "$($PY -c 'import json,sys; k=json.load(open(sys.argv[1]))["policies"]["dkim"]["sign"]["keys"][0]; print(json.dumps(k["from"]), k["allow_wildcard"])' "$T/wildcard/gw.json")"

# --- errors --------------------------------------------------------------
"$GW" import-opendkim "$T/none.conf" >/dev/null 2>&1
eq "a missing file: exit 66" 66 $?
"$GW" import-opendkim >/dev/null 2>&1
eq "no argument: exit 64" 64 $?
printf 'Domain example.com\nSelector s\nKeyFile %s/nokey.pem\n' "$T" > "$T/broken.conf"
"$GW" import-opendkim "$T/broken.conf" >/dev/null 2>"$T/broken.err"
eq "a key file that does not load: exit 65" 65 $?
eq "... and the loader's error names the key file" 1 \
    "$(grep -c 'nokey.pem' "$T/broken.err" | awk '{print ($1 > 0)}')"

t_done
