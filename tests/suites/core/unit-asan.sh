#!/bin/sh
# unit-asan.sh - the unit tests under AddressSanitizer + UndefinedBehavior-
# Sanitizer (`make asan` builds them into build/asan and runs them).
cd "$(dirname "$0")/../../.." || exit 1
. tests/lib.sh
exec make --no-print-directory asan
