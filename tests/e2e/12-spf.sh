#!/bin/bash
# 12-spf - SPF through Postfix with NSD serving the sender domains: a fail
# is rejected at MAIL FROM with 550 5.7.23 and the domain's explanation
# (with a '%' in it, which must reach the client as one '%'), and the
# message never gets to DATA; a pass (IPv4, and IPv6 through an include)
# arrives with spf=pass in our Authentication-Results (the first header
# after Received-SPF: policies' own top headers go above our A-R, see
# build_edits() in filter/dispatch.c); a client inside trusted.networks is
# not checked at all (no spf= in A-R, no Received-SPF).
. "$(dirname "$0")/lib.sh"
e2e_init

cat > "$E2E_DIR/spf.test.zone" <<'EOF'
$ORIGIN spf.test.
$TTL 300
@	IN SOA ns hostmaster 1 3600 600 86400 60
@	IN NS ns
ns	IN A 127.0.0.1
mta	IN TXT "v=spf1 ip4:203.0.113.0/24 ip6:2001:db8::/32 -all"
pass	IN TXT "v=spf1 ip4:203.0.113.0/25 include:_inc.spf.test -all"
_inc	IN TXT "v=spf1 ip6:2001:db8:5::/48 -all"
fail	IN TXT "v=spf1 ip4:203.0.113.0/25 -all exp=why.spf.test"
why	IN TXT "100%% refused: %{i} may not send for %{d}"
plain	IN TXT "v=spf1 -all"
EOF
e2e_dns_start spf.test "$E2E_DIR/spf.test.zone"

e2e_gw_conf "$E2E_DIR/gw.json" unix "{
  \"dns\": {\"servers\": [\"127.0.0.1@$DNS_PORT\"], \"timeout_ms\": 3000},
  \"trusted\": {\"networks\": [\"127.0.0.0/8\", \"::1/128\", \"198.51.100.0/24\"]},
  \"policies\": {\"spf\": {\"enabled\": true}}
}"
e2e_gw_start "$E2E_DIR/gw.json"
e2e_sink_start
# IPv6 so that XCLIENT takes an IPv6 client address (smtpd still listens
# on 127.0.0.1 only)
E2E_POSTFIX_EXTRA="inet_protocols = ipv4, ipv6"
e2e_postfix_start "$E2E_PF_MILTER"

HELO=(--helo mta.spf.test)

# sent CMD - the client sent a line starting with CMD in the last session
sent() { grep -Eq "^ *[-~*]> $1" "$E2E_SWAKS"; }

# our_ar FILE - the first header that is not Received-SPF: our A-R
our_ar() { e2e_header_lines "$1" | grep -v '^Received-SPF:' | head -1; }

# check_order DESC FILE - Received-SPF, then our A-R, then Postfix's Received
check_order() {
	local names
	names=$(e2e_header_lines "$2" | head -3 |
	    sed -E 's/^(Received): .*by mx\.gw\.test \(Postfix\).*/\1 (Postfix)/; s/:.*//' |
	    tr '\n' ',')
	e2e_eq "$1: headers on top: Received-SPF, our A-R, Postfix's Received" \
	    "Received-SPF,Authentication-Results,Received (Postfix)," "$names"
}

# 1. fail: rejected at MAIL FROM with the domain's explanation
e2e_send "${HELO[@]}" --xclient-addr 203.0.113.200 --from a@fail.spf.test \
    --header "X-Test-Id: e2e12-fail"
e2e_eq "fail: MAIL FROM rejected with 5.7.23 and the exp= text, '%' intact" \
    "550 5.7.23 100% refused: 203.0.113.200 may not send for fail.spf.test" \
    "$(e2e_reply 'MAIL FROM')"
if sent RCPT || sent DATA; then
	e2e_fail "fail: no RCPT and no DATA after the rejected MAIL" \
	    "$(grep -E '^ *[-~*]> ' "$E2E_SWAKS")"
else
	e2e_ok "fail: no RCPT and no DATA after the rejected MAIL"
fi
e2e_match "fail: Postfix logs the milter-reject at MAIL" \
    'milter-reject: MAIL from .*: 550 5\.7\.23 100% refused' "$(e2e_maillog)"

# 2. fail without exp=: the built-in text
e2e_send "${HELO[@]}" --xclient-addr 203.0.113.200 --from a@plain.spf.test \
    --header "X-Test-Id: e2e12-plain"
e2e_eq "fail without exp=: the default explanation" \
    "550 5.7.23 SPF: 203.0.113.200 is not allowed to send mail from plain.spf.test" \
    "$(e2e_reply 'MAIL FROM')"

# 3. pass (IPv4, the record's own ip4)
if e2e_send "${HELO[@]}" --xclient-addr 203.0.113.9 --from a@pass.spf.test \
    --header "X-Test-Id: e2e12-pass4"; then
	e2e_ok "pass ip4: accepted ($(e2e_reply .))"
else
	e2e_fail "pass ip4: accepted" "$(tail -5 "$E2E_SWAKS")"
fi
if f=$(e2e_wait_sink "X-Test-Id: e2e12-pass4"); then
	check_order "pass ip4" "$f"
	e2e_match "pass ip4: our A-R says spf=pass smtp.mailfrom" \
	    "^Authentication-Results: *$E2E_AUTHSERV_ID;.*spf=pass smtp\.mailfrom=a@pass\.spf\.test" \
	    "$(our_ar "$f")"
	e2e_match "pass ip4: A-R has the HELO result too" \
	    'spf=pass smtp\.helo=mta\.spf\.test' "$(our_ar "$f")"
	e2e_match "pass ip4: Received-SPF: pass, client-ip" \
	    '^Received-SPF: *pass .*client-ip=203\.0\.113\.9;' \
	    "$(e2e_header_lines "$f" | grep '^Received-SPF:')"
else
	e2e_fail "pass ip4: reached the sink"
fi

# 4. pass (IPv6, matched inside the include)
if e2e_send "${HELO[@]}" --xclient-addr IPV6:2001:db8:5::25 --from b@pass.spf.test \
    --header "X-Test-Id: e2e12-pass6"; then
	e2e_ok "pass ip6 via include: accepted"
else
	e2e_fail "pass ip6 via include: accepted" "$(tail -5 "$E2E_SWAKS")"
fi
if f=$(e2e_wait_sink "X-Test-Id: e2e12-pass6"); then
	e2e_match "pass ip6 via include: spf=pass smtp.mailfrom in our first header" \
	    "^Authentication-Results: *$E2E_AUTHSERV_ID;.*spf=pass smtp\.mailfrom=b@pass\.spf\.test" \
	    "$(our_ar "$f")"
	e2e_match "pass ip6 via include: Received-SPF names the include" \
	    '^Received-SPF: *pass .*client-ip=2001:db8:5::25;.*mechanism="?include:_inc\.spf\.test' \
	    "$(e2e_header_lines "$f" | grep '^Received-SPF:')"
else
	e2e_fail "pass ip6 via include: reached the sink"
fi

# 5. trusted client sending as the failing domain: not checked, accepted,
# no spf= in A-R and no Received-SPF (the policy records nothing for it)
if e2e_send "${HELO[@]}" --xclient-addr 198.51.100.7 --from a@fail.spf.test \
    --header "X-Test-Id: e2e12-trusted"; then
	e2e_ok "trusted: accepted although the domain fails"
else
	e2e_fail "trusted: accepted although the domain fails" "$(tail -5 "$E2E_SWAKS")"
fi
if f=$(e2e_wait_sink "X-Test-Id: e2e12-trusted"); then
	e2e_match "trusted: our A-R, the first header, says none (no spf= result)" \
	    "^Authentication-Results: *$E2E_AUTHSERV_ID; none\$" \
	    "$(e2e_header_lines "$f" | head -1)"
	e2e_eq "trusted: no Received-SPF" 0 \
	    "$(e2e_header_lines "$f" | grep -c '^Received-SPF:')"
else
	e2e_fail "trusted: reached the sink"
fi

# 6. nothing of the rejected sessions reached the sink (the passes above
# were delivered after them; wait for the queue to drain, then look)
e2e_settle || e2e_fail "the queue drained" "$(e2e_queue_count) left"
e2e_eq "rejected messages are not in the sink" "" \
    "$(e2e_sink_grep 'X-Test-Id: e2e12-fail'; e2e_sink_grep 'X-Test-Id: e2e12-plain')"
e2e_eq "the sink holds exactly the three accepted messages" 3 "$(e2e_sink_count)"

e2e_finish
