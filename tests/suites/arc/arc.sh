#!/bin/sh
# arc.sh - ARC (RFC 8617), docs/arc.md:
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
cd "$(dirname "$0")/../../.." || exit 1
. tests/lib.sh
t_init arc
tmp=$T
t_built "$GW"
[ -x "$BUILD/tests/arcvec" ] || { ko "no $BUILD/tests/arcvec (make test-tools)"; t_done; }
cp "$BUILD/tests/arcvec" "$tmp/arcvec"

# figures FILE RC - add every "arc-*: N passed, N failed" line of FILE
figures() {
	cat "$1"
	lines=$(grep -E '^arc-[a-z]+: [0-9]+ passed, [0-9]+ failed$' "$1")
	if [ -z "$lines" ]; then
		ko "$1 has no result line"
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
t_done
