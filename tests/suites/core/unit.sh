#!/bin/sh
# Unit tests, plain build.
cd "$(dirname "$0")/../../.." && exec tests/unit/run.sh "${BUILD:-build}/tests"
