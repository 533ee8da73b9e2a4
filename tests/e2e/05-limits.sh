#!/bin/bash
# 05-limits - a message that can never pass gatewarden's bounds (a header
# over limits.max_header_bytes, more headers than limits.max_headers) gets
# the permanent limits.reply, 552 5.3.4 with a text naming the limit, at
# the end of DATA through the real Postfix, instead of a 4XX that makes the
# sender retry for days; a message inside the bounds is delivered.
# A header of about 70 KB gets the same answer.  Postfix hands the milter
# only about the first 60 KB of it (a 72 KB header arrived as a 59990-byte
# packet), under libmilter's default 64 KB command size; a header over
# that through the daemon is tests/suites/core/memory.sh's.
# limits.max_message_bytes (4000 here): a MAIL FROM with SIZE= over it is
# refused at MAIL, a longer message without SIZE= at its end, both with
# the same 552 5.3.4 naming the limit.
# limits.max_rcpts (2 here, and no policy hooks RCPT): the third RCPT gets
# 452 4.5.3 from the core, the message goes to the first two.
. "$(dirname "$0")/lib.sh"
e2e_init

e2e_gw_conf "$E2E_DIR/gw.json" unix '{"limits": {"max_headers": 20, "max_header_bytes": 1024, "max_message_bytes": 4000, "max_rcpts": 2}}'
e2e_gw_start "$E2E_DIR/gw.json"
e2e_sink_start
e2e_postfix_start "$E2E_PF_MILTER"

# a header folded over 40 lines, about 3 KB; 30 headers
/usr/bin/python3 - "$E2E_DIR" <<'PY' || e2e_die "cannot write the messages"
import sys
d = sys.argv[1]
head = "From: sender@gw.example\r\nTo: rcpt@dest.example\r\nSubject: limits\r\n"
with open(d + "/big.eml", "w", newline="") as f:
    f.write(head + "X-Test-Id: e2e05-big\r\nX-Big: start\r\n")
    f.write(("\t" + "b" * 70 + "\r\n") * 40)
    f.write("\r\nbody\r\n")
with open(d + "/huge.eml", "w", newline="") as f:
    f.write(head + "X-Test-Id: e2e05-huge\r\nX-Huge: start\r\n")
    f.write(("\t" + "h" * 70 + "\r\n") * 1000)
    f.write("\r\nbody\r\n")
with open(d + "/long.eml", "w", newline="") as f:
    f.write(head + "X-Test-Id: e2e05-long\r\n\r\n")
    f.write(("l" * 70 + "\r\n") * 100)
with open(d + "/many.eml", "w", newline="") as f:
    f.write(head + "X-Test-Id: e2e05-many\r\n")
    f.write("".join("X-N%d: %d\r\n" % (i, i) for i in range(30)))
    f.write("\r\nbody\r\n")
with open(d + "/fits.eml", "w", newline="") as f:
    f.write(head + "X-Test-Id: e2e05-fits\r\nX-Folded: start\r\n")
    f.write(("\t" + "f" * 70 + "\r\n") * 10)
    f.write("\r\nbody\r\n")
PY

# 1. one header over max_header_bytes
e2e_send --data @"$E2E_DIR/big.eml"
e2e_eq "big header: MAIL accepted" 250 "$(e2e_reply_code 'MAIL FROM')"
e2e_eq "big header: permanent reply naming the limit" \
    "552 5.3.4 Header field X-Big too large (limit 1024 bytes)" "$(e2e_reply .)"

# 1b. one header of about 70 KB
e2e_send --data @"$E2E_DIR/huge.eml"
e2e_eq "70 KB header: permanent reply naming the limit" \
    "552 5.3.4 Header field X-Huge too large (limit 1024 bytes)" "$(e2e_reply .)"

# 1c. SIZE= over max_message_bytes: refused at MAIL (swaks sends no SIZE=)
got=$(/usr/bin/python3 - "$SMTP_PORT" <<'PY'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
s.ehlo("client.gw.example")
code, text = s.mail("sender@gw.example", ["SIZE=5000"])
print(code, text.decode())
s.quit()
PY
)
e2e_eq "SIZE over max_message_bytes: permanent reply at MAIL naming the limit" \
    "552 5.3.4 Message size exceeds fixed limit (limit 4000 bytes)" "$got"

# 1d. a message over max_message_bytes without SIZE=: at its end
e2e_send --data @"$E2E_DIR/long.eml"
e2e_eq "long message: MAIL accepted" 250 "$(e2e_reply_code 'MAIL FROM')"
e2e_eq "long message: permanent reply naming the limit" \
    "552 5.3.4 Message size exceeds fixed limit (limit 4000 bytes)" "$(e2e_reply .)"

# 2. more headers than max_headers
e2e_send --data @"$E2E_DIR/many.eml"
e2e_eq "many headers: permanent reply naming the limit" \
    "552 5.3.4 Too many header fields (limit 20)" "$(e2e_reply .)"
e2e_match "gatewarden logs the bound it hit" \
    'message exceeds limits\.max_headers' "$(cat "$GW_LOG")"

# 3. a folded header inside the bound passes
e2e_send --data @"$E2E_DIR/fits.eml"
e2e_eq "fits: accepted" 250 "$(e2e_reply_code .)"
if e2e_wait_sink "X-Test-Id: e2e05-fits" >/dev/null; then
	e2e_ok "fits: delivered"
else
	e2e_fail "fits: delivered"
fi
# 4. more recipients than max_rcpts, with no policy hooking RCPT: the MTA
# must still wait for the RCPT reply that carries the core's 452
e2e_send --to r1@dest.example,r2@dest.example,r3@dest.example \
    --header "X-Test-Id: e2e05-rcpts"
e2e_eq "rcpts: the first two accepted" "250 250" \
    "$(e2e_reply_code 'RCPT TO:<r1@') $(e2e_reply_code 'RCPT TO:<r2@')"
e2e_eq "rcpts: the third refused by the core's bound" \
    "452 4.5.3 Too many recipients" "$(e2e_reply 'RCPT TO:<r3@')"
e2e_eq "rcpts: the message accepted for the other two" 250 "$(e2e_reply_code .)"
if f=$(e2e_wait_sink "X-Test-Id: e2e05-rcpts"); then
	e2e_eq "rcpts: delivered to r1 and r2 only" "r1 r2" \
	    "$(grep -a '^X-Rcpt-Args:' "$f" | grep -ohE 'r[0-9]@dest\.example' | sort -u | cut -c1-2 | tr '\n' ' ' | sed 's/ $//')"
else
	e2e_fail "rcpts: delivered"
fi

e2e_check "queue empty" e2e_settle
# Postfix's log is written by its own process: give it a moment (cleanup
# logs the enhanced code and text of the reply, without the 552)
for _ in $(seq 50); do
	e2e_maillog | grep -q 'milter-reject: END-OF-MESSAGE .*: 5\.3\.4 Too many' && break
	sleep 0.1
done
e2e_match "big header: Postfix logs a milter-reject at END-OF-MESSAGE" \
    'milter-reject: END-OF-MESSAGE from .*: 5\.3\.4 Header field X-Big too large' \
    "$(e2e_maillog)"
for id in big huge long many; do
	e2e_eq "$id: never reached the sink" "" "$(e2e_sink_grep "X-Test-Id: e2e05-$id")"
done
e2e_eq "sink holds exactly the accepted messages" 2 "$(e2e_sink_count)"

e2e_finish
