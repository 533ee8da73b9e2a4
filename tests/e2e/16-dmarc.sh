#!/bin/bash
# 16-dmarc - DMARC through Postfix with NSD serving the domains, spf, dkim
# and dmarc policies in that order, p=reject published:
#  - a message signed by dkimpy (key in the zone, SPF only neutral) and
#    one whose MAIL FROM passes SPF (IPv4 twice, IPv6 once) arrive with
#    dmarc=pass in our Authentication-Results;
#  - a failing message (From in the domain, MAIL FROM elsewhere) is
#    delivered with dmarc=fail (report only, the default), and refused
#    550 5.7.1 at end of DATA through a second gatewarden that enforces
#    p=reject (its own smtpd listener);
#  - `gatewarden dmarc-report` over the history those messages wrote: one
#    report per domain, valid against tests/data/dmarc/rua.xsd (xmllint;
#    the IPv6 row included), with the expected rows and counts;
#  - `--send` through this Postfix's own sendmail(8) (report.sendmail_args
#    ["-C", main.cf's folder]): the reports reach the sink as messages with
#    the gzip attachment, also to an external rua= authorised by
#    DOMAIN._report._dmarc.HOST, never to one that is not authorised.
. "$(dirname "$0")/lib.sh"
e2e_init
PY=/usr/bin/python3
PEERS=$E2E_TOP/tests/interop/peers.py
XSD=$E2E_TOP/tests/data/dmarc/rua.xsd
K=$E2E_DIR/keys
mkdir -p "$K"
chmod 700 "$K"

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
    -out "$K/signed.pem" 2>/dev/null || e2e_die "openssl genpkey"
pub=$(openssl pkey -in "$K/signed.pem" -pubout -outform DER | base64 -w0)

# zone NAME - SOA, NS and the records on stdin
zone() {
	printf '$ORIGIN %s.\n$TTL 60\n' "$1"
	printf '@ IN SOA ns hostmaster 1 3600 600 86400 60\n@ IN NS ns\n'
	printf 'ns IN A 127.0.0.1\n'
	cat
}
zone signed.test > "$E2E_DIR/signed.zone" <<EOF
@ IN TXT "v=spf1 ?all"
_dmarc IN TXT "v=DMARC1; p=reject; rua=mailto:agg@signed.test"
sel._domainkey IN TXT ( "v=DKIM1; k=rsa; p=${pub:0:200}" "${pub:200}" )
EOF
zone aligned.test > "$E2E_DIR/aligned.zone" <<'EOF'
@ IN TXT "v=spf1 ip4:203.0.113.0/24 ip6:2001:db8:16::/48 -all"
_dmarc IN TXT "v=DMARC1; p=reject; rua=mailto:agg@aligned.test,mailto:ext@reports.test,mailto:no@unauth.test"
EOF
zone elsewhere.test > "$E2E_DIR/elsewhere.zone" <<'EOF'
@ IN TXT "v=spf1 ip4:198.51.100.0/24 -all"
EOF
zone reports.test > "$E2E_DIR/reports.zone" <<'EOF'
aligned.test._report._dmarc IN TXT "v=DMARC1"
EOF
zone unauth.test > "$E2E_DIR/unauth.zone" < /dev/null
e2e_dns_start signed.test "$E2E_DIR/signed.zone" \
    aligned.test "$E2E_DIR/aligned.zone" \
    elsewhere.test "$E2E_DIR/elsewhere.zone" \
    reports.test "$E2E_DIR/reports.zone" unauth.test "$E2E_DIR/unauth.zone"

# gwjson ACTIONS - the config; both daemons share the history file
gwjson() {
	printf '%s' "{
  \"dns\": {\"servers\": [\"127.0.0.1@$DNS_PORT\"], \"timeout_ms\": 3000},
  \"policies\": {
    \"spf\": {\"actions\": {\"fail\": {\"action\": \"accept\"}}},
    \"dkim\": {},
    \"dmarc\": {
      \"psl_file\": \"$E2E_TOP/tests/data/dmarc/public_suffix_list.dat\",
      \"history\": {\"file\": \"$E2E_DIR/history.jsonl\"},
      \"report\": {\"email\": \"dmarc-reports@mx.gw.test\",
                 \"org_name\": \"gatewarden e2e\", \"receiver\": \"mx.gw.test\",
                 \"sendmail\": \"/usr/sbin/sendmail\",
                 \"sendmail_args\": [\"-C\", \"$PF_ETC\"]},
      \"actions\": $1}}
}"
}
# the enforcing one first, on its own socket and smtpd listener
GW_SOCK_MAIN=$GW_SOCK GW_LOG_MAIN=$GW_LOG
GW_SOCK=$E2E_DIR/gw-enforce.sock GW_LOG=$E2E_DIR/gw-enforce.log
e2e_gw_conf "$E2E_DIR/gw-enforce.json" unix \
    "$(gwjson '{"reject": {"action": "reject"}}')"
e2e_gw_start "$E2E_DIR/gw-enforce.json"
ENFORCE_PORT=$E2E_PORT_FREE
E2E_POSTFIX_MASTER_EXTRA="127.0.0.1:$ENFORCE_PORT inet n - n - - smtpd -o smtpd_milters=$E2E_PF_MILTER"
GW_SOCK=$GW_SOCK_MAIN GW_LOG=$GW_LOG_MAIN
e2e_gw_conf "$E2E_DIR/gw.json" unix "$(gwjson '{}')"
e2e_gw_start "$E2E_DIR/gw.json"
e2e_sink_start
E2E_POSTFIX_EXTRA="inet_protocols = ipv4, ipv6"	# IPv6 XCLIENT addresses
e2e_postfix_start "$E2E_PF_MILTER"

# our_ar FILE - our A-R line (unfolded)
our_ar() {
	e2e_header_lines "$1" | grep -E "^Authentication-Results: *$E2E_AUTHSERV_ID *;"
}

# deliver ID DESC WANT_ERE SWAKS_ARGS... - accepted, reaches the sink,
# our A-R matches WANT_ERE
deliver() {
	local id=$1 desc=$2 want=$3 f
	shift 3
	if e2e_send "$@"; then
		e2e_ok "$desc: accepted"
	else
		e2e_fail "$desc: accepted" "$(tail -5 "$E2E_SWAKS")"
	fi
	if f=$(e2e_wait_sink "X-Test-Id: $id"); then
		e2e_match "$desc: our A-R says $want" "$want" "$(our_ar "$f")"
	else
		e2e_fail "$desc: reached the sink"
	fi
}

# 1. DKIM-aligned pass: signed by dkimpy for signed.test, SPF only neutral
cat > "$E2E_DIR/dkim.eml" <<'EOF'
From: Carol <carol@signed.test>
To: Bob <bob@dest.example>
Subject: signed, aligned
Date: Mon, 23 Nov 2026 12:00:00 +0000
Message-ID: <e2e16-dkim@signed.test>
X-Test-Id: e2e16-dkim

DMARC passes on the DKIM signature alone.
EOF
$PY "$PEERS" dkimpy-sign "$K/signed.pem" sel signed.test rsa-sha256 \
    relaxed/relaxed "$E2E_DIR/dkim.eml" > "$E2E_DIR/dkim-signed.eml" \
    2>"$E2E_DIR/dkimpy.log" || e2e_die "dkimpy signing: $(cat "$E2E_DIR/dkimpy.log")"
deliver e2e16-dkim "dkim-aligned pass" \
    'spf=neutral .*dkim=pass header\.d=signed\.test .*dmarc=pass \(p=reject dis=none\) header\.from=signed\.test' \
    --xclient-addr 192.0.2.16 --xclient-name mta.signed.test \
    --from carol@signed.test --data @"$E2E_DIR/dkim-signed.eml"

# 2. SPF-aligned pass, twice from one address (one report row, count 2)
for n in 1 2; do
	deliver "e2e16-spf$n" "spf-aligned pass $n" \
	    'spf=pass smtp\.mailfrom=a@aligned\.test.*dmarc=pass \(p=reject dis=none\) header\.from=aligned\.test' \
	    --xclient-addr 203.0.113.9 --from a@aligned.test \
	    --header "From: A <a@aligned.test>" --header "X-Test-Id: e2e16-spf$n"
done
# ... and from IPv6
deliver e2e16-spf6 "spf-aligned pass over IPv6" \
    'spf=pass smtp\.mailfrom=b@aligned\.test.*dmarc=pass' \
    --xclient-addr IPV6:2001:db8:16::25 --from b@aligned.test \
    --header "From: B <b@aligned.test>" --header "X-Test-Id: e2e16-spf6"

# 3. failing (SPF passes for elsewhere.test: not aligned), report only
deliver e2e16-fail "fail, report only: delivered" \
    'dmarc=fail \(p=reject dis=none\) header\.from=aligned\.test' \
    --xclient-addr 198.51.100.7 --from x@elsewhere.test \
    --header "From: X <x@aligned.test>" --header "X-Test-Id: e2e16-fail"

# 4. the same through the enforcing daemon: 550 5.7.1 at end of DATA
e2e_send --port "$ENFORCE_PORT" --xclient-addr 198.51.100.7 \
    --from x@elsewhere.test --header "From: X <x@aligned.test>" \
    --header "X-Test-Id: e2e16-rejected"
e2e_eq "enforced: RCPT accepted (nothing decided before the message)" 250 \
    "$(e2e_reply_code 'RCPT TO')"
e2e_match "enforced: refused 550 5.7.1 at end of DATA" '^550 5\.7\.1 ' \
    "$(e2e_reply .)"
e2e_match "Postfix logs the milter-reject at end of DATA" \
    'milter-reject: END-OF-MESSAGE from .*: 5\.7\.1 ' "$(e2e_maillog)"
e2e_settle || e2e_fail "the queue drained" "$(e2e_queue_count) left"
e2e_eq "the refused message is not in the sink" "" \
    "$(e2e_sink_grep 'X-Test-Id: e2e16-rejected')"
e2e_eq "history: one line per evaluated message (6)" 6 \
    "$(wc -l < "$E2E_DIR/history.jsonl")"

# 5. the aggregate reports over that history, written and sent
mkdir "$E2E_DIR/out"
chmod 755 "$E2E_DIR/out"
now=$(date +%s)
end=$((now + 60))
n_before=$(e2e_sink_count)
if "$GW" dmarc-report -c "$E2E_DIR/gw.json" --begin 0 --end "$end" \
    --out "$E2E_DIR/out" --send >"$E2E_DIR/report.log" 2>&1; then
	e2e_ok "dmarc-report --send exits 0"
else
	e2e_fail "dmarc-report --send exits 0" "$(cat "$E2E_DIR/report.log")"
fi
REP=$E2E_DIR/out/mx.gw.test!aligned.test!0!$((end - 1)).xml.gz
SREP=$E2E_DIR/out/mx.gw.test!signed.test!0!$((end - 1)).xml.gz
e2e_eq "one report per domain (2)" 2 "$(ls "$E2E_DIR/out" | grep -c '\.xml\.gz$')"
for f in "$REP" "$SREP"; do
	zcat "$f" > "${f%.gz}" 2>/dev/null || e2e_fail "$(basename "$f"): gunzip"
	e2e_check "$(basename "$f"): valid against RFC 7489 Appendix C (xmllint)" \
	    xmllint --noout --schema "$XSD" "${f%.gz}"
done

# rows - "ip disposition dkim spf override count" per record, sorted
rows() {
	$PY - "$1" <<'PY'
import sys, xml.etree.ElementTree as E
r = E.parse(sys.argv[1]).getroot()
out = []
for x in r.findall("record"):
    pe = x.find("row/policy_evaluated")
    ovr = pe.find("reason/type")
    out.append(" ".join([x.find("row/source_ip").text,
                         pe.find("disposition").text, pe.find("dkim").text,
                         pe.find("spf").text,
                         ovr.text if ovr is not None else "-",
                         x.find("row/count").text]))
print("; ".join(sorted(out)))
PY
}
e2e_eq "aligned.test: the rows and their counts" \
    "198.51.100.7 none fail fail local_policy 1; 198.51.100.7 reject fail fail - 1; 2001:db8:16::25 none fail pass - 1; 203.0.113.9 none fail pass - 2" \
    "$(rows "${REP%.gz}")"
e2e_eq "signed.test: one DKIM-aligned row" \
    "192.0.2.16 none pass fail - 1" "$(rows "${SREP%.gz}")"
e2e_match "signed.test: the auth_results name the signature" \
    '<domain>signed\.test</domain>[[:space:]]*<selector>sel</selector>[[:space:]]*<result>pass</result>' \
    "$(tr -d '\n' < "${SREP%.gz}")"
e2e_match "aligned.test: policy_published p=reject" '<p>reject</p>' \
    "$(cat "${REP%.gz}")"

# the schema's IPAddress type: compressed IPv6 in, malformed addresses out
for ip in '::1' '2001:db8::' '::ffff:192.0.2.1' '2001:db8:16:0:0:0:0:25'; do
	sed "s|<source_ip>2001:db8:16::25</source_ip>|<source_ip>$ip</source_ip>|" \
	    "${REP%.gz}" > "$E2E_DIR/ip.xml"
	e2e_check "schema accepts source_ip $ip" \
	    xmllint --noout --schema "$XSD" "$E2E_DIR/ip.xml"
done
for ip in '2001:db8::16::25' '203.0.113' '203x0.113.9' '1:2:3:4:5:6:7:8:9'; do
	sed "s|<source_ip>2001:db8:16::25</source_ip>|<source_ip>$ip</source_ip>|" \
	    "${REP%.gz}" > "$E2E_DIR/ip.xml"
	if xmllint --noout --schema "$XSD" "$E2E_DIR/ip.xml" 2>/dev/null; then
		e2e_fail "schema refuses source_ip $ip"
	else
		e2e_ok "schema refuses source_ip $ip"
	fi
done

# sent through Postfix's sendmail: three messages reach the sink
e2e_match "not sent to the unauthorised external rua" \
    'no@unauth\.test not authorised by aligned\.test\._report\._dmarc\.unauth\.test' \
    "$(cat "$E2E_DIR/report.log")"
e2e_settle || e2e_fail "the queue drained after --send" "$(e2e_queue_count) left"
# attachment TO DOMAIN - the sink's report message to TO: its gzip
# attachment, decompressed, into $E2E_DIR/got-TO.xml; "ok" or a reason
attachment() {
	local f
	f=$(e2e_wait_sink "To: $1") || { echo "no message to $1"; return; }
	$PY - "$f" "$2" "$E2E_DIR/got-$1.xml" <<'PY'
import sys, email, gzip
from email import policy
m = email.message_from_binary_file(open(sys.argv[1], "rb"),
                                   policy=policy.default)
subj = str(m["Subject"])
if not subj.startswith("Report Domain: %s Submitter: mx.gw.test Report-ID: <"
                       % sys.argv[2]):
    print("subject: " + subj); sys.exit()
gz = [p for p in m.walk() if p.get_content_type() == "application/gzip"]
if len(gz) != 1:
    print("%d application/gzip parts" % len(gz)); sys.exit()
name = gz[0].get_filename() or ""
if not name.startswith("mx.gw.test!%s!0!" % sys.argv[2]):
    print("filename: " + name); sys.exit()
open(sys.argv[3], "wb").write(gzip.decompress(gz[0].get_content()))
print("ok")
PY
}
for to in agg@aligned.test ext@reports.test agg@signed.test; do
	dom=${to#*@}
	[ "$to" = ext@reports.test ] && dom=aligned.test
	e2e_eq "report to $to arrived with its gzip attachment" ok \
	    "$(attachment "$to" "$dom")"
	e2e_check "report to $to: the attachment validates (xmllint)" \
	    xmllint --noout --schema "$XSD" "$E2E_DIR/got-$to.xml"
done
e2e_check "the mailed aligned.test report is the one written" \
    cmp -s "$E2E_DIR/got-agg@aligned.test.xml" "${REP%.gz}"
e2e_eq "nothing to the unauthorised address" "" "$(e2e_sink_grep 'To: no@unauth.test')"
e2e_eq "three report messages, and nothing else, reached the sink" 3 \
    "$(( $(e2e_sink_count) - n_before ))"
e2e_match "the reports went through Postfix's pickup (sendmail -C)" \
    'postfix-16-dmarc/pickup\[[0-9]+\]: [0-9A-F]+: uid=[0-9]+ from=<dmarc-reports@mx\.gw\.test>' \
    "$(e2e_maillog)"

e2e_finish
