#!/bin/sh
# suite-51-dkim-interop.sh - gatewarden's DKIM signatures against other
# implementations, and theirs against gatewarden's verifier.
#
#  - messages signed by gatewarden (rsa-2048 and ed25519, relaxed/relaxed
#    and simple/simple; plain, folded and long headers, 8-bit body, empty
#    body, trailing blank lines; CRLF and LF input) verify with dkimpy and
#    Mail::DKIM (which has no ed25519 and must say "invalid" there);
#  - messages signed by dkimpy (rsa and ed25519) and Mail::DKIM (rsa) pass
#    in gatewarden, and fail after one changed byte in the body or in a
#    signed header.
# Mail::DKIM fetches keys from a DNS server on 127.0.0.1:29053 (python3
# dnslib), stopped by PID.  The gatewarden side is the DKIM code of the
# tree (tests/dkim/dkimvec.c sign/verify).  Ends "dkim-interop: N passed,
# N failed".
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
PORT=${DKIM_DNS_PORT:-29053}
PY=/usr/bin/python3
tmp=$(mktemp -d /tmp/gw-dkimiop.XXXXXX) || exit 1
dnspid=""
cleanup() {
	[ -n "$dnspid" ] && kill "$dnspid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
pass=0; fail=0
ok() { pass=$((pass + 1)); [ -n "$V" ] && echo "ok   $*"; return 0; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
check() {	# check WHAT GOT WANT
	if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: got '$2', want '$3'"; fi
}

cc -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -I. -Ifilter \
    $(pkg-config --cflags opendkim jansson) -o "$tmp/dkimvec" \
    tests/dkim/dkimvec.c "$BUILD/libgw.a" \
    $(pkg-config --libs opendkim libcrypto jansson) || {
	echo "dkim-interop: 0 passed, 1 failed"; exit 1; }
GW="$tmp/dkimvec"

# keys and their records
umask 077
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/rsa.pem" 2>/dev/null
openssl genpkey -algorithm ED25519 -out "$tmp/ed.pem" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/peer.pem" 2>/dev/null
openssl rsa -in "$tmp/peer.pem" -traditional -out "$tmp/peer-pkcs1.pem" 2>/dev/null
rsapub=$(openssl pkey -in "$tmp/rsa.pem" -pubout -outform DER | base64 -w0)
edpub=$(openssl pkey -in "$tmp/ed.pem" -pubout -outform DER | tail -c 32 | base64 -w0)
peerpub=$(openssl pkey -in "$tmp/peer.pem" -pubout -outform DER | base64 -w0)
{
	printf 'gwrsa._domainkey.example.com\tv=DKIM1; k=rsa; p=%s\n' "$rsapub"
	printf 'gwed._domainkey.example.com\tv=DKIM1; k=ed25519; p=%s\n' "$edpub"
	printf 'peerrsa._domainkey.example.com\tv=DKIM1; k=rsa; p=%s\n' "$peerpub"
	printf 'peered._domainkey.example.com\tv=DKIM1; k=ed25519; p=%s\n' "$edpub"
} > "$tmp/dns.tab"
umask 022

$PY tests/interop/peers.py dns "$tmp/dns.tab" "$PORT" "$tmp/dns.pid" \
    >"$tmp/dns.log" 2>&1 &
dnspid=$!
i=0
while [ ! -s "$tmp/dns.pid" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
[ -s "$tmp/dns.pid" ] || { bad "DNS server did not start"; cat "$tmp/dns.log"; }

mkdir "$tmp/msgs"
$PY tests/interop/peers.py messages "$tmp/msgs"

# 1. gatewarden signs, dkimpy and Mail::DKIM verify
for alg in rsa ed; do
	case $alg in
	rsa) key=$tmp/rsa.pem; a=rsa-sha256; sel=gwrsa ;;
	ed) key=$tmp/ed.pem; a=ed25519-sha256; sel=gwed ;;
	esac
	for canon in relaxed/relaxed simple/simple; do
		for m in "$tmp"/msgs/*.eml; do
			n="gw-$alg-$(echo $canon | tr / -)-$(basename "$m" .eml)"
			if ! "$GW" sign "$key" $a $sel example.com $canon "$m" \
			    > "$tmp/$n.eml" 2>"$tmp/err"; then
				bad "$n: signing: $(cat "$tmp/err")"; continue
			fi
			check "$n dkimpy" "$($PY tests/interop/peers.py \
			    dkimpy-verify "$tmp/dns.tab" "$tmp/$n.eml" 2>&1)" pass
			# Mail::DKIM 1.20230212 has no ed25519: it must call
			# the signature invalid (unknown algorithm), not failed
			check "$n Mail::DKIM" "$(perl tests/interop/maildkim.pl \
			    verify "$PORT" "$tmp/$n.eml" 2>&1)" \
			    "$([ $alg = ed ] && echo invalid || echo pass)"
			check "$n gatewarden" "$("$GW" verify "$tmp/dns.tab" \
			    "$tmp/$n.eml" 2>/dev/null)" pass
		done
	done
done

# 2. dkimpy and Mail::DKIM sign, gatewarden verifies; one byte changed fails
tamper() {	# tamper FILE OUT body|header
	$PY - "$1" "$2" "$3" <<'PYEOF'
import sys, re
msg = open(sys.argv[1], 'rb').read()
sep = b'\r\n\r\n' if b'\r\n\r\n' in msg else b'\n\n'
head, body = msg.split(sep, 1)
if sys.argv[3] == 'body':
    body = body + b'X' if not body else body[:-3] + b'Z' + body[-2:] if len(body) > 3 else b'Z' + body
else:
    head = re.sub(rb'(?m)^(Subject:.)(.)', lambda m: m.group(1) + (b'Q' if m.group(2) != b'Q' else b'R'), head, 1)
open(sys.argv[2], 'wb').write(head + sep + body)
PYEOF
}
for m in "$tmp"/msgs/*.eml; do
	b=$(basename "$m" .eml)
	for signer in dkimpy-rsa dkimpy-ed maildkim-rsa; do
		n="$signer-$b"
		case $signer in
		dkimpy-rsa) $PY tests/interop/peers.py dkimpy-sign "$tmp/peer.pem" \
		    peerrsa example.com rsa-sha256 relaxed/relaxed "$m" \
		    > "$tmp/$n.eml" 2>"$tmp/err" ;;
		dkimpy-ed) $PY tests/interop/peers.py dkimpy-sign "$tmp/ed.pem" \
		    peered example.com ed25519-sha256 relaxed/simple "$m" \
		    > "$tmp/$n.eml" 2>"$tmp/err" ;;
		maildkim-rsa) perl tests/interop/maildkim.pl sign \
		    "$tmp/peer-pkcs1.pem" peerrsa example.com relaxed "$m" \
		    > "$tmp/$n.eml" 2>"$tmp/err" ;;
		esac || { bad "$n: peer signing failed: $(head -3 "$tmp/err")"; continue; }
		check "$n gatewarden" "$("$GW" verify "$tmp/dns.tab" "$tmp/$n.eml" 2>/dev/null)" pass
		tamper "$tmp/$n.eml" "$tmp/$n-b.eml" body
		check "$n body byte" "$("$GW" verify "$tmp/dns.tab" "$tmp/$n-b.eml" 2>/dev/null)" fail
		tamper "$tmp/$n.eml" "$tmp/$n-h.eml" header
		check "$n header byte" "$("$GW" verify "$tmp/dns.tab" "$tmp/$n-h.eml" 2>/dev/null)" fail
	done
done

echo "dkim-interop: $pass passed, $fail failed"
[ $fail -eq 0 ] && [ $pass -gt 0 ]
