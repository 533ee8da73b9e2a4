#!/bin/bash
# compare.sh - `make bench-compare`: gatewarden beside the programs a site
# would run instead, in one run, one table (and build/bench/compare.json).
#
#  (a) one private Postfix (smtp-source -s 10 -m N -> smtpd -> smtp-sink),
#      one smtpd listener per filter, every filter on a unix socket and on
#      TCP 127.0.0.1:
#        none           no milter
#        nullmilter     a do-nothing libmilter filter (tests/bench/nullmilter.c)
#        gw-null        gatewarden, no policies
#        gw-inbound     gatewarden: SPF (native, NSD on 127.0.0.1 holds the
#                       sender's records), DKIM verify of the signed
#                       message, the shipped rules, one rate limit (memory)
#        gw-rsa         gatewarden signing, rsa-2048 (rsa-sha256)
#        gw-ed25519     gatewarden signing, ed25519 (ed25519-sha256)
#        opendkim       Debian's opendkim signing with the same rsa-2048 key
#        rspamd         Debian's rspamd, its proxy in milter mode (self-scan), the
#                       default configuration with the network checks off
#                       (RBLs, fuzzy, maps from the network, ASN, phishing
#                       feeds); its DNS goes to the same NSD only
#      All get the same DKIM-signed message.  For each: msgs/s, the ratio to
#      no milter, CPU time per message of the filter (user+sys from
#      /proc/PID/stat, all its threads; for rspamd its main process and
#      proxy worker), RSS (VmRSS after the run; rspamd: the sum).
#  (b) milterload (no MTA): the latency gatewarden adds per message (MAIL to
#      the eom verdict) p50/p99/p99.9 for gw-null and gw-inbound at 1, 10 and
#      100 concurrent connections (unix socket); RSS of a fresh gw-null
#      holding 500 connections at once.
#  (c) tests/bench/spf.sh (SPF on with a warm cache against SPF off) and
#      tests/bench/content.sh (the shipped rules on the 92 KB MIME message
#      against rules off): the other two ratios of docs/performance.md.
#
# The machine's load average is printed before and after: the figures that
# stay stable on a shared machine are the CPU per message and the ratios
# within the run, not msgs/s.
#
# Knobs: BENCH_CMP_MSGS (2000), BENCH_CMP_SESSIONS (10), BENCH_CMP_LAT_MSGS
# (2000 per connection count), BENCH_CMP_RSS_CONNS (500), BENCH_CMP_SKIP_C=1
# skips (c).  Ports: 80 in a row in 32000-32759 on 127.0.0.1 (free_port).
# rspamd's compiled regex
# cache is kept in $BUILD/bench/rspamd-db between runs (the first run
# compiles it, about a minute on 2 cores).
cd "$(dirname "$0")/../.." || exit 1
: "${BUILD:=build}"
: "${GW:=$PWD/$BUILD/gatewarden}"
: "${BENCH_BIN:=$PWD/$BUILD/bench}"
MSGS=${BENCH_CMP_MSGS:-2000}
SESSIONS=${BENCH_CMP_SESSIONS:-10}
LAT_MSGS=${BENCH_CMP_LAT_MSGS:-2000}
RSS_CONNS=${BENCH_CMP_RSS_CONNS:-500}
OUT_JSON=$PWD/$BUILD/bench/compare.json
export BUILD GW BENCH_BIN

for b in "$GW" "$BENCH_BIN/milterload" "$BENCH_BIN/nullmilter"; do
	[ -x "$b" ] || { echo "bench-compare: $b missing (make BUILD=$BUILD all bench-tools)"; exit 1; }
done
for c in opendkim rspamd nsd smtp-source postfix; do
	command -v "$c" >/dev/null || [ -x "/usr/sbin/$c" ] ||
	    { echo "bench-compare: $c not installed (make bench-compare installs it)"; exit 1; }
done

# shellcheck source=../e2e/lib.sh
. tests/e2e/lib.sh
# 80 ports in a row, taken where they are free (tests/lib.sh's free_port)
BASE=$(free_port 32000 32759 $$ 80) ||
    { echo "bench-compare: no 80 free ports in 32000-32759"; exit 1; }
export E2E_PORT_BASE=$BASE E2E_SINK_DISCARD=1
# shellcheck source=cpu.sh
. tests/bench/cpu.sh
e2e_init 0
E2E_NAME=bench-compare
D=$E2E_DIR
say() { printf '%s\n' "$*"; }
field() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
us2ms() { awk -v a="$1" 'BEGIN { if (a == "") print "-"; else printf "%.3f", a / 1000 }'; }
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
T0=$(date +%s)

# --- DNS: the sender domains, their SPF records and DKIM keys ----------------
K=$D/keys
mkdir -m 700 "$K"
for k in "x.example rsa rsa-sha256" "x.example ed ed25519-sha256"; do
	set -- $k
	"$GW" keygen --domain "$1" --selector "$2" --algorithm "$3" --out "$K" \
	    --group "$(id -gn)" \
	    >"$K/$2.out" 2>&1 || e2e_die "keygen $k: $(cat "$K/$2.out")"
done
{
	cat <<EOF
\$ORIGIN x.example.
\$TTL 3600
@	IN SOA ns hostmaster 1 3600 600 86400 3600
@	IN NS ns
ns	IN A 127.0.0.1
@	IN TXT "v=spf1 ip4:198.51.100.0/24 include:_spf.x.example -all"
_spf	IN TXT "v=spf1 ip4:203.0.113.0/24 ip4:127.0.0.0/8 ip4:192.0.2.0/24 -all"
client	IN TXT "v=spf1 ip4:127.0.0.0/8 -all"
_dmarc	IN TXT "v=DMARC1; p=none"
EOF
	grep '_domainkey' "$K/rsa.out"
	grep '_domainkey' "$K/ed.out"
} > "$D/x.example.zone"
cat > "$D/load.example.zone" <<EOF
\$ORIGIN load.example.
\$TTL 3600
@	IN SOA ns hostmaster 1 3600 600 86400 3600
@	IN NS ns
ns	IN A 127.0.0.1
@	IN TXT "v=spf1 ip4:198.51.100.0/24 include:_spf.load.example -all"
_spf	IN TXT "v=spf1 ip4:203.0.113.0/24 ip4:192.0.2.0/24 -all"
client	IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
EOF
e2e_dns_start x.example "$D/x.example.zone" load.example "$D/load.example.zone"

# --- gatewarden configurations -------------------------------------------------
# gwconf NAME SOCKET JSON - conf/gatewarden.json (the shipped rules and
# defaults) with the socket, quiet logs, and JSON merged over it
gwconf() {
	/usr/bin/python3 - conf/gatewarden.json "$D/$1.json" "$2" "$3" <<'PY' ||
import json, sys
c = json.load(open(sys.argv[1]))
def merge(a, b):
    for k, v in b.items():
        if isinstance(v, dict) and isinstance(a.get(k), dict):
            merge(a[k], v)
        else:
            a[k] = v
c["milter"]["socket"] = sys.argv[3]
c["log"] = {"level": "warning"}
merge(c, json.loads(sys.argv[4]))
json.dump(c, open(sys.argv[2], "w"), indent=1)
PY
	    e2e_die "gwconf $1"
	"$GW" -n -c "$D/$1.json" >"$D/$1.n" 2>&1 || e2e_die "config $1: $(cat "$D/$1.n")"
}
DNSJ="\"dns\": {\"servers\": [\"127.0.0.1@$DNS_PORT\"]}"
OFF_BUT_DKIM='"spf": {"enabled": false}, "dmarc": {"enabled": false}, "rules": {"enabled": false}, "ratelimit": {"enabled": false}'
NULLJ="{$DNSJ, \"policies\": {$OFF_BUT_DKIM, \"dkim\": {\"enabled\": false}}}"
INJ="{$DNSJ, \"trusted\": {\"networks\": [\"10.255.255.0/24\"]},
  \"policies\": {\"spf\": {\"enabled\": true}, \"dkim\": {\"enabled\": true},
   \"rules\": {\"enabled\": true},
   \"ratelimit\": {\"enabled\": true, \"limits\": [{\"name\": \"per_ip\",
     \"key\": \"client_ip\", \"count\": \"messages\", \"rate\": \"1000000/1m\",
     \"burst\": 1000000, \"stage\": \"mail\"}]}}}"
signj() {	# signj SELECTOR ALG
	printf '{%s, "trusted": {"networks": ["127.0.0.0/8", "192.0.2.0/24"]}, "policies": {%s, "dkim": {"enabled": true, "sign": {"keys": [{"domain": "x.example", "selector": "%s", "algorithm": "%s", "key_file": "%s"}]}}}}' \
	    "$DNSJ" "$OFF_BUT_DKIM" "$1" "$2" "$K/x.example.$1.pem"
}
PORT_N=$((BASE + 40))	# milter TCP ports: BASE+40..
declare -A SOCK_PF PID_OF
# gwstart NAME JSON - one instance on unix, one on TCP
gwstart() {
	local t p
	for t in unix tcp; do
		if [ $t = unix ]; then
			gwconf "$1-$t" "unix:$D/$1.sock" "$2"
			SOCK_PF[$1-$t]="unix:$D/$1.sock"
		else
			p=$PORT_N; PORT_N=$((PORT_N + 1))
			gwconf "$1-$t" "inet:$p@127.0.0.1" "$2"
			SOCK_PF[$1-$t]="inet:127.0.0.1:$p"
		fi
		"$GW" -f -c "$D/$1-$t.json" </dev/null >"$D/$1-$t.log" 2>&1 &
		PID_OF[$1-$t]=$!
		e2e_track "$1-$t" $!
	done
}
gwstart gw-null "$NULLJ"
gwstart gw-inbound "$INJ"
gwstart gw-rsa "$(signj rsa rsa-sha256)"
gwstart gw-ed25519 "$(signj ed ed25519-sha256)"

# --- nullmilter and opendkim, unix and TCP ---------------------------------------
for t in unix tcp; do
	if [ $t = unix ]; then s="unix:$D/nullmilter.sock"; SOCK_PF[nullmilter-$t]=$s
	else p=$PORT_N; PORT_N=$((PORT_N + 1)); s="inet:$p@127.0.0.1"; SOCK_PF[nullmilter-$t]="inet:127.0.0.1:$p"; fi
	"$BENCH_BIN/nullmilter" -p "$s" </dev/null >"$D/nullmilter-$t.log" 2>&1 &
	PID_OF[nullmilter-$t]=$!; e2e_track "nullmilter-$t" $!

	if [ $t = unix ]; then s="local:$D/opendkim.sock"; SOCK_PF[opendkim-$t]="unix:$D/opendkim.sock"
	else p=$PORT_N; PORT_N=$((PORT_N + 1)); s="inet:$p@127.0.0.1"; SOCK_PF[opendkim-$t]="inet:127.0.0.1:$p"; fi
	cat > "$D/opendkim-$t.conf" <<EOF
Syslog no
Background no
UMask 000
PidFile $D/opendkim-$t.pid
Socket $s
Mode s
Domain x.example
Selector rsa
KeyFile $K/x.example.rsa.pem
SignatureAlgorithm rsa-sha256
Canonicalization relaxed/relaxed
InternalHosts 127.0.0.0/8,192.0.2.0/24
RequireSafeKeys no
EOF
	opendkim -f -x "$D/opendkim-$t.conf" </dev/null >"$D/opendkim-$t.log" 2>&1 &
	PID_OF[opendkim-$t]=$!; e2e_track "opendkim-$t" $!
done

# --- rspamd: proxy in milter mode, default modules, no network checks ------------
R=$D/rspamd
RDB=$PWD/$BUILD/bench/rspamd-db
mkdir -p "$R/local/local.d" "$R/run" "$R/log" "$RDB"
RS_PROXY=$((BASE + 31))
SOCK_PF[rspamd-tcp]="inet:127.0.0.1:$RS_PROXY"
SOCK_PF[rspamd-unix]="unix:$R/proxy.sock"
cat > "$R/rspamd.conf" <<EOF
# Debian's /etc/rspamd/rspamd.conf with the workers on loopback high ports
# and the logs, state and sockets in this run's folder.
.include "\$CONFDIR/common.conf"
options {
    pidfile = "\$RUNDIR/rspamd.pid";
    .include "\$CONFDIR/options.inc"
    .include(try=true; priority=1,duplicate=merge) "\$LOCAL_CONFDIR/local.d/options.inc"
}
logging {
    type = "file";
    filename = "\$LOGDIR/rspamd.log";
    level = "error";
}
# The proxy scans in its own process (self_scan), rspamd's recommended
# milter set-up on a single host: no hop to a normal worker.
# Debian's worker-proxy.inc is written out (its upstream would win over
# ours).
worker "rspamd_proxy" {
    bind_socket = "127.0.0.1:$RS_PROXY";
    bind_socket = "$R/proxy.sock mode=0666";
    milter = yes;
    timeout = 120s;
    count = 1;
    max_retries = 5;
    discard_on_reject = false;
    quarantine_on_reject = false;
    spam_header = "X-Spam";
    reject_message = "Spam message rejected";
    upstream "local" {
        default = yes;
        self_scan = yes;
    }
}
EOF
# DNS to our NSD only; every module that asks the network off
cat > "$R/local/local.d/options.inc" <<EOF
dns { nameserver = ["127.0.0.1:$DNS_PORT"]; timeout = 1s; retransmits = 1; }
EOF
for m in rbl fuzzy_check asn phishing multimap whitelist url_redirector \
    neural ratelimit greylist replies history_redis reputation mx_check \
    external_services dcc metadata_exporter clickhouse elastic; do
	echo "enabled = false;" > "$R/local/local.d/$m.conf"
done
# an inbound filter here: rspamd signs nothing (it would for local clients)
echo "enabled = false;" > "$R/local/local.d/dkim_signing.conf"
printf 'sign_local = false;\nsign_authenticated = false;\nsign_inbound = false;\n' > "$R/local/local.d/arc.conf"
rspamd -f -i -u root -g root -c "$R/rspamd.conf" --var=CONFDIR=/etc/rspamd \
    --var=LOCAL_CONFDIR="$R/local" --var=RUNDIR="$R/run" --var=DBDIR="$RDB" \
    --var=LOGDIR="$R/log" </dev/null >"$R/out.log" 2>&1 &
RSPAMD_PID=$!
PID_OF[rspamd-unix]=$RSPAMD_PID; PID_OF[rspamd-tcp]=$RSPAMD_PID
e2e_track rspamd $RSPAMD_PID

# --- wait for every filter ---------------------------------------------------------
up() {	# up SOCKSPEC - the milter socket accepts
	case $1 in
	unix:*) test -S "${1#unix:}" ;;
	inet:*) e2e_tcp_open 127.0.0.1 "${1##*:}" ;;
	esac
}
for k in "${!SOCK_PF[@]}"; do
	w=30; [ "${k%-*}" = rspamd ] && w=240
	e2e_poll $w up "${SOCK_PF[$k]}" || e2e_die "$k did not start: $(tail -3 "$D/$k.log" "$R/log/rspamd.log" 2>/dev/null)"
	case ${SOCK_PF[$k]} in unix:*) chmod 666 "${SOCK_PF[$k]#unix:}" ;; esac
done

# rspamd_pids - its main process and workers (the regex compiler excluded)
rspamd_pids() {
	local p
	echo "$RSPAMD_PID"
	for p in /proc/[0-9]*; do
		[ "$(sed 's/^.*) //' "$p/stat" 2>/dev/null | cut -d' ' -f2)" = "$RSPAMD_PID" ] || continue
		tr '\0' ' ' < "$p/cmdline" 2>/dev/null | grep -q hs_helper && continue
		echo "${p#/proc/}"
	done
}
# cpu_of NAME - CPU us so far of a filter (rspamd: the sum)
cpu_of() {
	local p s=0
	case $1 in
	none) echo 0; return ;;
	rspamd-*) for p in $(rspamd_pids); do s=$((s + $(bench_cpu_us "$p"))); done; echo $s ;;
	*) bench_cpu_us "${PID_OF[$1]}" ;;
	esac
}
rss_of() {
	local p s=0
	case $1 in
	none) echo 0; return ;;
	rspamd-*) for p in $(rspamd_pids); do s=$((s + $(bench_rss_kb "$p" VmRSS))); done; echo $s ;;
	*) bench_rss_kb "${PID_OF[$1]}" VmRSS ;;
	esac
}

# --- the message: signed by x.example (rsa), so that gw-inbound verifies it ---
{
	printf 'From: Sender <a@x.example>\r\nTo: b@y.example\r\nSubject: bench\r\n'
	printf 'Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <bench@x.example>\r\n'
	printf 'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n'
	for i in $(seq 30); do printf 'line %02d of the benchmark message body, about sixty-six bytes\r\n' "$i"; done
} > "$D/plain.eml"
"$GW" test -c "$D/gw-rsa-unix.json" --ip 127.0.0.1 --from a@x.example \
    --rcpt b@y.example "$D/plain.eml" >"$D/sign.json" 2>"$D/sign.err" ||
    e2e_die "signing the message: $(cat "$D/sign.err")"
/usr/bin/python3 - "$D/sign.json" "$D/plain.eml" "$D/msg.eml" <<'PY' || e2e_die "no DKIM-Signature"
import json, sys
d = json.load(open(sys.argv[1]))
sig = [h for h in d["headers"]["add"] if h["name"] == "DKIM-Signature"][0]
body = open(sys.argv[2], "rb").read()
v = sig["value"].replace("\r\n", "\n").replace("\n", "\r\n")
open(sys.argv[3], "wb").write(b"DKIM-Signature: " + v.encode() + b"\r\n" + body)
PY
# what gw-inbound decides for the Postfix client (127.0.0.1, HELO client.x.example)
"$GW" test -c "$D/gw-inbound-unix.json" --ip 127.0.0.1 --helo client.x.example \
    --from a@x.example --rcpt b@y.example "$D/msg.eml" 2>/dev/null | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin); r = d["results"]
dk = r.get("dkim")
if isinstance(dk, dict):
    dk = dk.get("signatures", dk)
if isinstance(dk, list):
    dk = ",".join(str(s.get("result")) if isinstance(s, dict) else str(s) for s in dk)
print("gw-inbound on the bench message: verdict %s; spf %s; dkim %s; rules total %s"
      % (d["verdict"], r.get("spf", {}).get("result"), dk,
         r.get("rules", {}).get("total")))' > "$D/sanity.txt" 2>&1
for m in opendkim-unix gw-rsa-unix; do
	out=$(miltertest -D sock="${SOCK_PF[$m]}" -D msg="$D/plain.eml" \
	    -D ip=127.0.0.1 -s tests/interop/milter-msg.lua 2>&1)
	printf '%s\n' "$out" | grep -q '^SIG .*a=rsa-sha256;.*d=x.example' ||
	    e2e_die "$m does not sign the bench message: $(printf '%s\n' "$out" | tail -3)"
done

# --- (a) Postfix ---------------------------------------------------------------------
ORDER=(none nullmilter-unix nullmilter-tcp gw-null-unix gw-null-tcp
    gw-inbound-unix gw-inbound-tcp gw-rsa-unix gw-rsa-tcp gw-ed25519-unix
    gw-ed25519-tcp opendkim-unix opendkim-tcp rspamd-unix rspamd-tcp)
declare -A LPORT
E2E_POSTFIX_MASTER_EXTRA=""
lp=$((BASE + 10))
for k in "${ORDER[@]:1}"; do
	LPORT[$k]=$lp
	E2E_POSTFIX_MASTER_EXTRA+="127.0.0.1:$lp inet n - n - - smtpd -o smtpd_milters=${SOCK_PF[$k]}"$'\n'
	lp=$((lp + 1))
done
LPORT[none]=$SMTP_PORT
e2e_sink_start
e2e_postfix_start none
for k in "${ORDER[@]}"; do
	e2e_poll 10 e2e_tcp_open 127.0.0.1 "${LPORT[$k]}" || e2e_die "no smtpd on ${LPORT[$k]}"
done
delivered() { awk '/status=sent/ { n++ } END { print n + 0 }' "$PF_LOG" 2>/dev/null; }
src() {	# src PORT N - smtp-source with the bench message
	smtp-source -s "$SESSIONS" -m "$2" -M client.x.example -F "$D/msg.eml" \
	    -f a@x.example -t b@y.example 127.0.0.1:"$1"
}

say "== bench-compare $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load average before: $LOAD0"
say "   $(cat "$D/sanity.txt")"
say ""
say "== (a) smtp-source -s $SESSIONS -m $MSGS -> private Postfix -> smtp-sink; $(stat -c %s "$D/msg.eml")-byte DKIM-signed message; everything on 2 shared cores"
declare -A PF
for k in "${ORDER[@]}"; do
	src "${LPORT[$k]}" 200 >/dev/null 2>&1	# warm-up: processes, caches
	e2e_settle 60
	d0=$(delivered); c0=$(cpu_of "$k"); h0=$(bench_host_busy_us)
	s=$(date +%s%N)
	src "${LPORT[$k]}" "$MSGS" >"$D/smtp-source-$k.log" 2>&1
	rc=$?
	e=$(date +%s%N)
	e2e_settle 120
	c1=$(cpu_of "$k"); h1=$(bench_host_busy_us)
	PF[$k]="rate=$(awk -v n="$MSGS" -v ns=$((e - s)) 'BEGIN { printf "%.1f", n / (ns / 1e9) }') delivered=$(( $(delivered) - d0 )) rc=$rc cpu=$(bench_cpu_delta "$c0" "$c1" "$MSGS") host=$(bench_cpu_delta "$h0" "$h1" "$MSGS") rss=$(rss_of "$k")"
done
base=$(field "${PF[none]}" rate)
printf '%-12s %-9s %9s %8s %11s %11s %11s %9s\n' filter transport msgs/s "vs none" delivered "cpu_us/msg" "host_us/msg" "rss_MiB"
for k in "${ORDER[@]}"; do
	r=${PF[$k]}
	tr=${k##*-}; [ "$k" = none ] && tr=-
	printf '%-12s %-9s %9s %8s %11s %11s %11s %9s\n' "${k%-*}" "$tr" \
	    "$(field "$r" rate)" "$(ratio "$(field "$r" rate)" "$base")" \
	    "$(field "$r" delivered)/$MSGS" "$(field "$r" cpu)" "$(field "$r" host)" \
	    "$(awk -v k="$(field "$r" rss)" 'BEGIN { printf "%.1f", k / 1024 }')"
	[ "$(field "$r" rc)" = 0 ] || say "   (smtp-source exited $(field "$r" rc) for $k)"
done

# --- (b) milterload: added latency, RSS at many connections ---------------------------
say ""
say "== (b) milterload (no MTA), unix socket: latency per message (MAIL..eom verdict) gatewarden adds"
declare -A LAT
printf '%-12s %6s %9s %9s %9s %10s %8s\n' config conns p50_ms p99_ms p99.9_ms msgs/s errors
for k in gw-null-unix gw-inbound-unix; do
	for c in 1 10 100; do
		n=$LAT_MSGS; [ "$c" -gt 1 ] && n=$((LAT_MSGS * 2))
		"$BENCH_BIN/milterload" -s "${SOCK_PF[$k]}" -c "$c" -m 200 -e "$D/msg.eml" -q -l warmup >/dev/null 2>&1
		out=$("$BENCH_BIN/milterload" -s "${SOCK_PF[$k]}" -c "$c" -m "$n" -e "$D/msg.eml" -q -l "$k-$c" 2>&1)
		r=$(printf '%s\n' "$out" | grep '^RESULT')
		LAT[$k-$c]=$r
		printf '%-12s %6s %9s %9s %9s %10s %8s\n' "${k%-unix}" "$c" \
		    "$(us2ms "$(field "$r" p50_us)")" "$(us2ms "$(field "$r" p99_us)")" \
		    "$(us2ms "$(field "$r" p999_us)")" "$(field "$r" rate)" "$(field "$r" errors)"
	done
done
# a fresh gw-null for the memory figure: RSS while RSS_CONNS connections are open
gwconf gw-rss "unix:$D/gw-rss.sock" "$NULLJ"
"$GW" -f -c "$D/gw-rss.json" </dev/null >"$D/gw-rss.log" 2>&1 &
RSS_PID=$!; e2e_track gw-rss $RSS_PID
e2e_poll 30 test -S "$D/gw-rss.sock" || e2e_die "gw-rss did not start"
RSS_START=$(bench_rss_kb $RSS_PID VmRSS)
out=$("$BENCH_BIN/milterload" -s "unix:$D/gw-rss.sock" -c "$RSS_CONNS" -k 4 \
    -m $((RSS_CONNS * 4)) -e "$D/msg.eml" -q -l rss 2>&1)
RSS_R=$(printf '%s\n' "$out" | grep '^RESULT')
RSS_HWM=$(bench_rss_kb $RSS_PID VmHWM)
say "gw-null with $RSS_CONNS concurrent connections (4 messages each): VmRSS $RSS_START kB at start, peak (VmHWM) $RSS_HWM kB = $(awk -v k="$RSS_HWM" 'BEGIN { printf "%.1f", k / 1024 }') MiB; errors=$(field "$RSS_R" errors)"
e2e_stop_pid gw-rss "$RSS_PID"

# --- targets ---------------------------------------------------------------------------
cpu() { field "${PF[$1]}" cpu; }
rate() { field "${PF[$1]}" rate; }
say ""
say "== targets (ratios from this run)"
say "gw-inbound / none: unix $(ratio "$(rate gw-inbound-unix)" "$base"), tcp $(ratio "$(rate gw-inbound-tcp)" "$base") (target >= 0.85)"
say "gw-null / none: unix $(ratio "$(rate gw-null-unix)" "$base"), tcp $(ratio "$(rate gw-null-tcp)" "$base") (target >= 0.9)"
say "CPU per message gw-inbound / rspamd: unix $(ratio "$(cpu gw-inbound-unix)" "$(cpu rspamd-unix)"), tcp $(ratio "$(cpu gw-inbound-tcp)" "$(cpu rspamd-tcp)") (target <= 0.33)"
say "CPU per message gw-rsa / opendkim: unix $(ratio "$(cpu gw-rsa-unix)" "$(cpu opendkim-unix)"), tcp $(ratio "$(cpu gw-rsa-tcp)" "$(cpu opendkim-tcp)") (target <= 0.5)"
say "direct load, gw-null, 10 connections: p99 $(us2ms "$(field "${LAT[gw-null-unix-10]}" p99_us)") ms (target <= 0.5 ms); RSS at $RSS_CONNS connections $(awk -v k="$RSS_HWM" 'BEGIN { printf "%.1f", k / 1024 }') MiB (target <= 100)"
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)
say "load average after: $LOAD1; (a)+(b) took $(( $(date +%s) - T0 )) s"

# --- JSON ---------------------------------------------------------------------------------
mkdir -p "$(dirname "$OUT_JSON")"
{
	for k in "${ORDER[@]}"; do printf 'pf %s %s\n' "$k" "${PF[$k]}"; done
	for k in "${!LAT[@]}"; do printf 'lat %s %s\n' "$k" "${LAT[$k]}"; done
	printf 'rss conns=%s start_kb=%s hwm_kb=%s\n' "$RSS_CONNS" "$RSS_START" "$RSS_HWM"
	printf 'env load_before=%s load_after=%s cores=%s msgs=%s sessions=%s\n' \
	    "${LOAD0// /,}" "${LOAD1// /,}" "$(nproc)" "$MSGS" "$SESSIONS"
} | /usr/bin/python3 -c '
import json, sys
out = {"postfix": {}, "milterload": {}, "rss": {}, "env": {}}
def kv(words):
    d = {}
    for w in words:
        if "=" in w:
            k, v = w.split("=", 1)
            try:
                v = float(v) if "." in v else int(v)
            except ValueError:
                pass
            d[k] = v
    return d
for line in sys.stdin:
    w = line.split()
    if w[0] == "pf":
        out["postfix"][w[1]] = kv(w[2:])
    elif w[0] == "lat":
        out["milterload"][w[1]] = kv(w[2:])
    elif w[0] in ("rss", "env"):
        out[w[0]] = kv(w[1:])
base = out["postfix"]["none"]["rate"]
for k, v in out["postfix"].items():
    v["vs_none"] = round(v["rate"] / base, 3) if base else None
json.dump(out, open(sys.argv[1], "w"), indent=1, sort_keys=True)
' "$OUT_JSON" && say "JSON: $OUT_JSON"

# --- (c) the SPF and rules ratios ------------------------------------------------------
if [ -z "${BENCH_CMP_SKIP_C:-}" ]; then
	e2e_postfix_stop >/dev/null 2>&1
	say ""
	say "== (c) tests/bench/spf.sh"
	bash tests/bench/spf.sh || say "(spf.sh exited $?)"
	say ""
	say "== (c) tests/bench/content.sh"
	bash tests/bench/content.sh || say "(content.sh exited $?)"
fi
say ""
say "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
exit 0
