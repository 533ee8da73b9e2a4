#!/bin/bash
# soak-short - the bounded soak of `make test`: tests/reliability/soak.sh
# with 60,000 messages over 50 connections, a reload every 100 ms
# alternating good (memory store, Redis store) and bad configurations, RSS
# sampled every 0.5 s, then SIGTERM under load.  `make soak` runs the full
# one (1,000,000 messages, 200 connections).
# Ends "soak-short: N passed, N failed".
cd "$(dirname "$0")/../../.." || exit 1
. tests/lib.sh
t_init soak-short
SOAK_MSGS=60000 SOAK_CONC=50 SOAK_PER_CONN=50 SOAK_SAMPLE=0.5 \
    SOAK_HUP_MS=100 SOAK_LOG=info SOAK_PLOT=0 \
    tests/reliability/soak.sh "$T/out" >"$T/soak.out" 2>&1
grep -E '^(ok|FAIL|RESULT)' "$T/soak.out"
t_figures "$(tail -1 "$T/soak.out")"
t_done
