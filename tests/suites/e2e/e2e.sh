#!/bin/bash
# e2e.sh - end-to-end cases with a real Postfix (tests/e2e/NN-*.sh).
# Each case runs on its own port block and temp dir, so they run side by
# side (E2E_JOBS at a time, default 4); their output is printed in order.
# Every case ends with "NAME: N passed, N failed"; a case without that line
# counts as one failure.  Ends "e2e: N passed, N failed".
#   tests/suites/e2e/e2e.sh [CASE-NAME-PATTERN]
cd "$(dirname "$0")/../../.." || exit 1
. tests/lib.sh
t_init e2e
jobs=${E2E_JOBS:-4}
pat=${1:-}
out=$T

cases=()
for c in tests/e2e/[0-9][0-9]-*.sh; do
	[ -x "$c" ] || continue
	[ -z "$pat" ] || [[ $(basename "$c") == *$pat* ]] || continue
	cases+=("$c")
done

if [ ! -x "$GW" ]; then
	ko "no daemon binary at $GW"
	t_done
fi

# run in waves of $jobs (each case waits for its own processes)
running=()
for c in "${cases[@]}"; do
	n=$(basename "$c" .sh)
	( start=$(date +%s%N)
	  "$c" </dev/null >"$out/$n.out" 2>&1
	  echo $? >"$out/$n.rc"
	  echo $(( ($(date +%s%N) - start) / 1000000 )) >"$out/$n.ms" ) &
	running+=($!)
	if [ ${#running[@]} -ge "$jobs" ]; then
		wait "${running[0]}"
		running=("${running[@]:1}")
	fi
done
wait

for c in "${cases[@]}"; do
	n=$(basename "$c" .sh)
	echo "--- $n ($(cat "$out/$n.ms" 2>/dev/null || echo '?') ms)"
	cat "$out/$n.out"
	line=$(grep -E "^$n: [0-9]+ passed, [0-9]+ failed\$" "$out/$n.out" | tail -1)
	rc=$(cat "$out/$n.rc" 2>/dev/null || echo 1)
	if [ -z "$line" ]; then
		echo "FAIL $n: no result line (exit $rc)"
		fail=$((fail + 1))
		continue
	fi
	p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
	f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed$/\1/')
	pass=$((pass + p)); fail=$((fail + f))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL $n: exit $rc"
		fail=$((fail + 1))
	fi
done
t_done
