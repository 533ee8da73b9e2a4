#!/bin/bash
# sendmail - the Postfix end-to-end cases again, in front of a
# private Sendmail (Debian's sendmail-bin, extracted by
# tests/sendmail/fetch.sh, never installed) whose .cf is built with m4 from
# the milter lines of conf/sendmail/gatewarden.mc.  Sendmail relays what it
# accepts to smtp-sink; NSD serves the zones; gatewarden runs on TCP.
#
# Sendmail has no XCLIENT, so the two client identities are the two
# loopback addresses: 127.0.0.1 is an outside client (SPF, limits,
# content), ::1 is inside trusted.networks (signed on the way out).
#
# Cases: a clean message is delivered with our A-R above Sendmail's
# Received; GTUBE gets 550 5.7.1 at end of DATA; an SPF fail gets 550 5.7.23
# at MAIL with the domain's explanation; a rate limit gets 451 4.7.1 at
# RCPT; a submission from the trusted client is signed (RSA and Ed25519)
# and dkimpy verifies it with the keys from NSD.  Sendmail rewrites a reply
# whose code and enhanced code do not agree into "Command rejected", so
# every reply is compared as the exact text that reached the client.
. "$(dirname "$0")/../../e2e/lib.sh"
. "$(dirname "$0")/../../sendmail/lib.sh"
# port block 27000 + 20 * 44 (tests/e2e/README.md), free for this suite
e2e_init 44
PY=/usr/bin/python3
PEERS=$E2E_TOP/tests/interop/peers.py
GTUBE='XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X'
RL_TEXT="too many messages for this recipient, try later"
K=$E2E_DIR/keys
mkdir -p "$K"
chmod 700 "$K"

# --- zones, keys, gatewarden, Sendmail, the sink ---------------------------
"$GW" keygen --domain gw.example --selector sm1 --algorithm rsa-sha256 \
    --out "$K" --group "$(id -gn)" > "$E2E_DIR/keygen-rsa.out" 2>&1 ||
    e2e_die "keygen rsa: $(cat "$E2E_DIR/keygen-rsa.out")"
"$GW" keygen --domain gw.example --selector sm2 --algorithm ed25519-sha256 \
    --out "$K" --group "$(id -gn)" > "$E2E_DIR/keygen-ed.out" 2>&1 ||
    e2e_die "keygen ed25519: $(cat "$E2E_DIR/keygen-ed.out")"
{
	printf '$ORIGIN gw.example.\n$TTL 60\n'
	printf '@ IN SOA ns hostmaster 1 3600 600 86400 60\n@ IN NS ns\nns IN A 127.0.0.1\n'
	printf '@ IN TXT "v=spf1 ip4:127.0.0.1 ip6:::1 -all"\n'
	grep '_domainkey' "$E2E_DIR/keygen-rsa.out" "$E2E_DIR/keygen-ed.out" | cut -d: -f2-
} > "$E2E_DIR/gw.zone"
cat > "$E2E_DIR/spf.zone" <<'EOF'
$ORIGIN spf.test.
$TTL 60
@	IN SOA ns hostmaster 1 3600 600 86400 60
@	IN NS ns
ns	IN A 127.0.0.1
pass	IN TXT "v=spf1 ip4:127.0.0.1 -all"
fail	IN TXT "v=spf1 ip4:192.0.2.0/24 -all exp=why.spf.test"
why	IN TXT "100%% refused: %{i} may not send for %{d}"
EOF
e2e_dns_start gw.example "$E2E_DIR/gw.zone" spf.test "$E2E_DIR/spf.zone"

e2e_gw_conf "$E2E_DIR/gw.json" tcp "{
  \"dns\": {\"servers\": [\"127.0.0.1@$DNS_PORT\"], \"timeout_ms\": 3000},
  \"trusted\": {\"networks\": [\"::1/128\"]},
  \"store\": {\"backend\": \"memory\"},
  \"policies\": {
    \"spf\": {\"enabled\": true},
    \"dkim\": {\"enabled\": true, \"sign\": {\"check_dns\": \"refuse\", \"keys\": [
      {\"domain\": \"gw.example\", \"selector\": \"sm1\", \"algorithm\": \"rsa-sha256\",
       \"key_file\": \"$K/gw.example.sm1.pem\"},
      {\"domain\": \"gw.example\", \"selector\": \"sm2\", \"algorithm\": \"ed25519-sha256\",
       \"key_file\": \"$K/gw.example.sm2.pem\"}]}},
    \"ratelimit\": {\"enabled\": true, \"limits\": [
      {\"name\": \"per_rcpt\", \"key\": \"rcpt\", \"count\": \"messages\",
       \"rate\": \"2/1m\", \"burst\": 2, \"stage\": \"rcpt\",
       \"action\": \"tempfail\", \"code\": \"451\", \"xcode\": \"4.7.1\",
       \"text\": \"$RL_TEXT\"}]},
    \"rules\": {\"enabled\": true, \"rules\": [
      {\"name\": \"GTUBE\", \"stage\": \"eom\",
       \"if\": {\"body\": {\"contains\": \"$GTUBE\", \"caseless\": false}},
       \"action\": \"reject\", \"code\": 550, \"xcode\": \"5.7.1\",
       \"text\": \"Message content rejected (GTUBE test pattern)\"}]}
  }
}"
e2e_check "configuration OK" sh -c '"$1" -n -c "$2" >/dev/null' sh "$GW" "$E2E_DIR/gw.json"
e2e_gw_start "$E2E_DIR/gw.json"
e2e_sink_start
sm_start "$E2E_GW_SOCKET"

# sent CMD - the client sent a line starting with CMD in the last session
sent() { grep -Eq "^ *[-~*]> $1" "$E2E_SWAKS"; }

# our_ar FILE - our A-R (unfolded)
our_ar() {
	e2e_header_lines "$1" | grep -E "^Authentication-Results: *$E2E_AUTHSERV_ID *(;|\$)"
}

# 1. a clean message from an outside client: delivered, our A-R on top,
# above the Received line Sendmail wrote
if e2e_send --from a@pass.spf.test --to clean@dest.example \
    --helo client.pass.spf.test --header "X-Test-Id: sm-clean"; then
	e2e_ok "clean: accepted ($(e2e_reply .))"
else
	e2e_fail "clean: accepted" "$(tail -5 "$E2E_SWAKS")"
fi
if f=$(e2e_wait_sink "X-Test-Id: sm-clean"); then
	e2e_ok "clean: reached the sink"
	hl=$(e2e_header_lines "$f")
	names=$(printf '%s\n' "$hl" | head -3 |
	    sed -E 's|^(Received): .*by mx\.gw\.test \(8\.[0-9.]+/8\.[0-9.]+\) with ESMTP.*|\1 (Sendmail)|; s|^([^:]*):.*|\1|' |
	    tr '\n' ',')
	e2e_eq "clean: Received-SPF, our A-R, then Sendmail's Received, on top" \
	    "Received-SPF,Authentication-Results,Received (Sendmail)," "$names"
	e2e_match "clean: our A-R says spf=pass smtp.mailfrom" \
	    "^Authentication-Results: *$E2E_AUTHSERV_ID;.*spf=pass smtp\.mailfrom=a@pass\.spf\.test" \
	    "$(our_ar "$f")"
	e2e_eq "clean: exactly one A-R with our authserv_id" 1 "$(our_ar "$f" | wc -l)"
	e2e_eq "clean: not signed (outside client)" 0 \
	    "$(printf '%s\n' "$hl" | grep -c '^DKIM-Signature:')"
else
	e2e_fail "clean: reached the sink"
fi

# 2. GTUBE: 550 5.7.1 at end of DATA, the rule's text intact
e2e_send --from a@pass.spf.test --to gtube@dest.example \
    --helo client.pass.spf.test --header "X-Test-Id: sm-gtube" --body "$GTUBE"
e2e_eq "GTUBE: rejected at end of DATA with the rule's reply" \
    "550 5.7.1 Message content rejected (GTUBE test pattern)" "$(e2e_reply .)"

# 3. SPF fail: 550 5.7.23 at MAIL with the domain's explanation (Sendmail
# puts the address in front of the text of a MAIL reply, as it does for
# its own)
e2e_send --from a@fail.spf.test --to spf@dest.example \
    --helo client.fail.spf.test --header "X-Test-Id: sm-spf-fail"
e2e_eq "SPF fail: MAIL rejected with 5.7.23 and the exp= text, '%' intact" \
    "550 5.7.23 <a@fail.spf.test>... 100% refused: 127.0.0.1 may not send for fail.spf.test" \
    "$(e2e_reply 'MAIL FROM')"
if sent RCPT || sent DATA; then
	e2e_fail "SPF fail: no RCPT and no DATA after the rejected MAIL" \
	    "$(grep -E '^ *[-~*]> ' "$E2E_SWAKS")"
else
	e2e_ok "SPF fail: no RCPT and no DATA after the rejected MAIL"
fi

# 4. rate limit: two messages a minute per recipient, the third gets 451
# 4.7.1 at RCPT
for i in 1 2; do
	if e2e_send --from a@pass.spf.test --to limited@dest.example \
	    --helo client.pass.spf.test --header "X-Test-Id: sm-rl$i"; then
		e2e_ok "rate limit: message $i of 2 accepted"
	else
		e2e_fail "rate limit: message $i of 2 accepted" "$(tail -5 "$E2E_SWAKS")"
	fi
done
e2e_send --from a@pass.spf.test --to limited@dest.example \
    --helo client.pass.spf.test --header "X-Test-Id: sm-rl3"
e2e_eq "rate limit: the third gets the configured 451 at RCPT" \
    "451 4.7.1 $RL_TEXT" "$(e2e_reply 'RCPT TO')"
e2e_eq "rate limit: MAIL was accepted before it" 250 "$(e2e_reply_code 'MAIL FROM')"

# 5. a submission from the trusted client (::1): signed with both keys
cat > "$E2E_DIR/out.eml" <<'EOF'
From: Alice <alice@gw.example>
To: Bob <bob@dest.example>
Subject: signed on the way out through Sendmail
Date: Mon, 23 Nov 2026 10:00:00 +0000
Message-ID: <sm-out@gw.example>
X-Test-Id: sm-out
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Sent from the inside, signed by gatewarden behind Sendmail.
EOF
if e2e_send --server ::1 --port "$SM_PORT6" --from alice@gw.example \
    --to bob@dest.example --helo submit.gw.example --data @"$E2E_DIR/out.eml"; then
	e2e_ok "signed: accepted from ::1 ($(e2e_reply .))"
else
	e2e_fail "signed: accepted from ::1" "$(tail -5 "$E2E_SWAKS")"
fi
if f=$(e2e_wait_sink "X-Test-Id: sm-out"); then
	e2e_ok "signed: reached the sink"
	sigs=$(e2e_header_lines "$f" | grep '^DKIM-Signature:')
	e2e_match "signed: an rsa-sha256 signature d=gw.example s=sm1" \
	    'a=rsa-sha256;.*d=gw\.example; s=sm1;' "$sigs"
	e2e_match "signed: an ed25519-sha256 signature d=gw.example s=sm2" \
	    'a=ed25519-sha256;.*d=gw\.example; s=sm2;' "$sigs"
	e2e_eq "signed: dkimpy verifies both signatures (keys from NSD)" "pass,pass" \
	    "$($PY "$PEERS" dkimpy-verify-dns "$DNS_PORT" "$f" 2>&1 | tail -1)"
else
	e2e_fail "signed: reached the sink"
fi

# 6. nothing that was refused reached the sink
for id in sm-gtube sm-spf-fail sm-rl3; do
	e2e_eq "$id: not in the sink" "" "$(e2e_sink_grep "X-Test-Id: $id")"
done
e2e_eq "the sink holds exactly the four accepted messages" 4 "$(e2e_sink_count)"

e2e_finish
