#!/bin/bash
# 02-reject-unix - rules that reject at MAIL, at RCPT (that recipient
# only), at end of DATA, and one that tempfails at end of DATA: each gets
# the configured code and text at the right SMTP stage, and only accepted
# mail reaches the sink.
. "$(dirname "$0")/lib.sh"
e2e_init

e2e_gw_conf "$E2E_DIR/gw.json" unix '{"policies": {"rules": {"enabled": true, "rules": [
  {"name": "block-mail", "stage": "mail",
   "if": {"sender": {"is": ["spammer@bad.example"]}},
   "action": "reject", "code": "550", "xcode": "5.7.1", "text": "sender blocked"},
  {"name": "block-rcpt", "stage": "rcpt",
   "if": {"rcpt": {"is": ["blocked@dest.example"]}},
   "action": "reject", "code": "550", "xcode": "5.1.1", "text": "recipient blocked"},
  {"name": "block-eom", "stage": "eom",
   "if": {"sender": {"is": ["eom@bad.example"]}},
   "action": "reject", "code": "554", "xcode": "5.7.0", "text": "message refused"},
  {"name": "later-eom", "stage": "eom",
   "if": {"sender": {"is": ["later@slow.example"]}},
   "action": "tempfail", "code": "451", "xcode": "4.7.1", "text": "try again later"}
]}}}'
e2e_gw_start "$E2E_DIR/gw.json"
e2e_sink_start
e2e_postfix_start "$E2E_PF_MILTER"

# 1. reject at MAIL
e2e_send --from spammer@bad.example --header "X-Test-Id: e2e02-mail"
e2e_eq "MAIL: rejected with the rule's reply" "550 5.7.1 sender blocked" \
    "$(e2e_reply 'MAIL FROM')"
e2e_match "MAIL: Postfix logs a milter-reject at MAIL" \
    'milter-reject: MAIL from .*5\.7\.1 sender blocked' "$(e2e_maillog)"

# 2. reject at RCPT: only that recipient
e2e_send --to blocked@dest.example,ok@dest.example --header "X-Test-Id: e2e02-rcpt"
e2e_eq "RCPT: the blocked recipient rejected" "550 5.1.1 recipient blocked" \
    "$(e2e_reply 'RCPT TO:<blocked@dest.example>')"
e2e_eq "RCPT: the next recipient accepted" 250 \
    "$(e2e_reply_code 'RCPT TO:<ok@dest.example>')"
e2e_eq "RCPT: the message accepted for the other one" 250 "$(e2e_reply_code .)"
if f=$(e2e_wait_sink "X-Test-Id: e2e02-rcpt"); then
	e2e_ok "RCPT: delivered to the accepted recipient"
	e2e_eq "RCPT: delivered to ok@ only" "<ok@dest.example>" \
	    "$(grep '^X-Rcpt-Args:' "$f" | awk '{print $2}' | tr '\n' ' ' | sed 's/ $//')"
else
	e2e_fail "RCPT: delivered to the accepted recipient"
fi

# 3. reject at end of DATA
e2e_send --from eom@bad.example --header "X-Test-Id: e2e02-eom"
e2e_eq "EOM: MAIL accepted" 250 "$(e2e_reply_code 'MAIL FROM')"
e2e_eq "EOM: rejected after the data" "554 5.7.0 message refused" "$(e2e_reply .)"
e2e_match "EOM: Postfix logs a milter-reject at END-OF-MESSAGE" \
    'milter-reject: END-OF-MESSAGE from .*5\.7\.0 message refused' "$(e2e_maillog)"

# 4. tempfail at end of DATA
e2e_send --from later@slow.example --header "X-Test-Id: e2e02-tempfail"
e2e_eq "tempfail: answered 451 after the data" "451 4.7.1 try again later" \
    "$(e2e_reply .)"

# 5. a good message after all that, then nothing left in the queue
e2e_send --header "X-Test-Id: e2e02-good"
if e2e_wait_sink "X-Test-Id: e2e02-good" >/dev/null; then
	e2e_ok "good: delivered after the rejections"
else
	e2e_fail "good: delivered after the rejections"
fi
e2e_check "queue empty" e2e_settle
for id in mail eom tempfail; do
	e2e_eq "$id: never reached the sink" "" "$(e2e_sink_grep "X-Test-Id: e2e02-$id")"
done
e2e_eq "sink holds exactly the two accepted messages" 2 "$(e2e_sink_count)"

e2e_finish
