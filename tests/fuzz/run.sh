#!/bin/sh
# run.sh [--replay] [SECONDS] - the libFuzzer targets.
#
# The targets are built by the Makefile (`make fuzz-tools`: clang,
# -fsanitize=fuzzer,address,undefined) into $BUILD/fuzz; this fuzzes each
# for SECONDS (default 60; `make fuzz`) starting from a scratch copy of its
# seed corpus
# tests/fuzz/corpus/<target>/, or with --replay runs the seeds once (the
# short check in `make test`).  New inputs found while fuzzing stay in
# $BUILD/fuzz/corpus-<target>; crashes are written to $BUILD/fuzz/.
# Prints "<target>: ok|FAIL" per target and ends "fuzz: N passed, N failed"
# (the label is FUZZ_LABEL when set).
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
out=$BUILD/fuzz
label=${FUZZ_LABEL:-fuzz}
replay=0
[ "$1" = "--replay" ] && { replay=1; shift; }
secs=${1:-60}
# The targets, as the Makefile's FUZZ_TARGETS builds them.
TARGETS="fuzz_spf_record fuzz_spf_macro fuzz_spf_libspf2 fuzz_mime fuzz_dns_rdata
	fuzz_arc fuzz_envelope fuzz_dmarc fuzz_conf fuzz_dkim"
[ -n "$FUZZ_ONLY" ] || FUZZ_ONLY=.
mkdir -p "$out"
pass=0; fail=0
for t in $TARGETS; do
	echo "$t" | grep -q -- "$FUZZ_ONLY" || continue
	seeds=tests/fuzz/corpus/${t#fuzz_}
	if [ ! -x "$out/$t" ]; then
		echo "$t: FAIL (not built: make BUILD=$BUILD fuzz-tools)"
		fail=$((fail + 1)); continue
	fi
	nseed=$(ls "$seeds" 2>/dev/null | wc -l)
	if [ "$nseed" -eq 0 ]; then
		echo "$t: FAIL (no seeds in $seeds)"
		fail=$((fail + 1)); continue
	fi
	if [ "$replay" -eq 1 ]; then
		"$out/$t" -runs=0 -rss_limit_mb=1024 -timeout=10 "$seeds" \
		    >"$out/$t.log" 2>&1
		st=$?
	else
		mkdir -p "$out/corpus-$t"
		cp -n "$seeds"/* "$out/corpus-$t"/ 2>/dev/null
		"$out/$t" -max_total_time="$secs" -rss_limit_mb=1024 -timeout=10 \
		    -max_len=4096 -artifact_prefix="$out/$t-" "$out/corpus-$t" \
		    >"$out/$t.log" 2>&1
		st=$?
	fi
	if [ "$st" -eq 0 ]; then
		echo "$t: ok ($nseed seeds$([ "$replay" -eq 1 ] || echo ", ${secs}s"); $(grep -E '^#[0-9]+' "$out/$t.log" | tail -1 | awk '{print $1, $2}'))"
		pass=$((pass + 1))
	else
		echo "$t: FAIL (exit $st), last lines of $out/$t.log:"
		tail -25 "$out/$t.log"
		fail=$((fail + 1))
	fi
done
echo "$label: $pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
