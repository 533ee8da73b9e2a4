#!/bin/bash
# 17-metrics - the metrics listener (docs/metrics.md) while a real Postfix
# drives mail through the milter: scrape /metrics, send five SMTP sessions
# (three delivered, one refused by a rule at MAIL, one tempfailed by a rate
# limit at MAIL), scrape again, and check that the stage and verdict
# counters moved by exactly what was sent, and by nothing else; promtool
# accepts both scrapes and /readyz answers 200.
. "$(dirname "$0")/lib.sh"
e2e_init
HTTP_PORT=$E2E_PORT_FREE
H=http://127.0.0.1:$HTTP_PORT
IP_A=203.0.113.71	# two messages, then over its limit
IP_B=198.51.100.71	# one message to two recipients
IP_C=192.0.2.71		# the blocked sender

e2e_gw_conf "$E2E_DIR/gw.json" unix "{
  \"metrics\": {\"listen\": \"127.0.0.1:$HTTP_PORT\"},
  \"store\": {\"backend\": \"memory\"},
  \"policies\": {
    \"rules\": {\"enabled\": true, \"rules\": [
      {\"name\": \"BLOCK_SENDER\", \"stage\": \"mail\",
       \"if\": {\"sender\": {\"is\": [\"spam@bad.example\"]}},
       \"action\": \"reject\", \"code\": 550, \"xcode\": \"5.7.1\",
       \"text\": \"sender blocked\"}]},
    \"ratelimit\": {\"enabled\": true, \"limits\": [
      {\"name\": \"per_ip\", \"key\": \"client_ip\", \"count\": \"messages\",
       \"rate\": \"2/1m\", \"burst\": 2, \"stage\": \"mail\",
       \"action\": \"tempfail\", \"code\": \"451\", \"xcode\": \"4.7.1\",
       \"text\": \"slow down\"}]}
  }
}"
e2e_gw_start "$E2E_DIR/gw.json"
e2e_sink_start
e2e_postfix_start "$E2E_PF_MILTER"

# http PATH OUT - GET $H/PATH into OUT, print the status (000: no answer)
http() {
	/usr/bin/python3 - "$H$1" "$2" <<'PY'
import sys, urllib.error, urllib.request
url, out = sys.argv[1:3]
try:
    r = urllib.request.urlopen(url, timeout=5)
    code, body = r.status, r.read()
except urllib.error.HTTPError as e:
    code, body = e.code, e.read()
except OSError:
    code, body = 0, b""
open(out, "wb").write(body)
print("%03d" % code)
PY
}

# moved BEFORE AFTER REGEX - "series delta" for every sample whose name
# matches REGEX and whose value differs between the two scrapes (a series
# absent before counts from 0), sorted
moved() {
	awk -v re="$3" '
		/^#/ || $1 !~ re { next }
		FNR == NR { was[$1] = $2; next }
		{ d = $2 - ($1 in was ? was[$1] : 0); if (d != 0) print $1, d }
	' "$1" "$2" | LC_ALL=C sort
}

# promcheck DESC FILE - promtool accepts the exposition without a remark
promcheck() {
	local st
	promtool check metrics <"$2" >"$E2E_DIR/promtool.log" 2>&1; st=$?
	if [ $st -eq 0 ] && [ ! -s "$E2E_DIR/promtool.log" ]; then
		e2e_ok "$1"
	else
		e2e_fail "$1" "exit $st" "$(head -5 "$E2E_DIR/promtool.log")"
	fi
}

healthy() { [ "$(http /healthz "$E2E_DIR/h.txt")" = 200 ]; }
e2e_poll 10 healthy ||
    e2e_die "metrics listener not answering on $HTTP_PORT"
# the start-up probe of Postfix's port was an SMTP session too (smtpd told
# the milter connect): wait until it is over, so the first scrape has it
sessions_over() {
	[ "$(e2e_maillog | grep -c 'smtpd.*: connect from')" = \
	    "$(e2e_maillog | grep -c 'smtpd.*: disconnect from')" ]
}
e2e_poll 10 sessions_over || e2e_die "Postfix's probe session did not end"
e2e_eq "/readyz 200" 200 "$(http /readyz "$E2E_DIR/ready.txt")"
e2e_eq "/readyz says ready" ready "$(cat "$E2E_DIR/ready.txt")"
e2e_eq "/metrics before: 200" 200 "$(http /metrics "$E2E_DIR/m0.txt")"
promcheck "promtool accepts the first scrape" "$E2E_DIR/m0.txt"

# 1. three messages delivered: two from A, one from B to two recipients
for i in 1 2; do
	if e2e_send --xclient-addr "$IP_A" --header "X-Test-Id: e2e17-a$i"; then
		e2e_ok "A message $i accepted"
	else
		e2e_fail "A message $i accepted" "$(tail -5 "$E2E_SWAKS")"
	fi
done
if e2e_send --xclient-addr "$IP_B" --to r1@dest.example,r2@dest.example \
    --header "X-Test-Id: e2e17-b"; then
	e2e_ok "B message to two recipients accepted"
else
	e2e_fail "B message to two recipients accepted" "$(tail -5 "$E2E_SWAKS")"
fi

# 2. the blocked sender: 550 from the rule at MAIL
e2e_send --xclient-addr "$IP_C" --from spam@bad.example \
    --header "X-Test-Id: e2e17-blocked"
e2e_eq "blocked sender: 550 at MAIL" "550 5.7.1 sender blocked" \
    "$(e2e_reply 'MAIL FROM')"

# 3. A's third message: over the limit, 451 at MAIL
e2e_send --xclient-addr "$IP_A" --header "X-Test-Id: e2e17-over"
e2e_eq "A's third message: 451 at MAIL" "451 4.7.1 slow down" \
    "$(e2e_reply 'MAIL FROM')"

for t in a1 a2 b; do
	e2e_check "e2e17-$t delivered" \
	    eval 'e2e_wait_sink "X-Test-Id: e2e17-$t" >/dev/null'
done
e2e_check "queue empty" e2e_settle
e2e_eq "sink holds the three accepted messages" 3 "$(e2e_sink_count)"

e2e_eq "/metrics after: 200" 200 "$(http /metrics "$E2E_DIR/m1.txt")"
promcheck "promtool accepts the second scrape" "$E2E_DIR/m1.txt"

# 4. the deltas.  Per SMTP session Postfix opens one milter connection and
# tells it connect and HELO again after XCLIENT (a new client identity), so
# five sessions are ten connects and ten HELOs.  MAIL: five; RCPT: A 1 + 1,
# B 2 (the two refused at MAIL send none); DATA and end of message: three.
e2e_eq "stage_reached moved by what was sent" \
    "$(printf '%s\n' \
	'gatewarden_stage_reached_total{stage="connect"} 10' \
	'gatewarden_stage_reached_total{stage="data"} 3' \
	'gatewarden_stage_reached_total{stage="eom"} 3' \
	'gatewarden_stage_reached_total{stage="helo"} 10' \
	'gatewarden_stage_reached_total{stage="mail"} 5' \
	'gatewarden_stage_reached_total{stage="rcpt"} 4')" \
    "$(moved "$E2E_DIR/m0.txt" "$E2E_DIR/m1.txt" '^gatewarden_stage_reached_total')"
e2e_eq "verdicts: one rule reject and one rate-limit tempfail at MAIL, nothing else" \
    "$(printf '%s\n' \
	'gatewarden_verdicts_total{stage="mail",verdict="reject",policy="rules",symbol="BLOCK_SENDER"} 1' \
	'gatewarden_verdicts_total{stage="mail",verdict="tempfail",policy="ratelimit",symbol="RATELIMIT_PER_IP"} 1')" \
    "$(moved "$E2E_DIR/m0.txt" "$E2E_DIR/m1.txt" '^gatewarden_verdicts_total')"
e2e_eq "ratelimit_hits: per_ip once" \
    'gatewarden_ratelimit_hits_total{rule="per_ip"} 1' \
    "$(moved "$E2E_DIR/m0.txt" "$E2E_DIR/m1.txt" '^gatewarden_ratelimit_hits_total')"
e2e_eq "no policy error, no core bound overflow" "" \
    "$(moved "$E2E_DIR/m0.txt" "$E2E_DIR/m1.txt" '^gatewarden_(policy_errors|limit_overflows)_total$')"
e2e_eq "MAIL timed once per message" \
    'gatewarden_stage_duration_seconds_count{stage="mail"} 5' \
    "$(moved "$E2E_DIR/m0.txt" "$E2E_DIR/m1.txt" '^gatewarden_stage_duration_seconds_count.stage="mail"')"
e2e_eq "/readyz still 200" 200 "$(http /readyz "$E2E_DIR/ready.txt")"

e2e_finish
