#!/bin/bash
# 21-ratelimit-redis - the same kind of limit on the Redis store (a
# redis-server started here, on this case's own port), checked at RCPT:
# 3 messages a minute (burst 3) per client address.  Three messages from
# one XCLIENT address are delivered; the 4th gets "451 4.7.1 <configured
# text>" for each of its recipients and never reaches the sink; another
# address still gets through.  The counter is in Redis, with a TTL, and
# `gatewarden limits show` from another process sees it exhausted.
. "$(dirname "$0")/lib.sh"
e2e_init
N=3
IP=203.0.113.50
TEXT="rate limit reached, try again in a minute"

e2e_redis_start
e2e_gw_conf "$E2E_DIR/gw.json" unix "{
  \"trusted\": {\"networks\": [\"127.0.0.0/8\", \"::1/128\"]},
  \"store\": {\"backend\": \"redis\", \"on_error\": \"tempfail\",
    \"redis\": {\"servers\": [\"127.0.0.1:$REDIS_PORT\"], \"prefix\": \"e2e21:\",
      \"connect_timeout_ms\": 500, \"command_timeout_ms\": 500}},
  \"policies\": {\"ratelimit\": {\"enabled\": true, \"limits\": [
    {\"name\": \"per_ip_rcpt\", \"key\": \"client_ip\", \"count\": \"messages\",
     \"rate\": \"$N/1m\", \"burst\": $N, \"stage\": \"rcpt\",
     \"action\": \"tempfail\", \"code\": \"451\", \"xcode\": \"4.7.1\",
     \"text\": \"$TEXT\"}
  ]}}
}"
e2e_check "configuration OK" sh -c '"$1" -n -c "$2" >/dev/null' sh "$GW" "$E2E_DIR/gw.json"
e2e_gw_start "$E2E_DIR/gw.json"
e2e_sink_start
e2e_postfix_start "$E2E_PF_MILTER"

# 1. N messages from one address: accepted at RCPT and delivered
for i in $(seq "$N"); do
	if e2e_send --xclient-addr "$IP" --header "X-Test-Id: e2e21-ok$i"; then
		e2e_ok "message $i of $N from $IP: accepted ($(e2e_reply .))"
	else
		e2e_fail "message $i of $N from $IP: accepted" "$(tail -5 "$E2E_SWAKS")"
	fi
done
for i in $(seq "$N"); do
	e2e_check "message $i of $N reached the sink" \
	    eval 'e2e_wait_sink "X-Test-Id: e2e21-ok$i" >/dev/null'
done

# 2. the (N+1)-th, to two recipients: MAIL accepted, each RCPT 451 4.7.1
if e2e_send --xclient-addr "$IP" --to a@dest.example,b@dest.example \
    --header "X-Test-Id: e2e21-over"; then
	e2e_fail "message $((N + 1)) refused" "$(tail -8 "$E2E_SWAKS")"
else
	e2e_ok "message $((N + 1)) refused"
fi
e2e_eq "message $((N + 1)): MAIL FROM accepted (the limit is checked at RCPT)" \
    250 "$(e2e_reply_code 'MAIL FROM')"
e2e_eq "message $((N + 1)): first RCPT answered with the configured reply" \
    "451 4.7.1 $TEXT" "$(e2e_reply 'RCPT TO:<a@dest.example>')"
e2e_eq "message $((N + 1)): second RCPT gets the same answer" \
    "451 4.7.1 $TEXT" "$(e2e_reply 'RCPT TO:<b@dest.example>')"
e2e_eq "message $((N + 1)): no DATA accepted" "" \
    "$(e2e_reply DATA | grep '^354')"
e2e_match "Postfix logs a milter-reject at RCPT for $IP" \
    "milter-reject: RCPT from [^ ]*\[$IP\]: 451 4\.7\.1 $TEXT" "$(e2e_maillog)"
e2e_match "gatewarden logs a tempfail decision at RCPT" \
    "tempfail: RCPT from [^ ]*\[$IP\]: 451 4\.7\.1 $TEXT; policy=ratelimit" \
    "$(e2e_gw_log)"

# 3. the counter lives in Redis, with a TTL, and other processes see it
pttl=$(redis-cli -p "$REDIS_PORT" pttl "e2e21:rl:per_ip_rcpt:$IP" 2>&1)
if [[ $pttl =~ ^[0-9]+$ ]] && [ "$pttl" -gt 0 ] && [ "$pttl" -le 60000 ]; then
	e2e_ok "Redis holds the counter with a TTL of at most a minute ($pttl ms)"
else
	e2e_fail "Redis holds the counter with a TTL" "pttl: $pttl"
fi
e2e_eq "gatewarden limits show (another process) sees the key exhausted" \
    "per_ip_rcpt $IP remaining=0/$N" \
    "$("$GW" limits show -c "$E2E_DIR/gw.json" --key "$IP" 2>&1 | cut -f1-3 | tr '\t' ' ')"
e2e_eq "gatewarden test on the same Redis is refused too" "tempfail rcpt 451" \
    "$("$GW" test -c "$E2E_DIR/gw.json" --ip "$IP" --from s@gw.example \
      --rcpt r@dest.example 2>/dev/null | /usr/bin/python3 -c '
import json, sys; d = json.load(sys.stdin)
print(d["verdict"], d["stage"], d["reply"]["code"])')"

# 4. another address is still accepted
if e2e_send --xclient-addr 203.0.113.51 --header "X-Test-Id: e2e21-other"; then
	e2e_ok "another address: accepted"
else
	e2e_fail "another address: accepted" "$(tail -5 "$E2E_SWAKS")"
fi
e2e_check "another address: delivered" \
    eval 'e2e_wait_sink "X-Test-Id: e2e21-other" >/dev/null'

# 5. the refused message never arrived
e2e_check "queue empty" e2e_settle
e2e_eq "the refused message never reached the sink" "" \
    "$(e2e_sink_grep 'X-Test-Id: e2e21-over')"
e2e_eq "sink holds exactly the $((N + 1)) accepted messages" $((N + 1)) \
    "$(e2e_sink_count)"

e2e_finish
