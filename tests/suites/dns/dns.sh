#!/bin/sh
# dns.sh - the resolver against the test DNS server (tests/dns/fixture.py)
# on loopback: statuses, timeout, budget, TCP fallback, IPv6 server, .test
# names, parallel lookups, many threads; and the fixture's own behaviour.
# Ends with "dns: N passed, N failed".
cd "$(dirname "$0")/../../.." || exit 1
. tests/lib.sh
t_init dns
DNSQ=$BUILD/tests/dnsq
FPID=
FPID2=
cleanup() {
	[ -z "$FPID" ] || stop_pid "$FPID"
	[ -z "$FPID2" ] || stop_pid "$FPID2"
}

if ! make -s BUILD="$BUILD" "$DNSQ" >"$T/make.log" 2>&1; then
	cat "$T/make.log"
	ko "build dnsq"
	t_done
fi

BIG=$($PY -c 'print("v=spf1 " + " ".join("ip4:192.0.2.%d" % i for i in range(1, 120)) + " -all")')
cat > "$T/zone.yml" <<EOF
example.test:
  - TXT: "v=spf1 -all"
  - A: 192.0.2.1
  - A: 192.0.2.2
  - MX: [10, mx.example.test]
mx.example.test:
  - A: 192.0.2.10
  - AAAA: 2001:db8::10
big.example.test:
  - TXT: "$BIG"
split.example.test:
  - TXT: ["v=spf1 ", "ip4:192.0.2.0/24 ", "-all"]
spfonly.example.test:
  - SPF: "v=spf1 ?all"
to.example.test:
  - TXT: "v=spf1 -all"
  - TIMEOUT
sf.example.test:
  - SERVFAIL
alias.example.test:
  - CNAME: example.test
1.2.0.192.in-addr.arpa:
  - PTR: mx.example.test
EOF
cat > "$T/zone2.yml" <<EOF
zonedata:
  example.test:
    - TXT: "v=spf1 +all"
EOF

# --- start the fixture on a free port in 28000-28999 ---------------------
PORT=
for try in 1 2 3 4 5; do
	p=$(free_port 28000 28999 $(($$ + try * 131))) || continue
	$PY tests/dns/fixture.py --port "$p" --ipv6 --control "$T/ctl" \
	    --log "$T/queries.log" "$T/zone.yml" >"$T/fixture.out" 2>"$T/fixture.err" &
	FPID=$!
	i=0
	while [ $i -lt 100 ] && [ ! -s "$T/fixture.out" ] && kill -0 "$FPID" 2>/dev/null; do
		sleep 0.05; i=$((i + 1))
	done
	if [ -s "$T/fixture.out" ]; then PORT=$p; break; fi
	wait "$FPID" 2>/dev/null; FPID=
done
[ -n "${DNS_KEEP:-}" ] && echo "work dir: $T"
if [ -z "$PORT" ]; then
	cat "$T/fixture.err"
	ko "fixture start"
	t_done
fi
check "fixture prints its pid and port" $PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if d["pid"] == int(sys.argv[2]) and d["port"] == int(sys.argv[3]) else 1)
' "$T/fixture.out" "$FPID" "$PORT"
S4=127.0.0.1@$PORT
S6=::1@$PORT
# tcp_probe ADDR: one query over TCP straight to the fixture
tcp_probe() {
	$PY -c '
import socket, struct, sys
from dnslib import DNSRecord
q = DNSRecord.question("example.test", "TXT").pack()
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
s.sendall(struct.pack("!H", len(q)) + q)
buf = b""
while len(buf) < 2 or len(buf) < 2 + struct.unpack("!H", buf[:2])[0]:
    chunk = s.recv(4096)
    if not chunk:
        sys.exit(1)
    buf += chunk
r = DNSRecord.parse(buf[2:])
sys.exit(0 if r.header.rcode == 0 and len(r.rr) == 1 else 1)
' "$1" "$PORT"
}
check "fixture answers over TCP on 127.0.0.1" tcp_probe 127.0.0.1
check "fixture answers over TCP on ::1" tcp_probe ::1

# jcheck FILE LINE EXPR: EXPR (Python, over r = the LINE-th JSON object, 1-based) is true
jcheck() {
	$PY -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
r = lines[int(sys.argv[2]) - 1]
ok = eval(sys.argv[3])
if not ok:
    print("    got: %s" % json.dumps(r)[:300])
sys.exit(0 if ok else 1)
' "$@"
}

# --- statuses --------------------------------------------------------------
$DNSQ -s "$S4" -t 2000 example.test TXT example.test A example.test MX \
    example.test AAAA nope.example.test A EXAMPLE.Test. TXT split.example.test TXT \
    spfonly.example.test TXT spfonly.example.test SPF sf.example.test A \
    alias.example.test A 1.2.0.192.in-addr.arpa PTR mx.example.test AAAA \
    >"$T/basic.json" 2>"$T/basic.err"
check "TXT answer" jcheck "$T/basic.json" 1 'r["status"] == "answer" and r["rr"] == ["v=spf1 -all"]'
check "A answer, two records" jcheck "$T/basic.json" 2 'r["status"] == "answer" and sorted(r["rr"]) == ["192.0.2.1", "192.0.2.2"]'
check "MX answer" jcheck "$T/basic.json" 3 'r["rr"] == ["10 mx.example.test"]'
check "NODATA" jcheck "$T/basic.json" 4 'r["status"] == "nodata" and r["rr"] == []'
check "NXDOMAIN" jcheck "$T/basic.json" 5 'r["status"] == "nxdomain"'
check "case-insensitive name, trailing dot" jcheck "$T/basic.json" 6 'r["status"] == "answer"'
check "TXT strings joined" jcheck "$T/basic.json" 7 'r["rr"] == ["v=spf1 ip4:192.0.2.0/24 -all"]'
check "SPF record also served as TXT" jcheck "$T/basic.json" 8 'r["rr"] == ["v=spf1 ?all"]'
check "SPF type 99" jcheck "$T/basic.json" 9 'r["status"] == "answer" and r["type"] == "SPF"'
check "SERVFAIL is tempfail" jcheck "$T/basic.json" 10 'r["status"] == "tempfail" and r["why"] == "SERVFAIL"'
check "CNAME followed" jcheck "$T/basic.json" 11 'sorted(r["rr"]) == ["192.0.2.1", "192.0.2.2"]'
check "PTR in 2.0.192.in-addr.arpa (a built-in local zone) is asked" jcheck "$T/basic.json" 12 'r["rr"] == ["mx.example.test"]'
check "AAAA answer" jcheck "$T/basic.json" 13 'r["rr"] == ["2001:db8::10"]'
check ".test names are not answered locally" jcheck "$T/basic.json" 1 'r["status"] != "nxdomain"'

# --- TCP fallback ------------------------------------------------------------
$DNSQ -s "$S4" -t 2000 big.example.test TXT >"$T/big.json" 2>&1
check "big TXT (> 512 octets) over TCP" jcheck "$T/big.json" 1 "r['status'] == 'answer' and r['rr'] == ['$BIG']"
check "fixture truncated the UDP answer and served it over TCP" \
    sh -c "grep -q 'udp big.example.test. TXT NOERROR TC' '$T/queries.log' && grep -q 'tcp big.example.test. TXT NOERROR' '$T/queries.log'"
$DNSQ -s "$S4" -t 2000 -e 4096 big.example.test TXT >"$T/big2.json" 2>&1
check "big TXT with edns_buffer_size 4096" jcheck "$T/big2.json" 1 'r["status"] == "answer" and len(r["rr"][0]) > 512'

# --- IPv6 server ------------------------------------------------------------
$DNSQ -s "$S6" -t 2000 example.test TXT mx.example.test A >"$T/v6.json" 2>&1
check "server ::1@PORT" jcheck "$T/v6.json" 1 'r["status"] == "answer"'
check "server ::1@PORT, second lookup" jcheck "$T/v6.json" 2 'r["rr"] == ["192.0.2.10"]'

# --- DNSSEC: a trust anchor turns validation on --------------------------------
echo '. IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D' > "$T/anchor.ds"
$DNSQ -s "$S4" -t 2000 -a "$T/anchor.ds" example.test TXT >"$T/ta.json" 2>"$T/ta.err"
check "trust anchor: unsigned test data is bogus, so tempfail" jcheck "$T/ta.json" 1 'r["status"] == "tempfail" and r["why"] == "DNSSEC bogus"'
check "trust anchor: unreadable file refused at start" sh -c "! $DNSQ -s '$S4' -a '$T/missing.key' example.test TXT 2>&1 | grep -q '^{'"

# --- timeout ------------------------------------------------------------------
$DNSQ -s "$S4" -t 500 to.example.test A to.example.test TXT example.test TXT >"$T/to.json" 2>&1
check "TIMEOUT name is tempfail/timeout" jcheck "$T/to.json" 1 'r["status"] == "tempfail" and r["why"] == "timeout"'
check "timeout within timeout_ms + slack" jcheck "$T/to.json" 1 '450 <= r["ms"] <= 800'
check "TIMEOUT name answers the type it has" jcheck "$T/to.json" 2 'r["status"] == "answer"'
check "lookups after a timeout still answered" jcheck "$T/to.json" 3 'r["status"] == "answer" and r["ms"] < 400'

# --- budget ---------------------------------------------------------------------
$DNSQ -s "$S4" -t 500 -b 1200 to.example.test A error.x.example.test A \
    to.example.test A example.test TXT >"$T/budget.json" 2>&1
check "budget: first timeout" jcheck "$T/budget.json" 1 'r["why"] == "timeout"'
check "budget: second timeout" jcheck "$T/budget.json" 2 'r["why"] == "timeout"'
check "budget: third lookup cut to what is left" jcheck "$T/budget.json" 3 'r["why"] == "budget" and 150 <= r["ms"] <= 500'
check "budget: spent budget fails at once" jcheck "$T/budget.json" 4 'r["status"] == "tempfail" and r["why"] == "budget" and r["ms"] < 20'
check "budget: accounting" jcheck "$T/budget.json" 5 'r["budget"]["spent"] >= 1200 and r["budget"]["queries"] == 3'

# --- parallel lookups (dns_query_many) ----------------------------------------
$DNSQ -s "$S4" -t 600 -m to.example.test A error.y.example.test A example.test MX \
    nope.example.test TXT >"$T/many.json" 2>&1
check "many: timeouts run in parallel" jcheck "$T/many.json" 1 'r["why"] == "timeout" and r["ms"] < 1000'
check "many: second timeout" jcheck "$T/many.json" 2 'r["why"] == "timeout"'
check "many: answer" jcheck "$T/many.json" 3 'r["rr"] == ["10 mx.example.test"]'
check "many: nxdomain" jcheck "$T/many.json" 4 'r["status"] == "nxdomain"'
check "many: charged once" jcheck "$T/many.json" 5 '550 <= r["budget"]["spent"] < 1000'

# --- many threads -------------------------------------------------------------
$DNSQ -s "$S4" -t 3000 -c 8:200 -S example.test TXT example.test A example.test MX \
    nope.example.test A example.test AAAA big.example.test TXT mx.example.test AAAA \
    1.2.0.192.in-addr.arpa PTR >"$T/conc.json" 2>&1
check "200 lookups from 8 threads agree with the sequential ones" \
    jcheck "$T/conc.json" 10 'r["lookups"] == 200 and r["same"] == 200 and r["different"] == 0'
check "counters printed" grep -q '^dns TXT lookups=' "$T/conc.json"
$DNSQ -s "$S4" -t 300 -c 8:64 to.example.test A example.test TXT >"$T/conc2.json" 2>&1
check "threads with timeouts (cancel path)" \
    jcheck "$T/conc2.json" 4 'r["lookups"] == 64 and r["different"] == 0'

# --- the fixture ---------------------------------------------------------------
check "fixture control: ping" sh -c "$PY tests/dns/fixture.py --ctl '$T/ctl' ping | grep -qx pong"
check "fixture control: load another scenario" sh -c "$PY tests/dns/fixture.py --ctl '$T/ctl' load '$T/zone2.yml' | grep -qx 'ok 1'"
$DNSQ -s "$S4" -t 1000 example.test TXT mx.example.test A >"$T/switch.json" 2>&1
check "new zone data live" jcheck "$T/switch.json" 1 'r["rr"] == ["v=spf1 +all"]'
check "old names gone" jcheck "$T/switch.json" 2 'r["status"] == "nxdomain"'
check "fixture control: bad file is an error" sh -c "! $PY tests/dns/fixture.py --ctl '$T/ctl' load '$T/missing.yml' >/dev/null"
SPFY=tests/data/conformance/spf/rfc7208-tests.yml
if [ -r "$SPFY" ]; then
	n=0; bad=0
	while [ $n -lt 16 ]; do
		$PY tests/dns/fixture.py --ctl "$T/ctl" load "$SPFY" $n | grep -q '^ok ' || bad=$((bad + 1))
		n=$((n + 1))
	done
	check "fixture loads the 16 RFC 7208 scenarios" test $bad -eq 0
	$PY tests/dns/fixture.py --ctl "$T/ctl" load-scenario "$SPFY" Record lookup >/dev/null
	$DNSQ -s "$S4" -t 400 both.example.net TXT spftimeout.example.net TXT \
	    spftimeout.example.net SPF txttimeout.example.net TXT >"$T/spf.json" 2>&1
	check "scenario by description" jcheck "$T/spf.json" 1 'r["rr"] == ["v=spf1 -all"]'
	check "zonedata: TXT before TIMEOUT answers" jcheck "$T/spf.json" 2 'r["status"] == "answer"'
	check "zonedata: SPF after TIMEOUT times out" jcheck "$T/spf.json" 3 'r["why"] == "timeout"'
	check "zonedata: TXT NONE + TIMEOUT times out" jcheck "$T/spf.json" 4 'r["why"] == "timeout"'
else
	ko "conformance data missing: $SPFY"
fi
# --- the answer cache: a second fixture whose records carry a TTL --------------
# The first fixture's TTL is 0, which keeps nothing; here every answer and the
# SOA of every negative answer carry 60 s, so a repeated lookup is answered
# in the calling thread and never reaches the server (its query log says so).
for try in 1 2 3 4 5; do
	p=$(free_port 28000 28999 $(($$ + try * 173))) || continue
	[ "$p" = "$PORT" ] && continue
	$PY tests/dns/fixture.py --port "$p" --ttl 60 --log "$T/queries2.log" \
	    "$T/zone.yml" >"$T/fixture2.out" 2>"$T/fixture2.err" &
	FPID2=$!
	i=0
	while [ $i -lt 100 ] && [ ! -s "$T/fixture2.out" ] && kill -0 "$FPID2" 2>/dev/null; do
		sleep 0.05; i=$((i + 1))
	done
	if [ -s "$T/fixture2.out" ]; then PORT2=$p; break; fi
	wait "$FPID2" 2>/dev/null; FPID2=
done
if [ -n "${PORT2:-}" ]; then
	$DNSQ -s "127.0.0.1@$PORT2" -t 2000 -S example.test TXT EXAMPLE.test. TXT \
	    nope.example.test TXT nope.example.test TXT example.test AAAA \
	    example.test AAAA >"$T/cache.json" 2>&1
	check "cache: answer, then the same from the cache" jcheck "$T/cache.json" 2 \
	    'r["status"] == "answer" and r["rr"] == ["v=spf1 -all"] and r["ms"] < 5'
	check "cache: NXDOMAIN kept for its SOA TTL" jcheck "$T/cache.json" 4 \
	    'r["status"] == "nxdomain" and r["ms"] < 5'
	check "cache: NODATA kept for its SOA TTL" jcheck "$T/cache.json" 6 \
	    'r["status"] == "nodata" and r["ms"] < 5'
	check "cache: hits counted (TXT cached=2, AAAA cached=1)" sh -c \
	    "grep -q '^dns TXT lookups=4 .* cached=2\$' '$T/cache.json' && grep -q '^dns AAAA lookups=2 .* cached=1\$' '$T/cache.json'"
	check "cache: the server saw each question once" sh -c \
	    "[ \$(grep -ci 'example.test' '$T/queries2.log') -eq 3 ]"
	stop_pid "$FPID2"
	FPID2=
else
	ko "second fixture start"
fi
check "fixture counted queries" sh -c "$PY tests/dns/fixture.py --ctl '$T/ctl' stats | $PY -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d[\"tcp\"] >= 2 and d[\"truncated\"] >= 2 and d[\"dropped\"] >= 5 else 1)'"

kill "$FPID"
i=0
while [ $i -lt 100 ] && alive "$FPID"; do
	sleep 0.05; i=$((i + 1))
done
if alive "$FPID"; then ko "fixture stops on SIGTERM"; else ok "fixture stops on SIGTERM"; fi
wait "$FPID" 2>/dev/null
FPID=

if [ $fail -ne 0 ]; then
	echo "--- fixture stderr"; cat "$T/fixture.err"
	echo "--- last queries"; tail -20 "$T/queries.log"
fi
t_done
