#!/bin/sh
# dnsbl.sh - the rules policy's block lists against the DNS test
# fixture (tests/dns/fixture.py) on 127.0.0.1, ports 31500-31999, through
# `$GW test`: listed, not listed, return codes, IPv6, RHSBL on HELO and
# URL hosts, lookups in parallel, timeouts tripping the circuit breaker,
# a DNS failure mapped to on_error.  Ends with "dnsbl-suite: N passed, N failed".
cd "$(dirname "$0")/../../.." || exit 1
. tests/lib.sh
t_init dnsbl-suite
FPID=
cleanup() {
	[ -z "$FPID" ] || stop_pid "$FPID"
}

cat >"$T/zone.yml" <<'EOF'
1.2.0.192.zen.bl.test:
  - A: 127.0.0.4
2.2.0.192.zen.bl.test:
  - A: 127.255.255.254
5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.zen.bl.test:
  - A: 127.0.0.10
bad.example.dbl.bl.test:
  - A: 127.0.1.2
evil.example.dbl.bl.test:
  - A: 127.0.1.2
3.2.0.192.broken.bl.test:
  - SERVFAIL
EOF
# every name under slow.bl.test times out: the fixture answers names whose
# first label is "error" never; so list them
for n in 1.2.0.192 3.2.0.192 4.2.0.192 mx.good.example good.example bad.example \
    www.click.evil.example click.evil.example evil.example; do
	printf '%s.slow.bl.test:\n  - TIMEOUT\n' "$n" >>"$T/zone.yml"
done

PORT=
for try in 1 2 3 4 5; do
	p=$(free_port 31500 31999 $(($$ + try * 131))) || continue
	$PY tests/dns/fixture.py --port "$p" "$T/zone.yml" \
	    >"$T/fixture.out" 2>"$T/fixture.err" &
	FPID=$!
	i=0
	while [ $i -lt 100 ] && [ ! -s "$T/fixture.out" ] &&
	    kill -0 "$FPID" 2>/dev/null; do
		sleep 0.05; i=$((i + 1))
	done
	if [ -s "$T/fixture.out" ]; then PORT=$p; break; fi
	wait "$FPID" 2>/dev/null; FPID=
done
if [ -z "$PORT" ]; then
	cat "$T/fixture.err"
	ko "fixture start"
	t_done
fi

cat >"$T/gw.json" <<EOF
{
  "dns": {"servers": ["127.0.0.1@$PORT"], "timeout_ms": 700},
  "trusted": {"networks": ["10.0.0.0/8"]},
  "policies": {"rules": {
    "dnsbl": {
      "zen": {"zone": "zen.bl.test", "codes": ["127.0.0.2-127.0.0.11"],
              "action": "reject", "code": 554, "text": "Listed at zen"},
      "dbl": {"zone": "dbl.bl.test", "lookup": ["helo", "sender", "url"],
              "codes": ["127.0.1.0/24"], "score": 6},
      "slow": {"zone": "slow.bl.test", "lookup": ["client_ip", "helo", "sender", "url"],
               "on_error": "continue", "score": 1,
               "breaker": {"timeouts": 3, "within": "60s", "cooldown": "5m"}},
      "broken": {"zone": "broken.bl.test", "enabled": false, "score": 1}
    },
    "thresholds": {"add_header": 5}
  }}
}
EOF
sed 's/"enabled": false, "score": 1/"score": 1/' "$T/gw.json" >"$T/gw-broken.json"

# gwt NAME IP HELO FROM [MSGFILE] - one run; JSON in $T/NAME.json
gwt() {
	name=$1 ip=$2 helo=$3 from=$4 msg=${5:-$T/msg.eml}
	conf=${CONF:-$T/gw.json}
	start=$(date +%s%N)
	"$GW" test -c "$conf" --ip "$ip" --helo "$helo" --from "$from" \
	    --rcpt user@dest.example "$msg" >"$T/$name.json" 2>"$T/$name.err"
	end=$(date +%s%N)
	echo $(( (end - start) / 1000000 )) >"$T/$name.ms"
}

# jq_ok NAME PYEXPR - PYEXPR true on d (the JSON), r (results.rules)
jq_ok() {
	$PY - "$T/$1.json" "$2" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
r = d.get("results", {}).get("rules", {})
def look(lst, **kw):
    return [q for q in r.get("dnsbl", []) if q["list"] == lst and
            all(q.get(k) == v for k, v in kw.items())]
sys.exit(0 if eval(sys.argv[2]) else 1)
EOF
}

check_json() { # check_json WHAT NAME PYEXPR
	if jq_ok "$2" "$3"; then ok; else ko "$1"; head -c 1500 "$T/$2.json"; echo; cat "$T/$2.err"; fi
}

printf 'Subject: hello\r\n\r\nplain text\r\n' >"$T/msg.eml"
printf 'Subject: offer\r\n\r\nsee http://www.click.evil.example/x\r\n' >"$T/url.eml"

gwt listed 192.0.2.1 mx.good.example a@good.example
check_json "listed client rejected at MAIL" listed \
    'd["verdict"] == "reject" and d["stage"] == "mail" and d["reply"]["code"] == "554" and d["reply"]["text"] == "Listed at zen"'
check_json "listed answer recorded" listed \
    'look("zen", result="listed", answer="127.0.0.4", name="1.2.0.192.zen.bl.test")'

gwt errcode 192.0.2.2 mx.good.example a@good.example
check_json "answer outside the codes is not a listing" errcode \
    'd["verdict"] == "accept" and look("zen", result="clean", answer="127.255.255.254")'

gwt clean 192.0.2.3 mx.good.example a@good.example
check_json "not listed: NXDOMAIN is clean" clean \
    'd["verdict"] == "accept" and look("zen", result="clean") and not look("zen", result="listed")'

gwt v6 2001:db8::5 mx.good.example a@good.example
check_json "IPv6 client listed (nibbles)" v6 'd["verdict"] == "reject" and look("zen", result="listed")'

gwt trusted 10.9.9.9 bad.example a@good.example
check_json "trusted client not looked up" trusted '"dnsbl" not in r and d["verdict"] == "accept"'

# RHSBL on HELO; the slow list times out on three names in one batch:
# the breaker trips, and the URL lookups at eom are skipped
gwt helo 192.0.2.4 bad.example a@good.example "$T/url.eml"
check_json "listed HELO scored" helo \
    'look("dbl", lookup="helo", result="listed") and any(m["rule"] == "dnsbl.dbl" for m in r["matched"])'
check_json "listed URL domain looked up at eom" helo \
    'look("dbl", lookup="url", name="evil.example.dbl.bl.test", result="listed")'
check_json "timeouts are errors, on_error continue delivers" helo \
    'len(look("slow", result="error", why="timeout")) == 3 and d["verdict"] == "accept"'
check_json "breaker tripped: later lookups of the list skipped" helo \
    'look("slow", lookup="url", result="skipped") and not look("slow", lookup="url", result="error")'
check_json "score headers from the DNSBL score" helo \
    'any(h["name"] == "X-Spam-Score" for h in d["headers"]["add"])'
if grep -q "dnsbl slow: 3 timeouts within 60s: skipped for 300s" "$T/helo.err"; then
	ok
else
	ko "breaker trip logged"; cat "$T/helo.err"
fi
if [ "$(grep -c 'dnsbl slow: .* timeouts within' "$T/helo.err")" -eq 1 ]; then
	ok
else
	ko "breaker trip logged once"
fi
ms=$(cat "$T/helo.ms")
# three lists asked at MAIL in one batch: one timeout (700 ms), not three
if [ "$ms" -lt 1300 ]; then ok; else ko "lookups not parallel (${ms} ms)"; fi
echo "timeouts in parallel: message with 3 timed-out lookups took ${ms} ms (timeout 700 ms)"

# a DNS failure on a list without on_error: the policy's on_error (tempfail)
CONF=$T/gw-broken.json gwt broken 192.0.2.3 mx.good.example a@good.example
check_json "SERVFAIL maps to the policy's on_error" broken \
    'd["verdict"] == "tempfail" and d["reply"]["code"] == "451"'

t_done
