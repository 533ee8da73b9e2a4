#!/bin/bash
# dkim-checkdns.sh - dkim.sign.check_dns when a configuration
# generation goes live: the key records come from the DNS test fixture
# (tests/dns/fixture.py, first free port of 29150-29199, zone switched over
# its control socket), the generation is `gatewarden test` or the daemon.
#
#  - refuse + published key: gatewarden test signs;
#  - refuse + no record / another key / revoked: gatewarden test and the
#    daemon refuse to start, naming the key; warn: they go on, and log it;
#  - a running daemon (refuse) whose record changes: SIGHUP is refused and
#    the running generation stays; fixed again: the reload goes through.
# Ends "dkim-checkdns: N passed, N failed".
cd "$(dirname "$0")/../../.." || exit 1
. tests/lib.sh
t_init dkim-checkdns
fxpid=""; gwpid=""
cleanup() {
	stop_pid $gwpid $fxpid
}
# poll S CMD... - every 50 ms until CMD succeeds or S seconds pass
poll() {
	local n=$(( $1 * 20 )) i; shift
	for i in $(seq "$n"); do "$@" && return 0; sleep 0.05; done
	return 1
}

t_built "$GW"

# keys: the one configured (ed25519) and another one
umask 077
openssl genpkey -algorithm ED25519 -out "$T/ed.pem" 2>/dev/null
openssl genpkey -algorithm ED25519 -out "$T/other.pem" 2>/dev/null
umask 022
pub() { openssl pkey -in "$1" -pubout -outform DER | tail -c 32 | base64 -w0; }
NAME=s1._domainkey.gw.example
# zone FILE [TXT] - the fixture's data: NAME with TXT, or nothing
zone() {
	$PY - "$1" "$NAME" "${2:-}" <<'PY'
import json, sys
out, name, txt = sys.argv[1:4]
zd = {"gw.example": [{"A": "192.0.2.1"}]}
if txt:
    zd[name] = [{"TXT": txt}]
json.dump({"zonedata": zd}, open(out, "w"))
PY
}
zone "$T/good.json" "v=DKIM1; k=ed25519; p=$(pub "$T/ed.pem")"
zone "$T/other.json" "v=DKIM1; k=ed25519; p=$(pub "$T/other.pem")"
zone "$T/revoked.json" "v=DKIM1; k=ed25519; p="
zone "$T/none.json"

for port in $(seq 29150 29199); do
	$PY tests/dns/fixture.py --port "$port" --control "$T/ctl" \
	    "$T/good.json" >"$T/fx.out" 2>"$T/fx.err" &
	fxpid=$!
	poll 10 eval '[ -s "$T/fx.out" ] || ! alive $fxpid'
	grep -q '"port"' "$T/fx.out" && break
	stop_pid "$fxpid"; fxpid=""
done
[ -n "$fxpid" ] || { ko "DNS fixture did not start" "$(cat "$T/fx.err")"; t_done; }
load() {
	local r
	r=$($PY tests/dns/fixture.py --ctl "$T/ctl" load "$1" 2>&1)
	case $r in ok*) ;; *) ko "fixture load $1: $r" ;; esac
}

# conf FILE MODE - signing config for gw.example with check_dns MODE
conf() {
	cat > "$1" <<JSON
{
  "milter": {"socket": "unix:$T/gw.sock"},
  "authserv_id": "mx.gw.example",
  "log": {"level": "info"},
  "dns": {"servers": ["127.0.0.1@$port"], "timeout_ms": 2000},
  "trusted": {"networks": ["192.0.2.0/24"]},
  "policies": {"dkim": {"enabled": true, "sign": {
    "check_dns": "$2",
    "keys": [{"domain": "gw.example", "selector": "s1",
              "key_file": "$T/ed.pem", "algorithm": "ed25519-sha256"}]}}}
}
JSON
}
conf "$T/refuse.json" refuse
conf "$T/warn.json" warn
printf 'From: a@gw.example\nTo: b@dest.example\nSubject: check_dns\n\nbody\n' > "$T/m.eml"

# gwtest CONF - gatewarden test from a trusted address; sets out, rc
gwtest() {
	out=$("$GW" test -c "$1" --ip 192.0.2.5 --from a@gw.example \
	    --rcpt b@dest.example "$T/m.eml" 2>&1)
	rc=$?
}
signed() { printf '%s\n' "$out" | grep -q '"name": "DKIM-Signature"'; }

# 1. gatewarden test
load "$T/good.json"
gwtest "$T/refuse.json"
if [ $rc -eq 0 ] && signed; then ok "refuse, key published: gatewarden test signs"
else ko "refuse, key published: gatewarden test signs" "exit $rc" "$(printf '%s\n' "$out" | tail -5)"; fi
if printf '%s\n' "$out" | grep -q "check_dns: $NAME matches"; then ok "refuse, key published: the match is logged"
else ko "refuse, key published: the match is logged" "$(printf '%s\n' "$out" | grep -i dkim | head -3)"; fi

for z in none other revoked; do
	case $z in
	none) why="no key record published" ;;
	other) why="the published public key differs from the private key" ;;
	revoked) why="the published key is revoked" ;;
	esac
	load "$T/$z.json"
	gwtest "$T/refuse.json"
	if [ $rc -ne 0 ] && printf '%s\n' "$out" | grep -q "policy dkim: check_dns: $NAME (ed25519-sha256 $T/ed.pem): $why"; then
		ok "refuse, $z: gatewarden test refuses the configuration, naming the key"
	else
		ko "refuse, $z: gatewarden test refuses the configuration" "exit $rc" "$(printf '%s\n' "$out" | tail -3)"
	fi
	gwtest "$T/warn.json"
	if [ $rc -eq 0 ] && signed && printf '%s\n' "$out" | grep -q "warning.*check_dns: $NAME .*$why"; then
		ok "warn, $z: gatewarden test signs and logs a warning"
	else
		ko "warn, $z: gatewarden test signs and logs a warning" "exit $rc" "$(printf '%s\n' "$out" | grep -v '^ ' | tail -3)"
	fi
done

# 2. the daemon refuses to start
load "$T/none.json"
timeout 20 "$GW" -f -c "$T/refuse.json" </dev/null >"$T/start.log" 2>&1
rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "check_dns: $NAME.*no key record published" "$T/start.log" && [ ! -S "$T/gw.sock" ]; then
	ok "daemon, refuse, no record: does not start (exit $rc), says why"
else
	ko "daemon, refuse, no record: does not start" "exit $rc" "$(tail -3 "$T/start.log")"
fi

# 3. reload of a running daemon
load "$T/good.json"
"$GW" -f -c "$T/refuse.json" </dev/null >"$T/gw.log" 2>&1 &
gwpid=$!
if poll 20 eval '[ -S "$T/gw.sock" ] || ! alive $gwpid' && alive "$gwpid"; then
	ok "daemon, refuse, key published: starts"
	load "$T/other.json"
	kill -HUP "$gwpid"
	if poll 20 grep -q "reload: policy dkim: check_dns: $NAME.*differs.*keeping the running configuration" "$T/gw.log" &&
	    alive "$gwpid"; then
		ok "daemon: reload with another key published is refused, the daemon runs on"
	else
		ko "daemon: reload refused" "$(tail -3 "$T/gw.log")"
	fi
	load "$T/good.json"
	kill -HUP "$gwpid"
	if poll 20 grep -q "reload: configuration .* loaded" "$T/gw.log"; then
		ok "daemon: reload with the key published again goes through"
	else
		ko "daemon: reload goes through" "$(tail -3 "$T/gw.log")"
	fi
else
	ko "daemon, refuse, key published: starts" "$(tail -5 "$T/gw.log")"
fi
stop_pid "$gwpid"
t_done
