#!/bin/sh
# SPF fuzz targets (native record parser and evaluator, macro expander,
# libspf2 adapter, built by `make fuzz-tools`): replay the seed corpora
# tests/fuzz/corpus/spf_* once.  Long fuzzing runs are `make fuzz`.
cd "$(dirname "$0")/../../.." || exit 1
. tests/lib.sh
FUZZ_LABEL=spf-fuzz FUZZ_ONLY=fuzz_spf_ exec tests/fuzz/run.sh --replay
