#!/bin/sh
# run.sh [--replay] [SECONDS] - the libFuzzer targets.
#
# Builds every target listed below with clang (-fsanitize=fuzzer,address,
# undefined) into $BUILD/fuzz, then either fuzzes each for SECONDS (default
# 60; `make fuzz`) starting from a scratch copy of its seed corpus
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
CC_FUZZ=${CC_FUZZ:-clang}
CFLAGS_FUZZ="-g -O1 -std=c11 -Wall -D_GNU_SOURCE -I. \
 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"

# target  sources (besides tests/fuzz/<target>.c)  libraries
TARGETS="
fuzz_spf_record|policies/spf/spf_eval.c filter/util/arena.c filter/util/xalloc.c filter/util/log.c filter/util/clock.c|
fuzz_spf_macro|policies/spf/spf_eval.c filter/util/arena.c filter/util/xalloc.c filter/util/log.c filter/util/clock.c|
fuzz_spf_libspf2|policies/spf/spf_libspf2.c filter/util/arena.c filter/util/xalloc.c filter/util/log.c filter/util/clock.c|-lspf2
fuzz_mime|policies/rules/rules_mime.c policies/rules/rules_mime_header.c policies/rules/rules_mime_html.c filter/util/arena.c filter/util/xalloc.c filter/util/log.c filter/util/clock.c|
fuzz_dns_rdata|filter/dns/dns.c filter/dns/dns_rr.c tests/unit/dns_static.c filter/dns/dns_ub.c filter/dns/dns_conf.c filter/util/cidr.c filter/conf/conf_build.c filter/conf/conf_locate.c filter/util/arena.c filter/util/xalloc.c filter/util/log.c filter/util/clock.c|-lunbound -ljansson -lpthread
fuzz_arc|policies/arc/arc_tags.c policies/arc/arc_canon.c policies/arc/arc_key.c policies/arc/arc_verify.c policies/arc/arc_seal.c filter/dns/dns_rr.c filter/util/cidr.c filter/util/arena.c filter/util/xalloc.c filter/util/log.c filter/util/clock.c|-lcrypto
"
[ -n "$FUZZ_ONLY" ] || FUZZ_ONLY=.
mkdir -p "$out"
pass=0; fail=0
for row in $(echo "$TARGETS" | tr ' ' '@'); do
	t=${row%%|*}; rest=${row#*|}
	srcs=$(echo "${rest%%|*}" | tr '@' ' '); libs=$(echo "${rest#*|}" | tr '@' ' ')
	echo "$t" | grep -q -- "$FUZZ_ONLY" || continue
	seeds=tests/fuzz/corpus/${t#fuzz_}
	if ! $CC_FUZZ $CFLAGS_FUZZ -o "$out/$t" "tests/fuzz/$t.c" $srcs $libs \
	    2>"$out/$t.build.log"; then
		echo "$t: FAIL (build, see $out/$t.build.log)"
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
