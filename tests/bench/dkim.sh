#!/bin/bash
# dkim.sh - DKIM signing figures for `make bench` (run by tests/bench/run.sh;
# alone: BUILD=build/x BENCH_BIN=build/x/bench bash tests/bench/dkim.sh).
#
#  (a) milterload -> gatewarden signing every message (internal client
#      192.0.2.1, From load.example) with one rsa-2048 key, then with one
#      ed25519 key, unix socket: msgs/s, against `openssl speed -seconds 3`
#      sign/s for the same key type on the same machine (one core, as
#      reported by openssl; the milter and the load share the 2 cores);
#      gatewarden without policies on the same load for reference.
#  (b) one private Postfix, smtp-source -s 10 -m N into smtp-sink, one smtpd
#      listener per milter: none, gatewarden signing (rsa-2048, unix) and
#      the Debian opendkim milter signing the same messages with the same
#      key (unix), in the same run: msgs/s and the ratios.
# Knobs: BENCH_DKIM_MSGS (5000), BENCH_SESSIONS (10), BENCH_DKIM_PF_MSGS
# (2000), BENCH_PF_SESSIONS (10).  Ports: a free block of 20 in
# 32000-32759, like run.sh.
cd "$(dirname "$0")/../.." || exit 1
: "${BUILD:=build}"
: "${GW:=$PWD/$BUILD/gatewarden}"
: "${BENCH_BIN:=$PWD/$BUILD/bench}"
MSGS=${BENCH_DKIM_MSGS:-5000}
SESSIONS=${BENCH_SESSIONS:-10}
PF_MSGS=${BENCH_DKIM_PF_MSGS:-2000}
PF_SESSIONS=${BENCH_PF_SESSIONS:-10}

for b in "$GW" "$BENCH_BIN/milterload"; do
	[ -x "$b" ] || { echo "bench dkim: $b missing"; exit 1; }
done
command -v opendkim >/dev/null || { echo "bench dkim: opendkim not installed"; exit 1; }

# shellcheck source=../e2e/lib.sh
. tests/e2e/lib.sh
E2E_PORT_BASE=$(free_port 32000 32759 $$ 20) ||
    { echo "bench dkim: no 20 free ports in 32000-32759"; exit 1; }
export E2E_PORT_BASE E2E_SINK_DISCARD=1
e2e_init 0
E2E_NAME=bench-dkim
say() { printf '%s\n' "$*"; }
field() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

# keys: rsa-2048 and ed25519 for load.example (milterload's From) and
# x.example (smtp-source's)
K=$E2E_DIR/keys
mkdir -m 700 "$K"
for k in "load.example rsa rsa-sha256" "load.example ed ed25519-sha256"; do
	set -- $k
	"$GW" keygen --domain "$1" --selector "$2" --algorithm "$3" --out "$K" \
	    --group "$(id -gn)" \
	    >/dev/null 2>"$E2E_DIR/keygen.log" || e2e_die "keygen $k: $(cat "$E2E_DIR/keygen.log")"
done
cp -p "$K/load.example.rsa.pem" "$K/x.example.rsa.pem"	# the same RSA key

# gwconf NAME SOCKET KEYS_JSON - a signing config
gwconf() {
	cat > "$E2E_DIR/$1.json" <<JSON
{"milter": {"socket": "$2"}, "authserv_id": "mx.gw.test",
 "log": {"level": "warning"},
 "trusted": {"networks": ["192.0.2.0/24", "127.0.0.0/8"]},
 "policies": {"dkim": {"enabled": true, "sign": {"keys": $3}}}}
JSON
}
# gwstart NAME - start it, wait for its socket; sets its PID in P_NAME
gwstart() {
	"$GW" -f -c "$E2E_DIR/$1.json" </dev/null >"$E2E_DIR/$1.log" 2>&1 &
	e2e_track "gw-$1" $!
	eval "P_$1=$!"
	e2e_poll 20 test -S "$E2E_DIR/$1.sock" || e2e_die "gatewarden $1 did not start: $(tail -3 "$E2E_DIR/$1.log")"
	chmod 666 "$E2E_DIR/$1.sock"
}
key() { printf '{"domain": "%s", "selector": "%s", "algorithm": "%s", "key_file": "%s"}' "$1" "$2" "$3" "$K/$1.$2.pem"; }
gwconf rsa "unix:$E2E_DIR/rsa.sock" "[$(key load.example rsa rsa-sha256), $(key x.example rsa rsa-sha256)]"
gwconf ed "unix:$E2E_DIR/ed.sock" "[$(key load.example ed ed25519-sha256)]"
cat > "$E2E_DIR/null.json" <<JSON
{"milter": {"socket": "unix:$E2E_DIR/null.sock"}, "authserv_id": "mx.gw.test",
 "log": {"level": "warning"}, "policies": {}}
JSON
gwstart rsa
gwstart ed
gwstart null

# opendkim signing x.example with the same RSA key
cat > "$E2E_DIR/opendkim.conf" <<EOF
Syslog no
Background no
UMask 000
PidFile $E2E_DIR/opendkim.pid
Socket local:$E2E_DIR/opendkim.sock
Mode s
Domain x.example
Selector rsa
KeyFile $K/x.example.rsa.pem
SignatureAlgorithm rsa-sha256
Canonicalization relaxed/relaxed
InternalHosts 127.0.0.0/8,192.0.2.0/24
RequireSafeKeys no
EOF
opendkim -f -x "$E2E_DIR/opendkim.conf" </dev/null >"$E2E_DIR/opendkim.log" 2>&1 &
e2e_track opendkim $!
e2e_poll 20 test -S "$E2E_DIR/opendkim.sock" || e2e_die "opendkim did not start: $(tail -3 "$E2E_DIR/opendkim.log")"

# the message of (b), and proof that both milters sign it
{
	printf 'From: Sender <a@x.example>\nTo: b@y.example\nSubject: bench\n'
	printf 'Date: Mon, 23 Nov 2026 10:00:00 +0000\nMessage-ID: <bench@x.example>\n\n'
	for i in $(seq 30); do printf 'line %02d of the benchmark message body, about sixty-six bytes\n' "$i"; done
} > "$E2E_DIR/msg.eml"
for m in "rsa:gatewarden" "opendkim:opendkim"; do
	out=$(miltertest -D sock="unix:$E2E_DIR/${m%%:*}.sock" -D msg="$E2E_DIR/msg.eml" \
	    -D ip=127.0.0.1 -s tests/interop/milter-msg.lua 2>&1)
	printf '%s\n' "$out" | grep -q '^SIG .*a=rsa-sha256;.*d=x.example' ||
	    e2e_die "${m#*:} does not sign the bench message: $(printf '%s\n' "$out" | tail -3)"
done

# One Postfix, one smtpd listener per milter, all bound before any load
# runs (the ports lie in the kernel's ephemeral range; see run.sh)
LISTEN=(
	"none - none $SMTP_PORT"
	"gatewarden unix unix:$E2E_DIR/rsa.sock $((E2E_BASE + 6))"
	"opendkim unix unix:$E2E_DIR/opendkim.sock $((E2E_BASE + 7))"
)
E2E_POSTFIX_MASTER_EXTRA=""
for t in "${LISTEN[@]:1}"; do
	set -- $t
	E2E_POSTFIX_MASTER_EXTRA+="127.0.0.1:$4 inet n - n - - smtpd -o smtpd_milters=$3"$'\n'
done
e2e_sink_start
e2e_postfix_start none
for t in "${LISTEN[@]}"; do
	set -- $t
	e2e_poll 10 e2e_tcp_open 127.0.0.1 "$4" || e2e_die "no smtpd on $4"
done

# --- (a) ---------------------------------------------------------------------
say ""
say "== (a) milterload: $SESSIONS sessions, $MSGS messages (1 per connection, internal client, 2 KB body), gatewarden signing on a unix socket"
speed() {	# speed ALG - openssl's sign/s, one core
	openssl speed -seconds 3 "$1" 2>/dev/null | awk -v a="$1" '
		a == "rsa2048" && $1 == "rsa" && $2 == "2048" { print $(NF - 1) }
		a == "ed25519" && /Ed25519/ { print $(NF - 1) }'
}
declare -A RATE SPEED
for alg in null rsa ed; do
	"$BENCH_BIN/milterload" -s "unix:$E2E_DIR/$alg.sock" -c "$SESSIONS" -m 300 -q -l warmup >/dev/null 2>&1
	out=$("$BENCH_BIN/milterload" -s "unix:$E2E_DIR/$alg.sock" -c "$SESSIONS" -m "$MSGS" -q -l "sign-$alg" 2>&1)
	r=$(printf '%s\n' "$out" | grep '^RESULT')
	[ "$(field "$r" errors)" = 0 ] || say "   (milterload errors for $alg: $(field "$r" errors))"
	RATE[$alg]=$(field "$r" rate)
done
SPEED[rsa]=$(speed rsa2048)
SPEED[ed]=$(speed ed25519)
printf '%-26s %-8s %12s %16s %10s\n' "signing key" transport "msgs/s" "openssl sign/s" ratio
printf '%-26s %-8s %12s %16s %10s\n' "none (no policies)" unix "${RATE[null]}" - -
printf '%-26s %-8s %12s %16s %10s\n' "rsa-2048 (rsa-sha256)" unix "${RATE[rsa]}" "${SPEED[rsa]}" "$(ratio "${RATE[rsa]}" "${SPEED[rsa]}")"
printf '%-26s %-8s %12s %16s %10s\n' "ed25519 (ed25519-sha256)" unix "${RATE[ed]}" "${SPEED[ed]}" "$(ratio "${RATE[ed]}" "${SPEED[ed]}")"

# --- (b) ---------------------------------------------------------------------
delivered() { awk '/status=sent/ { n++ } END { print n + 0 }' "$PF_LOG" 2>/dev/null; }
say ""
say "== (b) smtp-source -s $PF_SESSIONS -m $PF_MSGS -> private Postfix -> smtp-sink; milters sign rsa-2048 relaxed/relaxed with the same key"
declare -A PF
for t in "${LISTEN[@]}"; do
	set -- $t
	smtp-source -s "$PF_SESSIONS" -m 200 -F "$E2E_DIR/msg.eml" -f a@x.example \
	    -t b@y.example 127.0.0.1:"$4" >/dev/null 2>&1
	e2e_settle 60
	d0=$(delivered)
	s=$(date +%s%N)
	smtp-source -s "$PF_SESSIONS" -m "$PF_MSGS" -F "$E2E_DIR/msg.eml" -f a@x.example \
	    -t b@y.example 127.0.0.1:"$4" >"$E2E_DIR/smtp-source.log" 2>&1
	rc=$?
	e=$(date +%s%N)
	e2e_settle 120
	PF[$1]="rate=$(awk -v n="$PF_MSGS" -v ns=$((e - s)) 'BEGIN { printf "%.1f", n / (ns / 1e9) }') delivered=$(( $(delivered) - d0 )) rc=$rc"
done
printf '%-12s %-10s %10s %10s %12s\n' milter transport msgs/s "vs none" delivered
for k in none gatewarden opendkim; do
	r=${PF[$k]}
	printf '%-12s %-10s %10s %10s %12s\n' "$k" "$([ $k = none ] && echo - || echo unix)" \
	    "$(field "$r" rate)" "$(ratio "$(field "$r" rate)" "$(field "${PF[none]}" rate)")" \
	    "$(field "$r" delivered)/$PF_MSGS"
	[ "$(field "$r" rc)" = 0 ] || say "   (smtp-source exited $(field "$r" rc) for $k)"
done
say ""
say "gatewarden/opendkim signing throughput through Postfix: $(ratio "$(field "${PF[gatewarden]}" rate)" "$(field "${PF[opendkim]}" rate)")"
exit 0
