#!/bin/bash
# 25-content-rules - the anti-spam rules through a real Postfix: the GTUBE
# string is rejected at end of DATA with the shipped rule's reply, and a
# greylisted first attempt gets 451 4.7.1 at RCPT while the retry after
# the delay is delivered.
. "$(dirname "$0")/lib.sh"
e2e_init

GTUBE='XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X'
e2e_gw_conf "$E2E_DIR/gw.json" unix '{"policies": {"rules": {"enabled": true,
  "greylist": {"delay": "1s", "retry_window": "1h", "pass_lifetime": "1d"},
  "rules": [
    {"name": "GTUBE", "stage": "eom",
     "if": {"body": {"contains": "'"$GTUBE"'", "caseless": false}},
     "action": "reject", "code": 550, "xcode": "5.7.1",
     "text": "Message content rejected (GTUBE test pattern)"}
  ]}}}'
e2e_gw_start "$E2E_DIR/gw.json"
e2e_sink_start
e2e_postfix_start "$E2E_PF_MILTER"

# 1. greylisting: the first attempt is refused at RCPT
e2e_send --xclient-addr 198.51.100.23 --from grey@sender.example \
    --header "X-Test-Id: e2e25-first"
e2e_eq "greylist: first attempt 451 at RCPT" \
    "451 4.7.1 Greylisted, try again later" "$(e2e_reply 'RCPT TO')"

# 2. the retry after the delay is delivered
retry() {
	e2e_send --xclient-addr 198.51.100.23 --from grey@sender.example \
	    --header "X-Test-Id: e2e25-grey-retry" >/dev/null 2>&1
}
if e2e_poll 5 retry; then
	e2e_ok "greylist: retry after the delay accepted"
else
	e2e_fail "greylist: retry after the delay accepted"
fi
if e2e_wait_sink "X-Test-Id: e2e25-grey-retry" >/dev/null; then
	e2e_ok "greylist: retry delivered"
else
	e2e_fail "greylist: retry delivered"
fi

# 3. GTUBE from a client that passed greylisting: rejected after DATA
e2e_send --xclient-addr 198.51.100.23 --from grey@sender.example \
    --header "X-Test-Id: e2e25-gtube" --body "$GTUBE"
e2e_eq "GTUBE: rejected at end of DATA" \
    "550 5.7.1 Message content rejected (GTUBE test pattern)" "$(e2e_reply .)"
e2e_match "GTUBE: Postfix logs a milter-reject at END-OF-MESSAGE" \
    'milter-reject: END-OF-MESSAGE from .*5\.7\.1 Message content rejected' \
    "$(e2e_maillog)"

e2e_send --xclient-addr 198.51.100.23 --from grey@sender.example \
    --header "X-Test-Id: e2e25-good"
e2e_wait_sink "X-Test-Id: e2e25-good" >/dev/null || e2e_fail "good: delivered"
e2e_check "queue empty" e2e_settle
e2e_eq "GTUBE never reached the sink" "" "$(e2e_sink_grep 'X-Test-Id: e2e25-gtube')"
e2e_eq "first greylisted attempt never reached the sink" "" \
    "$(e2e_sink_grep 'X-Test-Id: e2e25-first')"

e2e_finish
