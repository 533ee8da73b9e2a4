#!/bin/bash
# 13-spf-dns-down - SPF when the DNS server goes away: with NSD up a sender
# passes; once NSD is stopped (by PID), a sender domain not in the cache
# gets 451 4.4.3 at MAIL FROM, well inside dns.timeout_ms + 2 s (far below
# Postfix's milter_command_timeout of 10 s here), and nothing reaches the
# sink; a domain already in the resolver's cache still passes.
. "$(dirname "$0")/lib.sh"
e2e_init
TIMEOUT_MS=2000

cat > "$E2E_DIR/spf.test.zone" <<'EOF'
$ORIGIN spf.test.
$TTL 300
@	IN SOA ns hostmaster 1 3600 600 86400 60
@	IN NS ns
ns	IN A 127.0.0.1
mta	IN TXT "v=spf1 ip4:203.0.113.0/24 -all"
pass	IN TXT "v=spf1 ip4:203.0.113.0/24 -all"
later	IN TXT "v=spf1 ip4:203.0.113.0/24 -all"
EOF
e2e_dns_start spf.test "$E2E_DIR/spf.test.zone"

e2e_gw_conf "$E2E_DIR/gw.json" unix "{
  \"dns\": {\"servers\": [\"127.0.0.1@$DNS_PORT\"], \"timeout_ms\": $TIMEOUT_MS},
  \"policies\": {\"spf\": {\"enabled\": true}}
}"
e2e_gw_start "$E2E_DIR/gw.json"
e2e_sink_start
e2e_postfix_start "$E2E_PF_MILTER"

SEND=(--helo mta.spf.test --xclient-addr 203.0.113.9)

# 1. DNS up: a pass (this also puts mta.spf.test and pass.spf.test in the cache)
e2e_send "${SEND[@]}" --from a@pass.spf.test --header "X-Test-Id: e2e13-up"
e2e_eq "DNS up: MAIL FROM accepted" 250 "$(e2e_reply_code 'MAIL FROM')"
if f=$(e2e_wait_sink "X-Test-Id: e2e13-up"); then
	e2e_match "DNS up: spf=pass in our A-R" \
	    'spf=pass smtp\.mailfrom=a@pass\.spf\.test' \
	    "$(e2e_header_lines "$f" | grep "^Authentication-Results: *$E2E_AUTHSERV_ID;")"
else
	e2e_fail "DNS up: delivered"
fi

# 2. stop the DNS server
ns_pid=$DNS_PID
e2e_check "NSD stopped by PID $ns_pid and nothing answers on $DNS_PORT" e2e_dns_stop
e2e_check "NSD ($ns_pid) is gone" eval '! e2e_alive "$ns_pid"'

# 3. a domain not in the cache: temporary failure at MAIL FROM, in time.
# The whole SMTP session is timed, so the MAIL reply came sooner still.
t0=$(date +%s%N)
e2e_send "${SEND[@]}" --from a@later.spf.test --header "X-Test-Id: e2e13-down"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
e2e_match "DNS down: MAIL FROM answered 451 4.4.3" '^451 4\.4\.3 ' \
    "$(e2e_reply 'MAIL FROM')"
if [ "$ms" -lt $((TIMEOUT_MS + 2000)) ]; then
	e2e_ok "DNS down: whole session took $ms ms (< timeout_ms $TIMEOUT_MS + 2000)"
else
	e2e_fail "DNS down: session within timeout_ms + 2 s" "took $ms ms"
fi
if grep -Eq '^ *[-~*]> (RCPT|DATA)' "$E2E_SWAKS"; then
	e2e_fail "DNS down: no RCPT and no DATA after the 451"
else
	e2e_ok "DNS down: no RCPT and no DATA after the 451"
fi
e2e_match "DNS down: Postfix logs the milter-reject at MAIL" \
    'milter-reject: MAIL from .*: 451 4\.4\.3 ' "$(e2e_maillog)"

# 4. the cached domain still passes while the server is down
e2e_send "${SEND[@]}" --from b@pass.spf.test --header "X-Test-Id: e2e13-cached"
e2e_eq "DNS down, cached domain: MAIL FROM accepted" 250 \
    "$(e2e_reply_code 'MAIL FROM')"
if f=$(e2e_wait_sink "X-Test-Id: e2e13-cached"); then
	e2e_match "DNS down, cached domain: spf=pass in our A-R" \
	    'spf=pass smtp\.mailfrom=b@pass\.spf\.test' \
	    "$(e2e_header_lines "$f" | grep "^Authentication-Results: *$E2E_AUTHSERV_ID;")"
else
	e2e_fail "DNS down, cached domain: delivered"
fi

e2e_settle || e2e_fail "the queue drained" "$(e2e_queue_count) left"
e2e_eq "DNS down: the tempfailed message is not in the sink" "" \
    "$(e2e_sink_grep 'X-Test-Id: e2e13-down')"

e2e_finish
