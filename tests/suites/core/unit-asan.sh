#!/bin/sh
# Unit tests under AddressSanitizer + UndefinedBehaviorSanitizer.
cd "$(dirname "$0")/../../.." && exec make --no-print-directory asan
