#!/bin/bash
# 42-stop-load - SIGTERM while Postfix's smtp-source pushes mail through the
# real Postfix.  The configuration holds (quarantine: Postfix's hold queue)
# every message from held@gw.example and lets ok@gw.example through; half
# the messages come from each, 10 sessions each, one message per session.
# Once 100 messages are through, gatewarden gets SIGTERM; the sessions go on
# and Postfix applies milter_default_action (tempfail) to those that find
# no milter.  Checks:
#   - the stop waited for the connections in flight (logged, at least one)
#     and gatewarden exited 0 within milter.shutdown_timeout (5 s) plus 1 s;
#   - no message in flight was cut: Postfix logs no milter read/write
#     error past the handshake (connections opened after the stop are
#     closed before it, and Postfix applies its failure action);
#   - nothing the configuration holds got through: no held@ message in the
#     sink, every held@ message Postfix accepted is in the hold queue;
#   - every message Postfix queued is delivered or held, nothing is
#     deferred or left in its other queues, and some mail met the 451 of
#     the MTA's failure action (smtp-source then gives up, like a client
#     that retries later).
# E2E_STOP_MSGS (default 1000) sets the total.
. "$(dirname "$0")/lib.sh"
e2e_init
N=${E2E_STOP_MSGS:-1000}
HALF=$((N / 2))
command -v smtp-source >/dev/null || e2e_die "no smtp-source (postfix)"

rule='{"milter": {"shutdown_timeout": "5s"}, "log": {"level": "info"},
  "policies": {"rules": {"enabled": true, "rules": [
    {"name": "hold_it", "stage": "mail", "if": {"sender": "held@gw.example"},
     "action": "quarantine"}]}}}'
e2e_gw_conf "$E2E_DIR/gw.json" unix "$rule"
e2e_gw_start "$E2E_DIR/gw.json"
e2e_sink_start
e2e_postfix_start "$E2E_PF_MILTER"

e2e_two_streams "$HALF" 10

e2e_poll 60 eval '[ "$(grep -c "status=sent" "$PF_LOG")" -ge 50 ]' ||
    e2e_die "no mail flows: $(tail -5 "$PF_LOG")"
e2e_poll 60 eval '[ "$(( $(grep -c "status=sent" "$PF_LOG") + $(find "$PF_SPOOL"/hold -type f | wc -l) ))" -ge 100 ]' ||
    e2e_die "fewer than 100 messages through"
t0=$(date +%s%N)
kill -TERM "$GW_PID"
for _ in $(seq 1000); do e2e_alive "$GW_PID" || break; sleep 0.01; done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
if e2e_alive "$GW_PID"; then
	e2e_fail "gatewarden still running $ms ms after SIGTERM"
	st=timeout
else
	wait "$GW_PID"; st=$?
fi
e2e_log "SIGTERM under load: status $st after $ms ms"
inflight=$(sed -n 's/.*stopping: \([0-9]*\) connection(s) in flight.*/\1/p' "$GW_LOG")
e2e_check "SIGTERM came with connections in flight (${inflight:-none})" \
    test "${inflight:-0}" -ge 1
e2e_eq "gatewarden exits 0 after SIGTERM under load" 0 "$st"
e2e_check "... within shutdown_timeout + 1 s ($ms ms)" test "$ms" -lt 6000
e2e_eq "no connection was left open at exit" 0 \
    "$(grep -c 'exiting with .* still open' "$GW_LOG")"

wait "$ok_pid"
wait "$held_pid"
e2e_poll 120 eval '[ "$(find "$PF_SPOOL"/incoming "$PF_SPOOL"/active \
    "$PF_SPOOL"/maildrop -type f | wc -l)" -eq 0 ]' || true
sleep 1
delivered=$(e2e_sink_count)
held=$(find "$PF_SPOOL"/hold -type f | wc -l)
refused=$(grep -c 'milter-reject: .* 451 4.7.1' "$PF_LOG")
# smtp-source gives up at the first 451 (the rest is not sent); count
# the messages Postfix took (queued, one cleanup line each)
queued=$(grep -cE '/cleanup\[[0-9]+\]: [0-9A-F]+: message-id=' "$PF_LOG")
e2e_log "sent $N: delivered $delivered, held $held, queued $queued, milter-reject 451 lines $refused"
e2e_eq "no held@ message reached the sink" "" "$(e2e_sink_grep 'held@gw.example')"
e2e_check "some mail was refused with 451 after the stop (the MTA's failure action)" \
    test "$refused" -ge 1
e2e_eq "every queued message was delivered or held" "$queued" "$((delivered + held))"
e2e_eq "nothing deferred" 0 "$(find "$PF_SPOOL"/deferred -type f | wc -l)"
# a connection opened after the stop is closed before the handshake (Postfix
# logs "read error in initial handshake" and applies its failure action);
# any other milter read or write error would be a message cut short
e2e_check "Postfix met the stop at the handshake of new connections" \
    grep -q "milter .*read error in initial handshake" "$PF_LOG"
e2e_eq "no milter error past the handshake in Postfix's log (no message cut)" "" \
    "$(grep -E "milter .*(can't read|can't send|read error|unexpected EOF|lost connection)" "$PF_LOG" |
    grep -vE "SMFIC_OPTNEG|initial handshake" | head -3)"
e2e_finish
