#!/bin/sh
# dnssec.sh - DNSSEC validation with real signed data on loopback.
# Zones are signed at test time with keys made at test time (bind9-utils:
# dnssec-keygen, dnssec-signzone), served by NSD on 127.0.0.1 (a port in
# 28900-28999, started and stopped by PID), and the resolver is pointed at
# NSD as its forwarder with a trust anchor for signed.test (not the root).
#
#   signed.test            signed; anchored (DS, or DNSKEY)
#     tampered.signed.test TXT changed after signing: bogus
#     child.signed.test    delegated with DS, signed: secure by the chain
#     expired.signed.test  delegated with DS, signatures expired: bogus
#     insec.signed.test    delegated without DS (NSEC proves it), unsigned:
#                          insecure, resolves
#     lying.signed.test    delegated with DS, served unsigned: bogus
#   plain.test             unsigned, not under the anchor: resolves
#
# Checks through tests/dns/dnsq and `gatewarden test` (SPF, both engines).
# Ends with "dnssec: N passed, N failed".
cd "$(dirname "$0")/../../.." || exit 1
. tests/lib.sh
[ -z "${DNSSEC_KEEP:-}" ] || KEEP=1
t_init dnssec
DNSQ=$BUILD/tests/dnsq
NPID=
# nsd_gone: the NSD process has exited (a zombie counts: kill -0 passes it)
nsd_gone() {
	! alive "$NPID"
}
cleanup() {
	[ -z "$NPID" ] || stop_pid "$NPID"
}

if ! make -s BUILD="$BUILD" "$DNSQ" "$GW" >"$T/make.log" 2>&1; then
	cat "$T/make.log"
	ko "build dnsq and gatewarden"
	t_done
fi
for tool in dnssec-keygen dnssec-signzone dnssec-dsfromkey nsd nsd-checkzone dig; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		ko "$tool not installed (make deps-test: bind9-utils, nsd, bind9-dnsutils)"
		t_done
	fi
done

# --- keys and zones ----------------------------------------------------------
Z=$T/zones
mkdir -p "$Z"
# keygen ZONE: a new ECDSA P-256 key (flags 257), prints its file stem
keygen() {
	dnssec-keygen -q -K "$Z" -a ECDSAP256SHA256 -f KSK -n ZONE "$1"
}
# soa: the head of a zone (SOA, NS)
soa() {
	printf '$TTL 300\n@ SOA ns.signed.test. host.signed.test. 1 3600 600 86400 300\n  NS ns.signed.test.\n'
}
# sign ZONE KEY [ARGS...]: ZONE.zone + KEY into ZONE.signed
sign() {
	zone=$1; key=$2; shift 2
	cat "$Z/$key.key" >> "$Z/$zone.zone"
	dnssec-signzone -q -z -d "$Z" -K "$Z" "$@" -o "$zone" \
	    -f "$Z/$zone.signed" "$Z/$zone.zone" "$Z/$key" >"$T/sign-$zone.log" 2>&1
}
SPF_OK='v=spf1 ip4:192.0.2.0/24 -all'

# make_zones: keys, zone files, signatures; status 1 on the first failure
make_zones() {
	KS=$(keygen signed.test) || return 1
	KW=$(keygen signed.test) || return 1	# the wrong anchor: signs nothing
	KC=$(keygen child.signed.test) || return 1
	KE=$(keygen expired.signed.test) || return 1
	KL=$(keygen lying.signed.test) || return 1	# DS published, nothing signed

	{ soa; printf '@ TXT "%s"\n' "$SPF_OK"; } > "$Z/child.signed.test.zone"
	sign child.signed.test "$KC" || return 1
	{ soa; printf '@ TXT "v=spf1 +all"\n'; } > "$Z/expired.signed.test.zone"
	# valid from two days ago until yesterday; -P: the signer's own
	# check would refuse the expired result
	sign expired.signed.test "$KE" -P -s now-172800 -e now-86400 || return 1
	{ soa; printf '@ TXT "%s"\n' "$SPF_OK"; } > "$Z/insec.signed.test.signed"
	{ soa; printf '@ TXT "%s"\n' "$SPF_OK"; } > "$Z/lying.signed.test.signed"
	{ soa | sed 's/ns\.signed\.test\./ns.plain.test./; s/host\.signed/host.plain/'
	  printf 'ns A 127.0.0.1\n@ TXT "%s"\n' "$SPF_OK"; } > "$Z/plain.test.signed"
	{
		soa
		printf 'ns A 127.0.0.1\n@ TXT "%s"\nwww A 192.0.2.1\n' "$SPF_OK"
		printf 'tampered TXT "v=spf1 -all"\n'
		printf 'child NS ns\nexpired NS ns\ninsec NS ns\nlying NS ns\n'
		dnssec-dsfromkey -2 "$Z/$KC.key" &&
		dnssec-dsfromkey -2 "$Z/$KE.key" &&
		dnssec-dsfromkey -2 "$Z/$KL.key"
	} > "$Z/signed.test.zone" || return 1
	sign signed.test "$KS" || return 1
	# changed after signing: the RRSIG no longer matches
	sed -i 's/"v=spf1 -all"/"v=spf1 +all"/' "$Z/signed.test.signed" &&
	dnssec-dsfromkey -2 "$Z/$KS.key" > "$T/anchor.ds" &&
	grep -v '^;' "$Z/$KS.key" > "$T/anchor.dnskey" &&
	dnssec-dsfromkey -2 "$Z/$KW.key" > "$T/wrong.ds"
}
if ! make_zones; then
	cat "$T"/sign-*.log 2>/dev/null
	ko "keys and signed zones"
	t_done
fi
# changed after signing: the RRSIG no longer matches
sed -i 's/"v=spf1 -all"/"v=spf1 +all"/' "$Z/signed.test.signed"
check "zones signed" grep -q 'tampered.*"v=spf1 +all"' "$Z/signed.test.signed"
check "expired.signed.test signed with an end time in the past" \
    grep -q "^[[:space:]]*$(date -u -d yesterday +%Y%m%d)[0-9]* " "$Z/expired.signed.test.signed"
printf '; no anchors in here\n' > "$T/empty.key"

# --- NSD on a free port in 28900-28999 --------------------------------------
PORT=
for try in 1 2 3 4 5; do
	p=$(free_port 28900 28999 $(($$ + try * 37))) || continue
	cat > "$T/nsd.conf" <<EOF
server:
    ip-address: 127.0.0.1@$p
    port: $p
    server-count: 1
    username: ""
    chroot: ""
    zonesdir: "$Z"
    pidfile: "$T/nsd.pid"
    database: ""
    xfrdfile: "$T/xfrd.state"
    zonelistfile: "$T/zone.list"
    xfrdir: "$T"
    logfile: "$T/nsd.log"
    verbosity: 1
remote-control:
    control-enable: no
EOF
	for zone in signed.test child.signed.test expired.signed.test \
	    insec.signed.test lying.signed.test plain.test; do
		printf 'zone:\n    name: "%s"\n    zonefile: "%s.signed"\n' \
		    "$zone" "$zone" >> "$T/nsd.conf"
	done
	nsd -d -c "$T/nsd.conf" </dev/null >"$T/nsd.out" 2>&1 &
	NPID=$!
	i=0
	while [ $i -lt 100 ] && ! nsd_gone; do
		if dig +short +time=1 +tries=1 @127.0.0.1 -p "$p" signed.test SOA 2>/dev/null | grep -q ns.signed.test; then
			PORT=$p
			break
		fi
		sleep 0.05; i=$((i + 1))
	done
	[ -n "$PORT" ] && break
	stop_pid "$NPID"; NPID=
done
if [ -z "$PORT" ]; then
	cat "$T/nsd.out" "$T/nsd.log" 2>/dev/null
	ko "nsd start"
	t_done
fi
for zone in signed.test child.signed.test expired.signed.test; do
	check "NSD serves $zone with signatures" sh -c \
	    "dig +dnssec +norec +time=1 +tries=1 @127.0.0.1 -p $PORT $zone SOA | grep -q RRSIG"
done
S=127.0.0.1@$PORT

# jcheck FILE LINE EXPR: EXPR (Python, over r = the LINE-th JSON object, 1-based) is true
jcheck() {
	$PY -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
r = lines[int(sys.argv[2]) - 1] if len(lines) >= int(sys.argv[2]) else {}
ok = eval(sys.argv[3])
if not ok:
    print("    got: %s" % json.dumps(r)[:300])
sys.exit(0 if ok else 1)
' "$@"
}
SECURE_OK="r.get('status') == 'answer' and r['secure'] and r['rr'] == ['$SPF_OK']"
BOGUS="r.get('status') == 'tempfail' and 'DNSSEC' in r['why'] and 'bogus' in r['why'] and r['rr'] == []"
INSECURE_OK="r.get('status') == 'answer' and not r['secure'] and r['rr'] == ['$SPF_OK']"

# --- validation with the DS anchor --------------------------------------------
$DNSQ -s "$S" -t 3000 -a "$T/anchor.ds" signed.test TXT www.signed.test A \
    nx.signed.test A signed.test MX child.signed.test TXT \
    tampered.signed.test TXT expired.signed.test TXT insec.signed.test TXT \
    lying.signed.test TXT plain.test TXT >"$T/ds.json" 2>"$T/ds.err"
check "signed TXT: answer, secure" jcheck "$T/ds.json" 1 "$SECURE_OK"
check "signed A: answer, secure" jcheck "$T/ds.json" 2 "r.get('status') == 'answer' and r['secure'] and r['rr'] == ['192.0.2.1']"
check "NXDOMAIN proven by NSEC: secure" jcheck "$T/ds.json" 3 "r.get('status') == 'nxdomain' and r['secure']"
check "NODATA proven by NSEC: secure" jcheck "$T/ds.json" 4 "r.get('status') == 'nodata' and r['secure']"
check "signed child zone, DS in the parent: secure" jcheck "$T/ds.json" 5 "$SECURE_OK"
check "record changed after signing: tempfail, DNSSEC bogus" jcheck "$T/ds.json" 6 "$BOGUS"
check "signatures expired: tempfail, DNSSEC bogus" jcheck "$T/ds.json" 7 "$BOGUS"
check "delegation without DS under the anchor: resolves, not secure" jcheck "$T/ds.json" 8 "$INSECURE_OK"
check "DS in the parent, child served unsigned: bogus" jcheck "$T/ds.json" 9 "$BOGUS"
check "zone outside the anchor: resolves, not secure" jcheck "$T/ds.json" 10 "$INSECURE_OK"
$DNSQ -s "$S" -t 3000 -a "$T/anchor.ds" -m signed.test TXT tampered.signed.test TXT \
    plain.test TXT >"$T/many.json" 2>&1
check "parallel lookups: secure" jcheck "$T/many.json" 1 "$SECURE_OK"
check "parallel lookups: bogus" jcheck "$T/many.json" 2 "$BOGUS"
check "parallel lookups: outside the anchor" jcheck "$T/many.json" 3 "$INSECURE_OK"

# --- the same data without an anchor ----------------------------------------
$DNSQ -s "$S" -t 3000 signed.test TXT tampered.signed.test TXT \
    expired.signed.test TXT >"$T/none.json" 2>&1
check "no anchor: signed TXT answers, not secure" jcheck "$T/none.json" 1 "$INSECURE_OK"
check "no anchor: the changed record is believed" jcheck "$T/none.json" 2 "r.get('status') == 'answer' and not r['secure'] and r['rr'] == ['v=spf1 +all']"
check "no anchor: expired signatures are not looked at" jcheck "$T/none.json" 3 "r.get('status') == 'answer' and not r['secure']"

# --- a DNSKEY anchor, a wrong anchor, an empty anchor file ------------------------
$DNSQ -s "$S" -t 3000 -a "$T/anchor.dnskey" signed.test TXT tampered.signed.test TXT \
    >"$T/key.json" 2>&1
check "DNSKEY anchor: secure" jcheck "$T/key.json" 1 "$SECURE_OK"
check "DNSKEY anchor: bogus" jcheck "$T/key.json" 2 "$BOGUS"
$DNSQ -s "$S" -t 3000 -a "$T/wrong.ds" signed.test TXT plain.test TXT >"$T/wrong.json" 2>&1
check "anchor of another key: the zone is bogus" jcheck "$T/wrong.json" 1 "$BOGUS"
check "anchor of another key: other zones still resolve" jcheck "$T/wrong.json" 2 "$INSECURE_OK"
$DNSQ -s "$S" -a "$T/empty.key" signed.test TXT >"$T/empty.json" 2>&1
check "anchor file without anchors refused by the resolver" sh -c \
    "! grep -q '^{' '$T/empty.json' && grep -q 'no DS or DNSKEY record' '$T/empty.json'"

# --- SPF through gatewarden test --------------------------------------------
printf 'Subject: dnssec\n\nbody\n' > "$T/m.eml"
# gwconf FILE ENGINE ANCHOR: a configuration with the SPF policy on
gwconf() {
	ta=
	[ -n "$3" ] && ta=", \"trust_anchor_file\": \"$3\""
	cat > "$1" <<EOF
{
    "authserv_id": "mx.gw.test",
    "dns": {"servers": ["$S"], "timeout_ms": 3000$ta},
    "policies": {"spf": {"enabled": true, "engine": "$2", "receiver": "mx.gw.test"}}
}
EOF
}
# gwtest CONF FROM OUT: one SMTP transaction from 192.0.2.5
gwtest() {
	"$GW" test -c "$1" --ip 192.0.2.5 --helo plain.test --from "$2" \
	    --rcpt rcpt@mx.gw.test "$T/m.eml" >"$3" 2>"$3.err"
}
# gcheck FILE EXPR: EXPR over r = the JSON object gatewarden test printed
gcheck() {
	$PY -c '
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except ValueError:
    r = {}
try:
    ok = eval(sys.argv[2])
except (KeyError, TypeError):
    ok = False
if not ok:
    print("    got: %s" % json.dumps(r)[:400])
sys.exit(0 if ok else 1)
' "$@"
}
TEMPERROR="r['verdict'] == 'tempfail' and r['reply']['code'] == '451' and r['reply']['xcode'] == '4.4.3' and r['results']['spf']['result'] == 'temperror'"
PASS="r['verdict'] == 'accept' and r['results']['spf']['result'] == 'pass'"
for engine in native libspf2; do
	gwconf "$T/gw-$engine.json" "$engine" anchor.ds
	gwtest "$T/gw-$engine.json" a@signed.test "$T/spf-$engine-1.json"
	check "$engine: SPF in the signed zone: pass" gcheck "$T/spf-$engine-1.json" "$PASS"
	gwtest "$T/gw-$engine.json" a@tampered.signed.test "$T/spf-$engine-2.json"
	check "$engine: SPF record changed after signing: temperror, 451 4.4.3" \
	    gcheck "$T/spf-$engine-2.json" "$TEMPERROR"
	gwtest "$T/gw-$engine.json" a@expired.signed.test "$T/spf-$engine-3.json"
	check "$engine: SPF record with expired signatures: temperror, 451 4.4.3" \
	    gcheck "$T/spf-$engine-3.json" "$TEMPERROR"
	gwtest "$T/gw-$engine.json" a@insec.signed.test "$T/spf-$engine-4.json"
	check "$engine: SPF in the insecure delegation: pass" gcheck "$T/spf-$engine-4.json" "$PASS"
	gwtest "$T/gw-$engine.json" a@plain.test "$T/spf-$engine-5.json"
	check "$engine: SPF outside the anchor: pass" gcheck "$T/spf-$engine-5.json" "$PASS"
done
gwconf "$T/gw-none.json" native ""
gwtest "$T/gw-none.json" a@tampered.signed.test "$T/spf-none.json"
check "without an anchor the changed SPF record passes (what validation stops)" \
    gcheck "$T/spf-none.json" "$PASS"
gwconf "$T/gw-empty.json" native empty.key
"$GW" -n -c "$T/gw-empty.json" >"$T/gw-empty.out" 2>&1
check "gatewarden -n refuses an anchor file without anchors" sh -c \
    "grep -q '/dns/trust_anchor_file: no DS or DNSKEY record in' '$T/gw-empty.out'"

# --- NSD stops on TERM ----------------------------------------------------------
kill "$NPID"
i=0
while [ $i -lt 100 ] && ! nsd_gone; do
	sleep 0.05; i=$((i + 1))
done
check "NSD stops on SIGTERM" nsd_gone
wait "$NPID" 2>/dev/null
NPID=

if [ $fail -ne 0 ]; then
	echo "--- work dir $T (DNSSEC_KEEP=1 keeps it)"
	cat "$T/nsd.log" 2>/dev/null | tail -5
fi
t_done
