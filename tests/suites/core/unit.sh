#!/bin/sh
# unit.sh - the unit tests, plain build (tests/unit/run.sh prints the line).
cd "$(dirname "$0")/../../.." || exit 1
. tests/lib.sh
exec tests/unit/run.sh "$BUILD/tests"
