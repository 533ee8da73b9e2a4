#!/bin/sh
# lint.sh - `make lint` finds nothing: cppcheck over every source, and
# clang-format over every line changed since the Makefile's LINT_BASE.
# Then the check is shown to fail: a badly formatted line added to a copy
# of a source file in a scratch commit of a throwaway clone is caught.
# Ends "lint: N passed, N failed".
cd "$(dirname "$0")/../../.." || exit 1
. tests/lib.sh
t_init lint
t_require cppcheck git clang-format

if make --no-print-directory -s lint >"$T/lint.out" 2>&1; then
	ok "make lint finds nothing"
else
	ko "make lint finds something" "$(tail -20 "$T/lint.out")"
fi

# the format check can fail: one unformatted line in a clone
base=$(sed -n 's/^LINT_BASE := //p' Makefile)
top=$PWD
if git clone -q . "$T/clone" 2>"$T/clone.err"; then
	(
		cd "$T/clone" || exit 1
		printf 'static int lint_probe(void){return  0;}\n' \
		    >> filter/util/clock.c
		git -c user.name=t -c user.email=t@localhost commit -qam probe
		cp "$top/.clang-format" .
		"$top/tests/lint/format.sh" "$base" filter/util/clock.c
	) >"$T/probe.out" 2>&1
	st=$?
	check "an unformatted line fails the check (exit $st)" test "$st" -eq 1
	check "... and the diff names it" grep -q 'lint_probe' "$T/probe.out"
else
	ko "cannot clone the checkout" "$(cat "$T/clone.err")"
fi
t_done
