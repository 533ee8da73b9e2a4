#!/bin/bash
# 15-dkim - DKIM through the real Postfix: a submission from a trusted
# network (XCLIENT 192.0.2.25) leaves with gatewarden's RSA and Ed25519
# signatures on top, which dkimpy verifies on the sink's copy with the keys
# from the case's DNS (NSD); a message signed beforehand by dkimpy arriving
# from an outside address (XCLIENT 203.0.113.9) gets dkim=pass in our
# Authentication-Results, the same message with one body byte changed
# dkim=fail.  A second gatewarden signing simple/simple (its own smtpd
# listener) shows that the signature header reaches the message in the
# form that was hashed.  The keys come from `gatewarden keygen`, whose TXT records go
# into the zone as printed; check_dns is "refuse", so gatewarden starts
# only if NSD serves them.
. "$(dirname "$0")/lib.sh"
e2e_init
PY=/usr/bin/python3
PEERS=$E2E_TOP/tests/interop/peers.py
K=$E2E_DIR/keys
mkdir -p "$K"
chmod 700 "$K"

# keys and the zone
"$GW" keygen --domain gw.example --selector rsa1 --algorithm rsa-sha256 \
    --out "$K" --group "$(id -gn)" > "$E2E_DIR/keygen-rsa.out" 2>&1 || e2e_die "keygen rsa: $(cat "$E2E_DIR/keygen-rsa.out")"
"$GW" keygen --domain gw.example --selector ed1 --algorithm ed25519-sha256 \
    --out "$K" --group "$(id -gn)" > "$E2E_DIR/keygen-ed.out" 2>&1 || e2e_die "keygen ed25519: $(cat "$E2E_DIR/keygen-ed.out")"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
    -out "$K/remote.pem" 2>/dev/null || e2e_die "openssl genpkey"
remote_pub=$(openssl pkey -in "$K/remote.pem" -pubout -outform DER | base64 -w0)
{
	printf '$ORIGIN gw.example.\n$TTL 60\n'
	printf '@ IN SOA ns hostmaster 1 3600 600 86400 60\n@ IN NS ns\nns IN A 127.0.0.1\n'
	grep '_domainkey' "$E2E_DIR/keygen-rsa.out" "$E2E_DIR/keygen-ed.out" | cut -d: -f2-
} > "$E2E_DIR/gw.zone"
{
	printf '$ORIGIN remote.example.\n$TTL 60\n'
	printf '@ IN SOA ns hostmaster 1 3600 600 86400 60\n@ IN NS ns\nns IN A 127.0.0.1\n'
	printf 'peer._domainkey IN TXT ( "v=DKIM1; k=rsa; p=%s" "%s" )\n' \
	    "${remote_pub:0:200}" "${remote_pub:200}"
} > "$E2E_DIR/remote.zone"
e2e_dns_start gw.example "$E2E_DIR/gw.zone" remote.example "$E2E_DIR/remote.zone"

# gwjson CANON - the gatewarden config (sign.canonicalization CANON)
gwjson() {
	printf '%s' "{
  \"dns\": {\"servers\": [\"127.0.0.1@$DNS_PORT\"], \"timeout_ms\": 3000},
  \"trusted\": {\"networks\": [\"192.0.2.0/24\"]},
  \"policies\": {\"dkim\": {\"enabled\": true, \"sign\": {
    \"check_dns\": \"refuse\", \"canonicalization\": \"$1\",
    \"keys\": [
      {\"domain\": \"gw.example\", \"selector\": \"rsa1\", \"algorithm\": \"rsa-sha256\",
       \"key_file\": \"$K/gw.example.rsa1.pem\"},
      {\"domain\": \"gw.example\", \"selector\": \"ed1\", \"algorithm\": \"ed25519-sha256\",
       \"key_file\": \"$K/gw.example.ed1.pem\"}]}}}
}"
}
# the simple/simple one first, on its own socket and listener
GW_SOCK_MAIN=$GW_SOCK GW_LOG_MAIN=$GW_LOG
GW_SOCK=$E2E_DIR/gw-simple.sock GW_LOG=$E2E_DIR/gw-simple.log
e2e_gw_conf "$E2E_DIR/gw-simple.json" unix "$(gwjson simple/simple)"
e2e_gw_start "$E2E_DIR/gw-simple.json"
SIMPLE_PORT=$E2E_PORT_FREE
E2E_POSTFIX_MASTER_EXTRA="127.0.0.1:$SIMPLE_PORT inet n - n - - smtpd -o smtpd_milters=$E2E_PF_MILTER"
GW_SOCK=$GW_SOCK_MAIN GW_LOG=$GW_LOG_MAIN
e2e_gw_conf "$E2E_DIR/gw.json" unix "$(gwjson relaxed/relaxed)"
e2e_gw_start "$E2E_DIR/gw.json"
e2e_sink_start
e2e_postfix_start "$E2E_PF_MILTER"

# our_ar FILE - our A-R line (unfolded)
our_ar() {
	e2e_header_lines "$1" | grep -E "^Authentication-Results: *$E2E_AUTHSERV_ID *;"
}

# 1. submission from a trusted network: signed, verifies with dkimpy
cat > "$E2E_DIR/out.eml" <<'EOF'
From: Alice <alice@gw.example>
To: Bob <bob@dest.example>
Subject: signed on the way out, with a subject long enough to be folded
 by the sender over two lines
Date: Mon, 23 Nov 2026 10:00:00 +0000
Message-ID: <e2e15-out@gw.example>
X-Test-Id: e2e15-out
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Grüße aus Köln.

Trailing blank lines follow.


EOF
if e2e_send --xclient-addr 192.0.2.25 --xclient-name submit.gw.example \
    --from alice@gw.example --data @"$E2E_DIR/out.eml"; then
	e2e_ok "out: accepted ($(e2e_reply .))"
else
	e2e_fail "out: accepted" "$(tail -5 "$E2E_SWAKS")"
fi
if f=$(e2e_wait_sink "X-Test-Id: e2e15-out"); then
	e2e_ok "out: reached the sink"
	names=$(e2e_headers "$f")
	e2e_eq "out: two DKIM-Signature headers, then our A-R, on top" \
	    "DKIM-Signature DKIM-Signature Authentication-Results" \
	    "$(printf '%s\n' "$names" | head -3 | tr '\n' ' ' | sed 's/ $//')"
	sigs=$(e2e_header_lines "$f" | grep '^DKIM-Signature:')
	e2e_match "out: an rsa-sha256 signature for gw.example s=rsa1" \
	    'a=rsa-sha256;.*d=gw\.example; s=rsa1;' "$sigs"
	e2e_match "out: an ed25519-sha256 signature for gw.example s=ed1" \
	    'a=ed25519-sha256;.*d=gw\.example; s=ed1;' "$sigs"
	e2e_eq "out: dkimpy verifies both signatures (keys from NSD)" "pass,pass" \
	    "$($PY "$PEERS" dkimpy-verify-dns "$DNS_PORT" "$f" 2>&1 | tail -1)"
	sed 's/^Grüße aus Köln\./Grüße aus Bonn./' "$f" > "$E2E_DIR/out-changed.eml"
	e2e_eq "out: the sink's copy with one body word changed fails in dkimpy" \
	    "fail,fail" "$($PY "$PEERS" dkimpy-verify-dns "$DNS_PORT" \
	    "$E2E_DIR/out-changed.eml" 2>&1 | tail -1)"
	e2e_match "out: our A-R for the internal message says dkim=none" \
	    'dkim=none' "$(our_ar "$f")"
else
	e2e_fail "out: reached the sink"
fi

# 1b. the same through the simple/simple signer
sed 's/^X-Test-Id: e2e15-out$/X-Test-Id: e2e15-simple/' "$E2E_DIR/out.eml" > "$E2E_DIR/simple.eml"
if e2e_send --port "$SIMPLE_PORT" --xclient-addr 192.0.2.26 \
    --xclient-name submit.gw.example --from alice@gw.example \
    --data @"$E2E_DIR/simple.eml"; then
	e2e_ok "simple: accepted"
else
	e2e_fail "simple: accepted" "$(tail -5 "$E2E_SWAKS")"
fi
if f=$(e2e_wait_sink "X-Test-Id: e2e15-simple"); then
	e2e_match "simple: signed c=simple/simple" 'c=simple/simple;' \
	    "$(e2e_header_lines "$f" | grep '^DKIM-Signature:' | head -1)"
	e2e_eq "simple: the signature header reached the message as hashed (\"DKIM-Signature: v=1\")" \
	    2 "$(grep -c '^DKIM-Signature: v=1;' "$f")"
	e2e_eq "simple: dkimpy verifies both simple/simple signatures" "pass,pass" \
	    "$($PY "$PEERS" dkimpy-verify-dns "$DNS_PORT" "$f" 2>&1 | tail -1)"
else
	e2e_fail "simple: reached the sink"
fi

# 2. inbound, signed by dkimpy, from an outside address: dkim=pass
cat > "$E2E_DIR/in.eml" <<'EOF'
From: Carol <carol@remote.example>
To: Bob <bob@dest.example>
Subject: signed elsewhere
Date: Mon, 23 Nov 2026 11:00:00 +0000
Message-ID: <e2e15-in@remote.example>
X-Test-Id: e2e15-in

A message signed by remote.example.
EOF
$PY "$PEERS" dkimpy-sign "$K/remote.pem" peer remote.example rsa-sha256 \
    relaxed/relaxed "$E2E_DIR/in.eml" > "$E2E_DIR/in-signed.eml" 2>"$E2E_DIR/dkimpy.log" ||
    e2e_die "dkimpy signing: $(cat "$E2E_DIR/dkimpy.log")"
sed -e 's/^X-Test-Id: e2e15-in$/X-Test-Id: e2e15-tampered/' \
    -e 's/^A message signed by remote.example.$/A message signed by remote.example!/' \
    "$E2E_DIR/in-signed.eml" > "$E2E_DIR/in-tampered.eml"
cmp -s "$E2E_DIR/in-signed.eml" "$E2E_DIR/in-tampered.eml" &&
    e2e_die "the tampered copy is not changed"

for t in in tampered; do
	case $t in
	in) file=$E2E_DIR/in-signed.eml; want=pass ;;
	tampered) file=$E2E_DIR/in-tampered.eml; want=fail ;;
	esac
	if e2e_send --xclient-addr 203.0.113.9 --xclient-name mta.remote.example \
	    --from carol@remote.example --data @"$file"; then
		e2e_ok "$t: accepted"
	else
		e2e_fail "$t: accepted" "$(tail -5 "$E2E_SWAKS")"
	fi
	if f=$(e2e_wait_sink "X-Test-Id: e2e15-$t"); then
		e2e_ok "$t: reached the sink"
		e2e_match "$t: our A-R says dkim=$want for remote.example s=peer" \
		    "dkim=$want header\\.d=remote\\.example header\\.i=@remote\\.example header\\.s=peer header\\.a=rsa-sha256 header\\.b=" \
		    "$(our_ar "$f")"
		e2e_eq "$t: not signed by us (outside client)" 1 \
		    "$(e2e_header_lines "$f" | grep -c '^DKIM-Signature:')"
	else
		e2e_fail "$t: reached the sink"
	fi
done

e2e_match "gatewarden checked the published keys at start-up" \
    'check_dns: rsa1\._domainkey\.gw\.example matches' "$(e2e_gw_log)"
e2e_finish
