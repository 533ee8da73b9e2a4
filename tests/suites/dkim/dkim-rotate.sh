#!/bin/bash
# dkim-rotate - key rotation with `gatewarden keys` and
# sign.keys_dir, the key records served by the DNS test fixture
# (tests/dns/fixture.py, first free port of 29250-29299, zone switched
# over its control socket).  Each step signs a message with `gatewarden
# test` (a new configuration generation, as a SIGHUP reload makes one) and
# dkimpy verifies the signatures with the keys from the fixture:
#
#   rotate (rsa + ed25519) -> staged, not published: nothing signs
#   published               -> both sign (checked through the resolver)
#   retire                  -> active; still both
#   rotate (rsa)            -> staged; a wrong record: not used
#   published               -> three signatures (the overlap)
#   retire                  -> the old two retired: one signature
#   old records withdrawn   -> the new one still verifies, old mail fails
# then retire's refusals, `keys list`, and a running daemon that picks a
# newly published staged key up on SIGHUP.
# Ends "dkim-rotate: N passed, N failed".
cd "$(dirname "$0")/../../.." || exit 1
. tests/lib.sh
t_init dkim-rotate
PEERS=tests/interop/peers.py
K=$T/keys
D=rot.example
fxpid=""; gwpid=""

cleanup() { stop_pid "$gwpid" "$fxpid"; }
stop() { stop_pid "$1"; }
eq() { if [ "$2" = "$3" ]; then ok "$1"; else ko "$1" "expected: $2" "got:      $3"; fi; }
finish() { t_done; }
poll() {
	local n=$(( $1 * 20 )) i; shift
	for i in $(seq "$n"); do "$@" && return 0; sleep 0.05; done
	return 1
}

[ -x "$GW" ] || { ko "no binary at $GW"; finish; }
mkdir -p "$K"
chmod 700 "$K"

# record SEL - the TXT record of the key file of selector SEL
record() {
	local f=$K/$D.$1.pem
	if openssl pkey -in "$f" -noout -text 2>/dev/null | grep -q ED25519; then
		echo "v=DKIM1; k=ed25519; p=$(openssl pkey -in "$f" -pubout -outform DER | tail -c 32 | base64 -w0)"
	else
		echo "v=DKIM1; k=rsa; p=$(openssl pkey -in "$f" -pubout -outform DER | base64 -w0)"
	fi
}
# publish FILE [SEL=RECORD...] - fixture data with these key records
publish() {
	local out=$1; shift
	$PY - "$out" "$D" "$@" <<'PY'
import json, sys
out, dom = sys.argv[1:3]
zd = {dom: [{"A": "192.0.2.1"}]}
for a in sys.argv[3:]:
    sel, rec = a.split("=", 1)
    zd["%s._domainkey.%s" % (sel, dom)] = [
        {"TXT": [rec[i:i + 250] for i in range(0, len(rec), 250)]}]
json.dump({"zonedata": zd}, open(out, "w"))
PY
}
publish "$T/empty.json"

for port in $(seq 29250 29299); do
	$PY tests/dns/fixture.py --port "$port" --control "$T/ctl" \
	    "$T/empty.json" >"$T/fx.out" 2>"$T/fx.err" &
	fxpid=$!
	poll 10 eval '[ -s "$T/fx.out" ] || ! alive $fxpid'
	grep -q '"port"' "$T/fx.out" && break
	stop "$fxpid"; fxpid=""
done
[ -n "$fxpid" ] || { ko "DNS fixture did not start" "$(cat "$T/fx.err")"; finish; }
# load SEL... - serve the records of these selectors (and nothing else)
load() {
	local a=() s r
	for s in "$@"; do a+=("$s=$(record "$s")"); done
	publish "$T/zone.json" "${a[@]}"
	r=$($PY tests/dns/fixture.py --ctl "$T/ctl" load "$T/zone.json" 2>&1)
	case $r in ok*) ;; *) ko "fixture load: $r" ;; esac
}

cat > "$T/gw.json" <<JSON
{
  "milter": {"socket": "unix:$T/gw.sock"},
  "authserv_id": "mx.rot.example",
  "log": {"level": "info"},
  "dns": {"servers": ["127.0.0.1@$port"], "timeout_ms": 2000},
  "trusted": {"networks": ["192.0.2.0/24"]},
  "policies": {"dkim": {"enabled": true, "sign": {"keys_dir": "$K"}}}
}
JSON
printf 'From: a@%s\nTo: b@dest.example\nSubject: rotation\nDate: Mon, 23 Nov 2026 10:00:00 +0000\nMessage-ID: <rot@%s>\n\nA message to sign.\n' "$D" "$D" > "$T/m.eml"

n=0
# sign - sign m.eml with gatewarden test; $T/signed.N.eml, $sels (the s=
# of each signature, sorted, space-separated), $log (its stderr)
sign() {
	n=$((n + 1))
	"$GW" test -c "$T/gw.json" --ip 192.0.2.5 --from "a@$D" \
	    --rcpt b@dest.example "$T/m.eml" >"$T/out.$n.json" 2>"$T/log.$n"
	log=$(cat "$T/log.$n")
	$PY - "$T/out.$n.json" "$T/m.eml" > "$T/signed.$n.eml" <<'PY'
import json, sys
out = json.load(open(sys.argv[1]))
hdr = "".join("DKIM-Signature: %s\n" % h["value"]
              for h in out.get("headers", {}).get("add", [])
              if h["name"] == "DKIM-Signature")
sys.stdout.write(hdr + open(sys.argv[2]).read())
PY
	sels=$(grep -oE '(^|[;[:space:]])s=[^;]*;' "$T/signed.$n.eml" |
	    sed -E 's/^[;[:space:]]*s=//; s/;$//' | sort | tr '\n' ' ' | sed 's/ $//')
}
# verify FILE - dkimpy's verdict per signature, sorted
verify() {
	$PY "$PEERS" dkimpy-verify-dns "$port" "$1" 2>&1 | tail -1 | tr ',' '\n' | sort | tr '\n' ',' | sed 's/,$//'
}
# rotate ARGS - `keys rotate`; the new selectors in $new
rotate() {
	"$GW" keys rotate --dir "$K" --domain "$D" --group "$(id -gn)" "$@" >"$T/rotate.out" 2>&1
	rc=$?
	new=$(sed -n "s/^staged: \([^.]*\)\._domainkey\.$D .*/\1/p" "$T/rotate.out" | tr '\n' ' ' | sed 's/ $//')
}
state() { $PY -c 'import json,sys; print(" ".join("%s=%s" % (k["selector"], k["state"]) for k in json.load(open(sys.argv[1]))["keys"]))' "$K/keys.json"; }

# 1. rotate: two staged keys, not published yet
rotate --algorithm both
eq "rotate both: exit 0" 0 "$rc"
set -- $new
R1=${1:-none} E1=${2:-none}
eq "rotate both: an rsa and an ed25519 selector" "2" "$(echo "$new" | wc -w)"
eq "rotate prints the TXT records to publish" 2 "$(grep -c '_domainkey' "$T/rotate.out" | awk '{print ($1 >= 2) ? 2 : $1}')"
eq "state file: both staged" "$R1=staged $E1=staged" "$(state)"
eq "key files are mode 0640 (--group)" "640 640" "$(stat -c %a "$K/$D.$R1.pem" "$K/$D.$E1.pem" | tr '\n' ' ' | sed 's/ $//')"
sign
eq "staged, not published: not signed" "" "$sels"
case $log in *"staged key $R1._domainkey.$D not published: not signing with it yet"*) ok "staged, not published: logged" ;;
*) ko "staged, not published: logged" "$log" ;; esac

# 2. published: both sign, dkimpy verifies
load "$R1" "$E1"
sign
eq "staged and published: both sign" "$(printf '%s\n' "$R1" "$E1" | sort | tr '\n' ' ' | sed 's/ $//')" "$sels"
eq "staged and published: dkimpy verifies both" "pass,pass" "$(verify "$T/signed.$n.eml")"
case $log in *"staged key $R1._domainkey.$D is published and matches: signing with it"*) ok "the DNS check is logged" ;;
*) ko "the DNS check is logged" "$log" ;; esac

# 3. retire: nothing active yet, both become active
"$GW" keys retire --dir "$K" --domain "$D" -c "$T/gw.json" >"$T/retire.out" 2>&1
eq "first retire: exit 0" 0 $?
eq "state file: both active" "$R1=active $E1=active" "$(state)"
sign
eq "active: both sign" "pass,pass" "$(verify "$T/signed.$n.eml")"

# 4. rotate rsa: staged; a wrong record under its name is not used
rotate --algorithm rsa-sha256
R2=${new:-none}
eq "rotate rsa: one new selector" 1 "$(echo "$new" | wc -w)"
cp "$K/$D.$R1.pem" "$T/r1.pem"
publish "$T/zone.json" "$R1=$(record "$R1")" "$E1=$(record "$E1")" "$R2=$(record "$R1")"
$PY tests/dns/fixture.py --ctl "$T/ctl" load "$T/zone.json" >/dev/null 2>&1
sign
eq "staged key with another key's record: not used" "$(printf '%s\n' "$R1" "$E1" | sort | tr '\n' ' ' | sed 's/ $//')" "$sels"
case $log in *"staged key $R2._domainkey.$D"*"not signing with it yet"*) ok "the mismatch is logged" ;;
*) ko "the mismatch is logged" "$log" ;; esac
"$GW" keys retire --dir "$K" --domain "$D" -c "$T/gw.json" >"$T/retire.out" 2>&1
eq "retire while the staged key's record is wrong: exit 65" 65 $?
eq "... and nothing changed" "$R1=active $E1=active $R2=staged" "$(state)"

# 5. published: the overlap, three signatures
load "$R1" "$E1" "$R2"
sign
overlap=$n
eq "overlap: old rsa, old ed25519 and new rsa sign" "$(printf '%s\n' "$R1" "$E1" "$R2" | sort | tr '\n' ' ' | sed 's/ $//')" "$sels"
eq "overlap: dkimpy verifies all three" "pass,pass,pass" "$(verify "$T/signed.$n.eml")"
"$GW" keys list --dir "$K" -c "$T/gw.json" >"$T/list.out" 2>&1
eq "keys list: exit 0" 0 $?
eq "keys list: the staged key, published" 1 \
    "$(grep -cE "^$D +$R2 +rsa-sha256 +staged +published, matches +0d$" "$T/list.out")"

# 6. retire: the old two out, the new one alone
"$GW" keys retire --dir "$K" --domain "$D" -c "$T/gw.json" >"$T/retire.out" 2>&1
eq "retire: exit 0" 0 $?
eq "state file: old retired, new active" "$R1=retired $E1=retired $R2=active" "$(state)"
eq "retire prints which records to remove" 2 "$(grep -c 'remove its TXT record' "$T/retire.out")"
sign
eq "after retire: only the new key signs" "$R2" "$sels"
eq "after retire: dkimpy verifies it" "pass" "$(verify "$T/signed.$n.eml")"

# 7. the old records withdrawn
load "$R2"
sign
eq "old records withdrawn: the new signature verifies" "pass" "$(verify "$T/signed.$n.eml")"
eq "old records withdrawn: mail signed in the overlap keeps one good signature" \
    "fail,fail,pass" "$(verify "$T/signed.$overlap.eml")"
"$GW" keys retire --dir "$K" --domain "$D" -c "$T/gw.json" >"$T/retire.out" 2>&1
eq "retire with nothing staged: exit 65" 65 $?
"$GW" keys list --dir "$K" -c "$T/gw.json" >"$T/list.out" 2>&1
eq "keys list: a retired key whose record is gone" 1 \
    "$(grep -cE "^$D +$R1 +rsa-sha256 +retired +not published +0d$" "$T/list.out")"
"$GW" keys rotate --dir "$K" >/dev/null 2>&1
eq "rotate without --domain: exit 64" 64 $?

# 8. a running daemon picks a staged key up on SIGHUP
"$GW" -f -c "$T/gw.json" >"$T/daemon.log" 2>&1 &
gwpid=$!
poll 10 eval '[ -S "$T/gw.sock" ] || ! alive $gwpid'
rotate --algorithm ed25519-sha256
E2=${new:-none}
load "$R2" "$E2"
kill -HUP "$gwpid"
if poll 10 grep -q "staged key $E2._domainkey.$D is published and matches: signing with it" "$T/daemon.log"; then
	ok "SIGHUP: the daemon re-reads the state file and checks the staged key"
else
	ko "SIGHUP: the daemon re-reads the state file and checks the staged key" "$(tail -5 "$T/daemon.log")"
fi
alive "$gwpid" && ok "SIGHUP: the daemon still runs" || ko "SIGHUP: the daemon still runs"
stop "$gwpid"; gwpid=""

finish
