#!/bin/sh
# dmarc.sh - DMARC through `gatewarden test` against the test DNS
# server (tests/dns/fixture.py) on loopback, then aggregate reports:
#  - an aligned SPF pass gives dmarc=pass in Authentication-Results;
#  - a failing message under p=reject is refused 550 at end of message
#    only when actions.reject enables it;
#  - `gatewarden dmarc-report` turns the history into one gzip'd report
#    per domain that validates against RFC 7489 Appendix C (xmllint),
#    aggregates identical rows, escapes hostile text, writes .eml files
#    for authorised rua= addresses only (RFC 7489 7.1).
# Ends with "dmarc: N passed, N failed".
cd "$(dirname "$0")/../../.." || exit 1
. tests/lib.sh
t_init dmarc
XSD=tests/data/dmarc/rua.xsd
FPID=
cleanup() {
	stop_pid "$FPID"
}
no() { ko "$@"; }

cat > "$T/zone.yml" <<'EOF2'
zonedata:
  example.test:
    - TXT: "v=spf1 ip4:192.0.2.0/24 -all"
  _dmarc.example.test:
    - TXT: "v=DMARC1; p=reject; rua=mailto:agg@example.test,mailto:ext@reports.other.test,mailto:no@unauth.test"
  example.test._report._dmarc.reports.other.test:
    - TXT: "v=DMARC1"
  quar.test:
    - TXT: "v=spf1 -all"
  _dmarc.quar.test:
    - TXT: "v=DMARC1; p=quarantine; adkim=s; aspf=s; rua=mailto:r@quar.test"
EOF2

PORT=
for try in 1 2 3 4 5; do
	p=$((29000 + ($$ * 7 + try * 131) % 1000))
	$PY tests/dns/fixture.py --port "$p" "$T/zone.yml" \
	    >"$T/fixture.out" 2>"$T/fixture.err" &
	FPID=$!
	i=0
	while [ $i -lt 100 ] && [ ! -s "$T/fixture.out" ] && kill -0 "$FPID" 2>/dev/null; do
		sleep 0.05; i=$((i + 1))
	done
	if [ -s "$T/fixture.out" ]; then PORT=$p; break; fi
	wait "$FPID" 2>/dev/null; FPID=
done
if [ -z "$PORT" ]; then
	cat "$T/fixture.err"
	no "fixture start"
	echo "dmarc: $pass passed, $fail failed"
	exit 1
fi

# conf NAME ACTIONS - a configuration with the given actions object
conf() {
	cat > "$T/$1.json" <<EOF2
{"authserv_id": "mx.test",
 "dns": {"servers": ["127.0.0.1@$PORT"], "timeout_ms": 2000},
 "policies": {"spf": {"actions": {"fail": {"action": "accept"}}},
  "dmarc": {"psl_file": "$PWD/tests/data/dmarc/public_suffix_list.dat",
   "history": {"file": "$T/history.jsonl"},
   "report": {"email": "dmarc-reports@mx.test", "org_name": "Test <&> Org",
              "receiver": "mx.test"},
   "actions": $2}}}
EOF2
}
conf enforce '{"reject": {"action": "reject"}, "quarantine": {"action": "quarantine"}}'
conf report '{}'
printf 'From: A <a@example.test>\r\nTo: b@dest.test\r\nSubject: hi\r\n\r\nbody\r\n' >"$T/ex.eml"
printf 'From: q@quar.test\r\nSubject: hi\r\n\r\nbody\r\n' >"$T/quar.eml"
printf 'From: a@example.test\r\nFrom: b@example.test\r\nSubject: hi\r\n\r\nbody\r\n' >"$T/two.eml"

# gwtest CONF IP FROM EML OUT
gwtest() {
	"$GW" test -c "$T/$1.json" --ip "$2" --helo mx.example.test \
	    --from "$3" --rcpt b@dest.test "$T/$4" >"$T/$5" 2>"$T/$5.err"
}
# jq_eq FILE PYEXPR WANT - a value of the test output
jq_eq() {
	got=$($PY -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1" 2>&1)
	[ "$got" = "$3" ] || { echo "    got: $got"; return 1; }
}

gwtest enforce 192.0.2.1 a@example.test ex.eml pass.json
check "aligned SPF pass accepted" jq_eq "$T/pass.json" 'd["verdict"]' accept
check "A-R dmarc=pass (p=reject dis=none)" jq_eq "$T/pass.json" \
    '"dmarc=pass (p=reject dis=none) header.from=example.test" in [h["value"] for h in d["headers"]["add"] if h["name"] == "Authentication-Results"][0]' True
check "results.dmarc alignment of SPF" jq_eq "$T/pass.json" \
    'd["results"]["dmarc"]["alignment"]["spf"]["aligned"]' True

gwtest report 198.51.100.7 a@example.test ex.eml fail-report.json
check "p=reject not enforced by default" jq_eq "$T/fail-report.json" 'd["verdict"]' accept
check "report only: override local_policy" jq_eq "$T/fail-report.json" \
    'd["results"]["dmarc"]["override"]' local_policy
for i in 1 2 3; do
	gwtest enforce 198.51.100.7 a@example.test ex.eml fail$i.json
done
check "p=reject enforced when enabled: 550 at end of message" jq_eq "$T/fail1.json" \
    'd["verdict"], d["stage"], d["reply"]["code"], d["reply"]["xcode"]' \
    "reject eom 550 5.7.1"
gwtest enforce 198.51.100.9 q@quar.test quar.eml quar.json
check "p=quarantine quarantined" jq_eq "$T/quar.json" 'd["verdict"]' quarantine
gwtest enforce 192.0.2.1 a@example.test two.eml two.json
check "two From headers rejected" jq_eq "$T/two.json" \
    'd["verdict"], d["reply"]["text"]' "reject multiple or missing From"

lines=$(wc -l <"$T/history.jsonl")
check "history: one line per evaluated message (6)" test "$lines" -eq 6
# a hostile line: text a report must escape, and a torn line
printf '%s\n' '{"time":1000,"ip":"192.0.2.77","from":"example.test","envelope_from":"a<&>\"'"'"'b\u0001","record_domain":"example.test","policy":{"p":"reject","pct":100},"result":"fail","disposition":"none","spf":{"domain":"x<y","scope":"mfrom","result":"fail"},"dkim":[{"domain":"d&e","selector":"s<1>","result":"fail"}]}' >>"$T/history.jsonl"
printf '{"time":1000,"ip":"192.0.2' >>"$T/history.jsonl"
printf '\n' >>"$T/history.jsonl"

mkdir "$T/out"
now=$(date +%s)
"$GW" dmarc-report -c "$T/enforce.json" --begin 0 --end $((now + 100)) \
    --out "$T/out" >"$T/report.out" 2>&1
check "dmarc-report exits 0" test $? -eq 0
sed 's/^/    /' "$T/report.out"
n=$(ls "$T/out" | grep -c '\.xml\.gz$')
check "one report per domain (2)" test "$n" -eq 2
for f in "$T"/out/*.xml.gz; do
	check "$(basename "$f") is gzip" gzip -t "$f"
	zcat "$f" >"$f.xml"
	check "$(basename "$f") validates against RFC 7489 Appendix C" \
	    xmllint --noout --schema "$XSD" "$f.xml"
done
EX="$T/out/mx.test!example.test!0!$((now + 99)).xml.gz.xml"
check "file name receiver!domain!begin!end.xml.gz" test -s "$EX"
cnt() {	# cnt IP - the <count> of IP's row
	$PY -c '
import sys, xml.etree.ElementTree as E
r = E.parse(sys.argv[1]).getroot()
print(sum(int(x.find("row/count").text) for x in r.findall("record")
          if x.find("row/source_ip").text == sys.argv[2]))' "$EX" "$1"
}
check "198.51.100.7: 4 messages in its rows" \
    test "$(cnt 198.51.100.7)" = 4
check "rows differ by disposition: 198.51.100.7 has two rows" $PY -c '
import sys, xml.etree.ElementTree as E
r = E.parse(sys.argv[1]).getroot()
rows = [x for x in r.findall("record") if x.find("row/source_ip").text == "198.51.100.7"]
c = sorted((x.find("row/policy_evaluated/disposition").text, int(x.find("row/count").text)) for x in rows)
sys.exit(0 if c == [("none", 1), ("reject", 3)] else 1)' "$EX"
check "hostile text escaped, still parsed" $PY -c '
import sys, xml.etree.ElementTree as E
r = E.parse(sys.argv[1]).getroot()
x = [x for x in r.findall("record") if x.find("row/source_ip").text == "192.0.2.77"][0]
ok = x.find("identifiers/envelope_from").text == "a<&>\"'"'"'b?" and x.find("auth_results/dkim/selector").text == "s<1>"
sys.exit(0 if ok else 1)' "$EX"
check "org_name escaped" grep -q '<org_name>Test &lt;&amp;&gt; Org</org_name>' "$EX"
check "report to the domain's own rua" grep -q 'report to agg@example.test written' "$T/report.out"
check "report to an authorised external rua (7.1)" grep -q 'report to ext@reports.other.test written' "$T/report.out"
check "no report to an unauthorised external rua" grep -q 'no@unauth.test not authorised' "$T/report.out"
check "no .eml for the unauthorised address" sh -c "! grep -l 'To: no@unauth.test' '$T'/out/*.eml"
check ".eml carries the gzip as base64" $PY -c '
import sys, email, gzip
m = email.message_from_binary_file(open(sys.argv[1], "rb"))
p = [p for p in m.walk() if p.get_content_type() == "application/gzip"][0]
x = gzip.decompress(p.get_payload(decode=True))
sys.exit(0 if b"<feedback>" in x and m["Subject"].startswith("Report Domain: example.test Submitter: mx.test") else 1)' \
    "$(grep -l 'To: agg@example.test' "$T"/out/*.eml)"
"$GW" dmarc-report -c "$T/enforce.json" --begin 5 --end 6 --out "$T/out" >"$T/empty.out" 2>&1
check "an empty window writes nothing" grep -q 'no messages in the window' "$T/empty.out"
"$GW" dmarc-report -c "$T/enforce.json" --begin 6 --end 5 --out "$T/out" >/dev/null 2>&1
check "a reversed window is a usage error (64)" test $? -eq 64

t_done
