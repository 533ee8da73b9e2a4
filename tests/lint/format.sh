#!/bin/sh
# format.sh BASE FILE... - the lines of FILE changed since commit BASE
# must be as clang-format (.clang-format at the top) writes them.
#
# Why changed lines only: the tree was written by hand in KNF before the
# check existed, and reformatting it whole would rewrite thousands of
# hand-aligned lines (key tables, struct members) for no change in
# behaviour, and not always for the better: clang-format 14 lays a
# designated-initialiser table out one member per line.  Every line written
# or touched after BASE is held to the format, so the tree converges on
# it one change at a time.
# Prints the diff clang-format wants and exits 1 when there is one.
set -u
base=$1
shift
if ! git rev-parse --verify -q "$base^{commit}" >/dev/null; then
	echo "lint: $base is not a commit of this repository (a shallow" \
	    "clone? fetch the history)" >&2
	exit 2
fi
out=$(git clang-format --quiet --diff --extensions c,h "$base" -- "$@" \
    2>&1)
case "$out" in
""|"no modified files to format"|"clang-format did not modify any files")
	exit 0 ;;
esac
printf '%s\n' "$out"
echo "lint: the lines above are not formatted as .clang-format says" \
    "(git clang-format $base fixes them)" >&2
exit 1
