#!/bin/bash
# 20-ratelimit-memory - a rate limit on the memory store through Postfix:
# 3 messages a minute (burst 3) per client address, checked at MAIL.  Three
# messages from one XCLIENT address are delivered, the 4th is answered
# "451 4.7.1 <configured text>" to MAIL FROM and never reaches the sink;
# another address, and a trusted (loopback) client, still get through.
. "$(dirname "$0")/lib.sh"
e2e_init
N=3
IP=203.0.113.40
TEXT="too many messages from your address, slow down"

e2e_gw_conf "$E2E_DIR/gw.json" unix "{
  \"trusted\": {\"networks\": [\"127.0.0.0/8\", \"::1/128\"]},
  \"store\": {\"backend\": \"memory\"},
  \"policies\": {\"ratelimit\": {\"enabled\": true, \"limits\": [
    {\"name\": \"per_ip\", \"key\": \"client_ip\", \"count\": \"messages\",
     \"rate\": \"$N/1m\", \"burst\": $N, \"stage\": \"mail\",
     \"action\": \"tempfail\", \"code\": \"451\", \"xcode\": \"4.7.1\",
     \"text\": \"$TEXT\"}
  ]}}
}"
e2e_check "configuration OK" sh -c '"$1" -n -c "$2" >/dev/null' sh "$GW" "$E2E_DIR/gw.json"
e2e_gw_start "$E2E_DIR/gw.json"
e2e_sink_start
e2e_postfix_start "$E2E_PF_MILTER"

# 1. N messages from one address: each accepted and delivered
for i in $(seq "$N"); do
	if e2e_send --xclient-addr "$IP" --header "X-Test-Id: e2e20-ok$i"; then
		e2e_ok "message $i of $N from $IP: accepted ($(e2e_reply .))"
	else
		e2e_fail "message $i of $N from $IP: accepted" "$(tail -5 "$E2E_SWAKS")"
	fi
done
for i in $(seq "$N"); do
	e2e_check "message $i of $N reached the sink" \
	    eval 'e2e_wait_sink "X-Test-Id: e2e20-ok$i" >/dev/null'
done

# 2. the (N+1)-th from the same address: 451 4.7.1 at MAIL FROM
if e2e_send --xclient-addr "$IP" --header "X-Test-Id: e2e20-over"; then
	e2e_fail "message $((N + 1)) refused" "$(tail -8 "$E2E_SWAKS")"
else
	e2e_ok "message $((N + 1)) refused"
fi
e2e_eq "message $((N + 1)): XCLIENT accepted" 220 "$(e2e_reply_code XCLIENT)"
e2e_eq "message $((N + 1)): MAIL FROM answered with the configured reply" \
    "451 4.7.1 $TEXT" "$(e2e_reply 'MAIL FROM')"
e2e_eq "message $((N + 1)): no RCPT TO after the refused MAIL" "" \
    "$(grep -E '^ *[-~*]> RCPT TO' "$E2E_SWAKS")"
e2e_match "Postfix logs a milter-reject at MAIL for $IP" \
    "milter-reject: MAIL from [^ ]*\[$IP\]: 451 4\.7\.1 $TEXT" "$(e2e_maillog)"
e2e_match "gatewarden logs the limit with the key" \
    "ratelimit: limit per_ip exceeded: key=$IP " "$(e2e_gw_log)"
e2e_match "gatewarden logs one tempfail decision at MAIL" \
    "tempfail: MAIL from [^ ]*\[$IP\]: 451 4\.7\.1 $TEXT; policy=ratelimit" \
    "$(e2e_gw_log)"

# 3. another address, and a trusted client, are still accepted
if e2e_send --xclient-addr 203.0.113.41 --header "X-Test-Id: e2e20-other"; then
	e2e_ok "another address: accepted"
else
	e2e_fail "another address: accepted" "$(tail -5 "$E2E_SWAKS")"
fi
if e2e_send --header "X-Test-Id: e2e20-trusted"; then
	e2e_ok "trusted loopback client: accepted"
else
	e2e_fail "trusted loopback client: accepted" "$(tail -5 "$E2E_SWAKS")"
fi
e2e_check "another address: delivered" \
    eval 'e2e_wait_sink "X-Test-Id: e2e20-other" >/dev/null'
e2e_check "trusted client: delivered" \
    eval 'e2e_wait_sink "X-Test-Id: e2e20-trusted" >/dev/null'

# 4. the refused message never arrived
e2e_check "queue empty" e2e_settle
e2e_eq "the refused message never reached the sink" "" \
    "$(e2e_sink_grep 'X-Test-Id: e2e20-over')"
e2e_eq "sink holds exactly the $((N + 2)) accepted messages" $((N + 2)) \
    "$(e2e_sink_count)"
e2e_eq "exactly one refusal logged" 1 \
    "$(e2e_gw_log | grep -c "tempfail: MAIL from .*policy=ratelimit")"

e2e_finish
