#!/bin/sh
# MIME walker and header decoders (hostile input: broken boundaries, bad
# encodings, unknown charsets, deep nesting): build the libFuzzer target
# and replay its seed corpus tests/fuzz/corpus/mime once.  Long runs are
# `make fuzz`.
cd "$(dirname "$0")/.." || exit 1
export BUILD=${BUILD:-build}
FUZZ_LABEL=mime-fuzz FUZZ_ONLY=fuzz_mime exec tests/fuzz/run.sh --replay
