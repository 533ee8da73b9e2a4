#!/bin/bash
# 03-tcp - gatewarden on inet:PORT@127.0.0.1: accepted mail arrives with
# our A-R on top, a rule rejects at RCPT; with the daemon stopped, Postfix
# (milter_default_action = tempfail) answers 4xx and nothing is delivered.
. "$(dirname "$0")/lib.sh"
e2e_init

e2e_gw_conf "$E2E_DIR/gw.json" tcp '{"policies": {"rules": {"enabled": true, "rules": [
  {"name": "block-rcpt", "stage": "rcpt",
   "if": {"rcpt": {"is": ["blocked@dest.example"]}},
   "action": "reject", "code": "550", "xcode": "5.7.1", "text": "not here"}
]}}}'
e2e_gw_start "$E2E_DIR/gw.json"
e2e_sink_start
e2e_postfix_start "$E2E_PF_MILTER"
e2e_match "Postfix talks to the daemon over TCP" '^inet:127\.0\.0\.1:' \
    "$(postconf -c "$PF_ETC" -h smtpd_milters)"

# 1. accepted, A-R on top
if e2e_send --header "X-Test-Id: e2e03-good"; then
	e2e_ok "good: accepted"
else
	e2e_fail "good: accepted" "$(tail -5 "$E2E_SWAKS")"
fi
if f=$(e2e_wait_sink "X-Test-Id: e2e03-good"); then
	e2e_ok "good: reached the sink"
	e2e_match "good: our A-R is the first header" \
	    "^Authentication-Results: *$E2E_AUTHSERV_ID *(;|\$)" \
	    "$(e2e_header_lines "$f" | head -1)"
else
	e2e_fail "good: reached the sink"
fi

# 2. rejected at RCPT
e2e_send --to blocked@dest.example --header "X-Test-Id: e2e03-rcpt"
e2e_eq "RCPT: rejected over TCP" "550 5.7.1 not here" \
    "$(e2e_reply 'RCPT TO:<blocked@dest.example>')"

# 3. daemon gone: Postfix's milter_default_action = tempfail
e2e_gw_stop
if e2e_send --header "X-Test-Id: e2e03-down"; then
	e2e_fail "down: refused while the milter is down" "$(tail -8 "$E2E_SWAKS")"
else
	e2e_match "down: answered 4xx" '^4[0-9][0-9] ' \
	    "$(grep -E '^ *<\*\* ' "$E2E_SWAKS" | head -1 | sed 's/^ *<\*\* *//')"
fi
e2e_check "queue empty" e2e_settle
e2e_eq "only the good message reached the sink" 1 "$(e2e_sink_count)"

e2e_finish
