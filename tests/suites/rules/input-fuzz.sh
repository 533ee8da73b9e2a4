#!/bin/sh
# Hostile input outside SPF: the MIME walker and header decoders (broken
# boundaries, bad encodings, unknown charsets, NULs, deep nesting) and the
# DNS record helpers (TXT strings, MX/PTR names, addresses from untrusted
# servers).  Replays the seed corpora tests/fuzz/corpus/{mime,dns_rdata}
# once through the libFuzzer targets (built by `make fuzz-tools`, part of
# `make test`); long runs are `make fuzz`.
cd "$(dirname "$0")/../../.." || exit 1
. tests/lib.sh
FUZZ_LABEL=input-fuzz FUZZ_ONLY='fuzz_mime\|fuzz_dns_rdata' exec tests/fuzz/run.sh --replay
