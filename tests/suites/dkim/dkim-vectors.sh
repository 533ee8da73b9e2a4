#!/bin/sh
# dkim-vectors.sh - the staged DKIM conformance vectors (RFC 6376
# and 8463 examples, dkimpy's data and key-record variants, libopendkim's
# transcribed verify tests) through `gatewarden test`, with RFC 8301 applied
# (rsa-sha1 and RSA keys under 1024 bits are permerror; vectors.py derives
# the expected results).
#
# tests/dkim/vectors.py writes the cases; tests/dkim/gwvectors.py serves
# each case's key records from one DNS test fixture (tests/dns/fixture.py on
# the first free port of 29100-29149, zone switched per case through its
# control socket) and runs every message through `$GW test` with
# dns.servers pointing at it, reading results.dkim.  Sign-then-verify cases
# are signed by `$GW test` from a trusted address (sign.keys = the case's
# key) and the signed message verified the same way.
#
# Left to the C driver (tests/dkim/dkimvec.c, built by the Makefile against
# the tree's library, same signer code): libopendkim's exact-signature vectors
# (rsa-sha256, 9 of them), which need the signing time fixed to the
# vector's (DKIM_OPTS_FIXEDTIME; `gatewarden test` signs at the real time,
# and t= is under the signature) and a signed-header list that is exactly
# the vector's h= (gatewarden always oversigns From and lower-cases the
# names it is given).  bh= and b= must equal the vector's; with simple
# header canonicalization b= cannot (gatewarden folds its signature header
# differently, docs/dkim.md), so there bh= must equal and the signature
# must verify.
#
# Ends with "dkim-vectors: N passed, N failed" over both parts.
cd "$(dirname "$0")/../../.." || exit 1
. tests/lib.sh
t_init dkim-vectors
tmp=$T
VEC=tests/data/conformance/dkim
DKIMVEC=$BUILD/tests/dkimvec

# bail WHY - one failure, and the suite ends here
bail() {
	ko "$*"
	t_done
}
t_data "$VEC/README.md"
[ -x "$GW" ] || bail "no binary at $GW"
make --no-print-directory -s BUILD="$BUILD" "$DKIMVEC" ||
    bail "cannot build $DKIMVEC"
mkdir "$tmp/keys"
$PY tests/dkim/vectors.py "$VEC" "$tmp/keys" "$tmp/exact" > "$tmp/cases" ||
    bail "vectors.py failed"
# figures FILE RC - add the result line of FILE; print everything else
figures() {
	grep -v '^dkim-vectors: [0-9]* passed' "$1"
	line=$(grep -E '^dkim-vectors: [0-9]+ passed, [0-9]+ failed$' "$1" | tail -1)
	if [ -z "$line" ]; then
		echo "dkim-vectors: $1 has no result line"
		fail=$((fail + 1))
		return
	fi
	p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
	f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed$/\1/')
	[ "$2" -eq 0 ] || [ "$f" -gt 0 ] || f=$((f + 1))
	pass=$((pass + p)); fail=$((fail + f))
}

$PY tests/dkim/gwvectors.py --gw "$GW" --cases "$tmp/cases" \
    --port-base 29100 ${V:+-v} > "$tmp/gw.out" 2>&1
figures "$tmp/gw.out" $?
"$DKIMVEC" ${V:+-v} < "$tmp/exact" > "$tmp/exact.out" 2>&1
figures "$tmp/exact.out" $?
t_done
