#!/bin/sh
# run.sh DIR [LABEL] - run every unit-test binary in DIR; print each one's
# line and a total "unit[-LABEL]: N passed, N failed".  Exit 1 on failure,
# on a binary that crashed, or on a binary that ran no check.
dir=$1; label=unit${2:+-$2}
pass=0; fail=0; rc=0
for t in "$dir"/test_*; do
	[ -x "$t" ] || continue
	out=$("$t" 2>&1); st=$?
	line=$(printf '%s\n' "$out" | grep -E '^[A-Za-z0-9_-]+: [0-9]+ passed, [0-9]+ failed$' | tail -1)
	if [ -z "$line" ] || [ $st -ne 0 ]; then
		printf '%s\n' "$out" | tail -40
	fi
	if [ -z "$line" ]; then
		echo "$(basename "$t"): no result line (exit $st)"
		fail=$((fail + 1)); rc=1; continue
	fi
	echo "  $line"
	p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
	f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed$/\1/')
	pass=$((pass + p)); fail=$((fail + f))
	[ $st -eq 0 ] || { [ "$f" -gt 0 ] || fail=$((fail + 1)); rc=1; }
done
if [ $((pass + fail)) -eq 0 ]; then	# nothing ran: that is no pass
	echo "$label: no unit-test binaries in $dir (build them first)"
	fail=1; rc=1
fi
echo "$label: $pass passed, $fail failed"
exit $rc
