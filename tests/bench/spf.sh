#!/bin/bash
# spf.sh - SPF cost: milterload messages/s against gatewarden with SPF off
# and with SPF on (native engine), on a unix socket.  With SPF on, the
# first run starts with the resolver's cache cold (only its first lookups
# go to the DNS server), the second runs on the warm cache.  The sender
# domain has a typical record with one include, served by NSD on
# 127.0.0.1; milterload's fixed client (192.0.2.1) matches in the include
# and its HELO name has a record too, so every message costs two SPF
# checks (HELO and MAIL FROM) and three TXT lookups.
# Figures, not pass/fail.  Run from tests/bench/run.sh or alone:
#   BUILD=build/me tests/bench/spf.sh
# Knobs: BENCH_SPF_MSGS (20000), BENCH_SESSIONS (10).  Ports: a free block
# of 20 in 32000-32759 (tests/lib.sh's free_port), like run.sh.
cd "$(dirname "$0")/../.." || exit 1
: "${BUILD:=build}"
: "${GW:=$PWD/$BUILD/gatewarden}"
: "${BENCH_BIN:=$PWD/$BUILD/bench}"
MSGS=${BENCH_SPF_MSGS:-20000}
SESSIONS=${BENCH_SESSIONS:-10}
for b in "$GW" "$BENCH_BIN/milterload"; do
	[ -x "$b" ] || { echo "bench spf: $b missing (make BUILD=$BUILD bench-tools all)"; exit 1; }
done
command -v nsd >/dev/null || { echo "bench spf: nsd missing"; exit 1; }

# shellcheck source=../e2e/lib.sh
. tests/e2e/lib.sh
E2E_PORT_BASE=$(free_port 32000 32759 $$ 20) ||
    { echo "bench spf: no 20 free ports in 32000-32759"; exit 1; }
export E2E_PORT_BASE E2E_SINK_DISCARD=1
# shellcheck source=cpu.sh
. tests/bench/cpu.sh
e2e_init 0
E2E_NAME=bench-spf

RECORD="v=spf1 ip4:198.51.100.0/24 include:_spf.load.example -all"
cat > "$E2E_DIR/load.example.zone" <<EOF
\$ORIGIN load.example.
\$TTL 3600
@	IN SOA ns hostmaster 1 3600 600 86400 3600
@	IN NS ns
ns	IN A 127.0.0.1
@	IN TXT "$RECORD"
_spf	IN TXT "v=spf1 ip4:203.0.113.0/24 ip4:192.0.2.0/24 -all"
client	IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
EOF
e2e_dns_start load.example "$E2E_DIR/load.example.zone"

conf() {	# conf FILE SPF-ENABLED
	e2e_gw_conf "$1" unix "{\"log\": {\"level\": \"info\"},
	  \"dns\": {\"servers\": [\"127.0.0.1@$DNS_PORT\"]},
	  \"policies\": {\"spf\": {\"enabled\": $2}}}"
}
conf "$E2E_DIR/off.json" false
conf "$E2E_DIR/on.json" true

field() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
us2ms() { awk -v a="$1" 'BEGIN { printf "%.2f", a / 1000 }'; }

# what SPF says for milterload's client, HELO and sender
t=$("$GW" test -c "$E2E_DIR/on.json" --ip 192.0.2.1 --helo client.load.example \
    --from sender@load.example --rcpt rcpt0@load.example </dev/null 2>&1)
sanity=$(printf '%s' "$t" | /usr/bin/python3 -c '
import json, sys
try:
    s = json.load(sys.stdin)["results"]["spf"]
    print("spf=%s helo=%s mechanism=%s lookups=%s" % (s.get("result"),
        s.get("helo"), s.get("mechanism"), s.get("lookups")))
except Exception as e:
    print("unreadable: %s" % e)')

# load LABEL - one milterload run against the running gatewarden
declare -A R V C
load() {
	local out c0
	c0=$(bench_cpu_us "$GW_PID")
	out=$("$BENCH_BIN/milterload" -s "unix:$GW_SOCK" -c "$SESSIONS" \
	    -m "$MSGS" -l "$1" 2>&1)
	C[$1]=$(bench_cpu_delta "$c0" "$(bench_cpu_us "$GW_PID")" "$MSGS")
	R[$1]=$(printf '%s\n' "$out" | grep '^RESULT')
	V[$1]=$(printf '%s\n' "$out" | sed -n 's/.*verdicts: *//p')
}

GW_LOG=$E2E_DIR/gw-off.log
e2e_gw_start "$E2E_DIR/off.json"
"$BENCH_BIN/milterload" -s "unix:$GW_SOCK" -c "$SESSIONS" -m 500 -q -l warmup >/dev/null 2>&1
load off
e2e_gw_stop

GW_LOG=$E2E_DIR/gw-on.log
e2e_gw_start "$E2E_DIR/on.json"
load cold
load warm
on_pid=$GW_PID
rss=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$on_pid/status" 2>/dev/null)
e2e_gw_stop

echo "== SPF: milterload $SESSIONS sessions x $MSGS messages (1 per connection) -> gatewarden on a unix socket; NSD on 127.0.0.1:$DNS_PORT"
echo "   sender domain load.example: \"$RECORD\"; client 192.0.2.1 matches in the include; HELO client.load.example has a record"
echo "   gatewarden test for that client/HELO/sender: $sanity"
printf '%-30s %-10s %10s %8s %8s %8s %10s %7s  %s\n' run transport msgs/s "vs off" p50_ms p99_ms cpu_us/msg errors verdicts
for k in off cold warm; do
	case $k in
	off) name="SPF off" ;;
	cold) name="SPF on, 1st run (cache cold)" ;;
	warm) name="SPF on, 2nd run (cache warm)" ;;
	esac
	r=${R[$k]}
	printf '%-30s %-10s %10s %8s %8s %8s %10s %7s  %s\n' "$name" unix \
	    "$(field "$r" rate)" "$(ratio "$(field "$r" rate)" "$(field "${R[off]}" rate)")" \
	    "$(us2ms "$(field "$r" p50_us)")" "$(us2ms "$(field "$r" p99_us)")" \
	    "${C[$k]}" "$(field "$r" errors)" "${V[$k]}"
done
echo "SPF on (warm cache) / SPF off: $(ratio "$(field "${R[warm]}" rate)" "$(field "${R[off]}" rate)");" \
    "CPU per message SPF off ${C[off]} us, SPF on (warm) ${C[warm]} us;" \
    "gatewarden with SPF peak RSS (VmHWM) ${rss:-?} kB"

exit 0
