#!/bin/sh
# suite-54-arc.sh - ARC (RFC 8617), docs/arc.md:
#  - the ValiMail ARC test suite (tests/data/arc/arc_test_suite): every
#    validation and signing case through the C driver tests/arc/arcvec.c
#    (built here against the tree's library) with the suite's keys, DNS
#    records and fixed clock; 100 mutations of each passing chain never
#    pass (tests/arc/arcsuite.py);
#  - interop with dkimpy (python3-dkim) both ways, chains of three sealers
#    mixing dkimpy and gatewarden, seals over broken chains, and the
#    daemon's path through `gatewarden test` with the DNS fixture on the
#    first free port of 29250-29299 (tests/arc/interop.py);
#  - the fuzz target's seeds replayed (tests/fuzz/fuzz_arc.c).
# Prints arc-validation, arc-mutations, arc-signing, arc-interop and
# arc-fuzz lines, and ends with "arc: N passed, N failed".
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
GW=${GW:-$PWD/$BUILD/gatewarden}
PY=/usr/bin/python3
tmp=$(mktemp -d /tmp/gw-arc.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

bail() {
	echo "arc: $*"
	echo "arc: 0 passed, 1 failed"
	exit 1
}
[ -x "$GW" ] || bail "no binary at $GW"
if ! cc -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -I. \
    $(pkg-config --cflags opendkim jansson) -o "$tmp/arcvec" \
    tests/arc/arcvec.c "$BUILD/libgw.a" \
    $(pkg-config --libs opendkim libcrypto jansson); then
	bail "cannot build tests/arc/arcvec.c"
fi

pass=0; fail=0
# figures FILE RC - add every "arc-*: N passed, N failed" line of FILE
figures() {
	cat "$1"
	lines=$(grep -E '^arc-[a-z]+: [0-9]+ passed, [0-9]+ failed$' "$1")
	if [ -z "$lines" ]; then
		echo "arc: $1 has no result line"
		fail=$((fail + 1))
		return
	fi
	f0=$fail
	for l in $(echo "$lines" | sed -E 's/^[^:]*: ([0-9]+) passed, ([0-9]+) failed$/\1:\2/'); do
		pass=$((pass + ${l%%:*})); fail=$((fail + ${l##*:}))
	done
	[ "$2" -eq 0 ] || [ "$fail" -gt "$f0" ] || fail=$((fail + 1))
}

mkdir "$tmp/suite" "$tmp/interop"
$PY tests/arc/arcsuite.py "$tmp/arcvec" tests/data/arc/arc_test_suite \
    "$tmp/suite" ${V:+-v} > "$tmp/suite.out" 2>&1
figures "$tmp/suite.out" $?
$PY tests/arc/interop.py "$tmp/arcvec" "$GW" "$PWD" "$tmp/interop" 29250 \
    ${V:+-v} > "$tmp/interop.out" 2>&1
figures "$tmp/interop.out" $?
FUZZ_LABEL=arc-fuzz FUZZ_ONLY=fuzz_arc BUILD=$BUILD tests/fuzz/run.sh \
    --replay > "$tmp/fuzz.out" 2>&1
figures "$tmp/fuzz.out" $?
echo "arc: $pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
