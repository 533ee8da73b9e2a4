#!/bin/bash
# injection - what a client writes must not become a header of ours, and a
# forged Authentication-Results for our authserv-id never survives.
#   1. CR/LF in HELO and in MAIL FROM: the Received-SPF and
#      Authentication-Results we add carry no CR, no LF but our own
#      folding, no injected field;
#   2. printf directives (%n %s %x) in HELO and MAIL FROM: no crash, the
#      text arrives as written;
#   3. inbound A-R headers claiming mx.example.net, in every position and
#      case variant (first, between others, last; name and id in any case;
#      a comment and a version before the id; folded; no space after ';';
#      no result at all) are all removed, and only they: a foreign one and
#      "mx.example.net." (another token) stay.
# `gatewarden test` runs the SPF policy with a resolver on loopback where
# nothing answers.  Ends "injection: N passed, N failed".
cd "$(dirname "$0")/../../.." || exit 1
. tests/lib.sh
t_init injection
t_built "$GW"

"$PY" - "$T" <<'PY' || { ko "cannot write the configurations"; t_done; }
import json, sys
d = sys.argv[1]
c = json.load(open("conf/gatewarden.json"))
c["dns"] = {"servers": ["127.0.0.1@31496"], "timeout_ms": 200}
c["authserv_id"] = "mx.example.net"
for only, name in (("spf", "spf"), ("rules", "ar")):
    p = json.loads(json.dumps(c["policies"]))
    for k in p:
        if isinstance(p[k], dict):
            p[k]["enabled"] = k == only
    c2 = dict(c, policies=p)
    json.dump(c2, open("%s/%s.json" % (d, name), "w"), indent=1)
PY
printf 'From: a@good.example\nTo: b@dest.example\nSubject: x\n\nbody\n' >"$T/m.eml"

# added CONF HELO FROM - the added headers as "NAME: VALUE" records
# separated by 0x1e, or "ERROR" when test mode failed
added() {
	"$GW" test -c "$T/$1.json" --ip 192.0.2.10 --helo "$2" --from "$3" \
	    --rcpt b@dest.example "$T/m.eml" 2>/dev/null | "$PY" -c '
import json, sys
try:
    j = json.load(sys.stdin)
except ValueError:
    print("ERROR"); sys.exit()
for h in j["headers"]["add"]:
    sys.stdout.write("%s: %s\x1e" % (h["name"], h["value"]))'
}

# clean WHAT OUT - no CR, LF only as folding, no injected field
clean() {
	if [ "$2" = ERROR ] || [ -z "$2" ]; then
		ko "$1: test mode answers with headers"
		return
	fi
	if printf '%s' "$2" | "$PY" -c '
import re, sys
for v in sys.stdin.read().split("\x1e"):
    if not v:
        continue
    if "\r" in v or re.search("\n(?![\t ])", v) or re.search("(^|\n)X-Injected", v):
        sys.exit(1)'; then
		ok "$1: no CR/LF or injected field in our headers"
	else
		ko "$1: no CR/LF or injected field in our headers" "$2"
	fi
}
clean "CR LF in HELO" "$(added spf $'evil.example\r\nX-Injected: yes' a@x@evil.example)"
clean "LF in HELO" "$(added spf $'evil.example\nX-Injected: yes' a@x@evil.example)"
clean "CR LF in MAIL FROM" "$(added spf h.example $'a@evil.example\r\nX-Injected: yes')"
clean "LF in MAIL FROM" "$(added spf h.example $'a@evil.example\nX-Injected: yes')"
clean "CR LF TAB in MAIL FROM" "$(added spf h.example $'a@evil.example\r\n\tX-Injected: yes')"

out=$(added spf '%n%n%s%s%x.example' '%n%s%x@x@evil.example')
case $out in
*'%n%n%s%s%x.example'*'%n%s%x@x@evil.example'*|*'%n%s%x@x@evil.example'*'%n%n%s%s%x.example'*)
	ok "printf directives in HELO and MAIL FROM arrive as written" ;;
*)	ko "printf directives in HELO and MAIL FROM arrive as written" "$out" ;;
esac

cat >"$T/ar.eml" <<'EOF2'
Authentication-Results: mx.example.net; spf=pass
From: a@good.example
authentication-results: MX.EXAMPLE.NET; dkim=pass
To: b@dest.example
AUTHENTICATION-RESULTS:   (comment) mx.example.net 1; dmarc=pass
Authentication-Results: other.example; spf=fail
Authentication-Results: mx.example.net.; spf=pass
Authentication-Results:
	mx.example.net;
	arc=pass
Subject: x
Authentication-Results: mx.example.net;spf=pass
Authentication-Results: mx.example.net

body
EOF2
rm=$("$GW" test -c "$T/ar.json" --ip 192.0.2.10 --helo h.example \
    --from a@good.example --rcpt b@dest.example "$T/ar.eml" 2>/dev/null |
    "$PY" -c '
import json, sys
j = json.load(sys.stdin)
print(" ".join(str(h["index"]) for h in j["headers"]["remove"]
               if h["name"].lower() == "authentication-results"))')
check_eq "forged A-R removed in every position and case, foreign kept" "$rm" "8 7 6 3 2 1"
t_done
