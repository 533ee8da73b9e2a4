#!/bin/bash
# 01-accept-unix - gatewarden on a unix socket, null configuration (no
# policy): a clean message is accepted and arrives with our
# Authentication-Results on top, above Postfix's own Received header;
# forged A-R headers that claim our authserv_id are removed, a foreign
# one is kept.
. "$(dirname "$0")/lib.sh"
e2e_init
EML=$E2E_TOP/tests/data/eml

e2e_gw_conf "$E2E_DIR/gw.json" unix '{}'
e2e_gw_start "$E2E_DIR/gw.json"
e2e_sink_start
e2e_postfix_start "$E2E_PF_MILTER"

# our_ar FILE - the A-R lines that carry our authserv_id
our_ar() {
	e2e_header_lines "$1" |
	    grep -E "^Authentication-Results: $E2E_AUTHSERV_ID *(;|\$)"
}

# check_top DESC FILE - our A-R is the first header, above Postfix's Received
check_top() {
	local hl first ar_i rcv_i
	hl=$(e2e_header_lines "$2")
	first=$(printf '%s\n' "$hl" | head -1)
	e2e_match "$1: our Authentication-Results is the first header" \
	    "^Authentication-Results: $E2E_AUTHSERV_ID *(;|\$)" "$first"
	ar_i=$(printf '%s\n' "$hl" | grep -nE '^Authentication-Results:' | head -1 | cut -d: -f1)
	rcv_i=$(printf '%s\n' "$hl" | grep -nE '^Received: .*by mx\.gw\.test \(Postfix\)' | head -1 | cut -d: -f1)
	if [ -n "$ar_i" ] && [ -n "$rcv_i" ] && [ "$ar_i" -lt "$rcv_i" ]; then
		e2e_ok "$1: A-R (header $ar_i) above Postfix's Received (header $rcv_i)"
	else
		e2e_fail "$1: A-R above Postfix's Received" "A-R at ${ar_i:-none}, Received at ${rcv_i:-none}" "$hl"
	fi
	e2e_eq "$1: exactly one A-R with our authserv_id" 1 "$(our_ar "$2" | wc -l)"
}

# 1. a clean message
if e2e_send --data @"$EML/plain.eml" --header "X-Test-Id: e2e01-plain"; then
	e2e_ok "plain: accepted ($(e2e_reply .))"
else
	e2e_fail "plain: accepted" "$(tail -5 "$E2E_SWAKS")"
fi
if f=$(e2e_wait_sink "X-Test-Id: e2e01-plain"); then
	e2e_ok "plain: reached the sink"
	check_top plain "$f"
else
	e2e_fail "plain: reached the sink"
fi

# 2. from a non-loopback client identity (XCLIENT)
if e2e_send --xclient-addr 198.51.100.23 --xclient-name mta.upstream.example \
    --header "X-Test-Id: e2e01-xclient"; then
	e2e_ok "xclient: accepted"
else
	e2e_fail "xclient: accepted" "$(tail -5 "$E2E_SWAKS")"
fi
if f=$(e2e_wait_sink "X-Test-Id: e2e01-xclient"); then
	e2e_ok "xclient: reached the sink"
	check_top xclient "$f"
	e2e_match "xclient: Postfix saw the posed client" \
	    '\[198\.51\.100\.23\]' "$(e2e_header_lines "$f" | grep '(Postfix)')"
else
	e2e_fail "xclient: reached the sink"
fi

# 3. forged A-R headers
if e2e_send --data @"$EML/forged-ar.eml" --header "X-Test-Id: e2e01-forged"; then
	e2e_ok "forged: accepted"
else
	e2e_fail "forged: accepted" "$(tail -5 "$E2E_SWAKS")"
fi
if f=$(e2e_wait_sink "X-Test-Id: e2e01-forged"); then
	e2e_ok "forged: reached the sink"
	check_top forged "$f"
	e2e_eq "forged: both forged A-R removed" 0 \
	    "$(e2e_header_lines "$f" | grep -cE 'mailfrom=forged@|header\.s=forged')"
	e2e_eq "forged: the foreign A-R kept" 1 \
	    "$(e2e_header_lines "$f" | grep -c '^Authentication-Results: upstream\.example;')"
else
	e2e_fail "forged: reached the sink"
fi

e2e_finish
