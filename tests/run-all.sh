#!/bin/sh
# run-all.sh - every test suite in the order below, then one closing line
# "N passed, N failed".
#
# A suite is an executable tests/suites/GROUP/NAME.sh, run from the top of
# the tree with GW (the binary) and BUILD set.  It sources tests/lib.sh,
# prints what it likes and ends with a line "NAME: N passed, N failed"; its
# exit status is non-zero on any failure.  A suite that is missing or prints
# no such line counts as one failure.  Suites start what they need on their
# own ports and stop it by PID, also when they fail.
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
GW=${GW:-$PWD/$BUILD/gatewarden}
export BUILD GW

# The run order: cheap and self-contained first, then the suites that start
# servers, the real Postfix last.
SUITES="
	core/unit
	core/unit-asan
	core/docs
	core/lint
	core/layering
	core/install
	core/config
	core/memory
	dns/dns
	dns/dnssec
	spf/spf
	spf/spf-fuzz-replay
	ratelimit/ratelimit
	redis/sentinel
	redis/cluster
	redis/multihost
	redis/auth
	rules/corpus
	rules/dnsbl
	rules/greylist
	rules/input-fuzz
	dkim/dkim-vectors
	dkim/dkim-interop
	dkim/dkim-checkdns
	dkim/opendkim-import
	dkim/dkim-rotate
	dmarc/dmarc
	arc/arc
	milter/milter
	milter/daemon
	metrics/metrics
	reliability/hostile
	reliability/addresses
	reliability/soak-short
	reliability/fuzz-short
	reliability/hardening
	reliability/faults-redis
	reliability/injection
	reliability/faults-dns
	reliability/faults-disk
	reliability/privileges
	reliability/signing
	e2e/e2e
	e2e/sendmail
"

pass=0; fail=0; rc=0; summary=""
for name in $SUITES; do
	s=tests/suites/$name.sh
	echo "=== $name"
	if [ ! -x "$s" ]; then
		echo "$name: no executable $s"
		fail=$((fail + 1)); rc=1
		summary="$summary\n  $name: missing"
		continue
	fi
	out=$(mktemp)
	start=$(date +%s)
	{ "$s" </dev/null; echo $? > "$out.rc"; } 2>&1 | tee "$out"
	st=$(cat "$out.rc" 2>/dev/null || echo 1)
	line=$(grep -E '^[A-Za-z0-9_.-]+: [0-9]+ passed, [0-9]+ failed' "$out" | tail -1)
	rm -f "$out" "$out.rc"
	if [ -z "$line" ]; then
		echo "$name: no result line"
		fail=$((fail + 1)); rc=1
		summary="$summary\n  $name: no result line"
		continue
	fi
	p=$(echo "$line" | sed -E 's/^[^:]*: ([0-9]+) passed.*/\1/')
	f=$(echo "$line" | sed -E 's/^[^:]*: [0-9]+ passed, ([0-9]+) failed.*/\1/')
	pass=$((pass + p)); fail=$((fail + f))
	if [ "$st" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1; fail=$((fail + 1)); line="$line (exit $st)"
	fi
	[ "$f" -eq 0 ] || rc=1
	summary="$summary\n  $line ($(( $(date +%s) - start ))s)"
done
for s in tests/suites/*/*.sh; do
	name=${s#tests/suites/}
	name=${name%.sh}
	case " $(echo $SUITES) " in
	*" $name "*) ;;
	*)	echo "$name: not in the run order of tests/run-all.sh"
		fail=$((fail + 1)); rc=1
		summary="$summary\n  $name: not listed" ;;
	esac
done
printf "=== summary$summary\n"
echo "$pass passed, $fail failed"
exit $rc
