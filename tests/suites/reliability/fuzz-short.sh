#!/bin/sh
# fuzz-short - the bounded fuzzing of `make test`: the seed corpora of the
# targets no other suite replays (envelope, dmarc, conf, dkim), then every
# target fuzzed for FUZZ_SHORT_SECS (3) seconds from its seeds.  `make
# fuzz-long` fuzzes each for 30 minutes.  A crash fails the suite; its input is in
# $BUILD/fuzz/ and, once fixed, joins tests/fuzz/corpus/<target>/.
# Ends "fuzz-short: N passed, N failed".
cd "$(dirname "$0")/../../.." || exit 1
. tests/lib.sh
t_init fuzz-short
out=$(FUZZ_ONLY='envelope\|dmarc\|conf\|dkim' FUZZ_LABEL=replay \
    tests/fuzz/run.sh --replay 2>&1)
echo "$out" | grep -v '^replay:'
t_figures "$(echo "$out" | tail -1)"
out=$(FUZZ_LABEL=fuzz tests/fuzz/run.sh "${FUZZ_SHORT_SECS:-3}" 2>&1)
echo "$out" | grep -v '^fuzz:'
t_figures "$(echo "$out" | tail -1)"
t_done
