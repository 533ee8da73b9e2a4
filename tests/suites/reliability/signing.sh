#!/bin/bash
# signing - DKIM signs only for senders the site trusts: a client in
# trusted.networks or one that authenticated (SMTP AUTH), and only for a
# From domain it has a key for.  Through `gatewarden test`: an outside
# client that claims our domain in From (and in MAIL FROM) gets no
# DKIM-Signature; the same message from a trusted network or after AUTH
# is signed; a From domain without a key is never signed.
# Ends "signing: N passed, N failed".
cd "$(dirname "$0")/../../.." || exit 1
. tests/lib.sh
t_init signing
t_require openssl
t_built "$GW"
openssl genpkey -algorithm ed25519 -out "$T/k.pem" 2>/dev/null ||
    { ko "openssl genpkey"; t_done; }
chmod 0600 "$T/k.pem"
"$PY" - "$T/gw.json" "$T/k.pem" <<'PY' || { ko "configuration"; t_done; }
import json, sys
out, key = sys.argv[1:3]
c = json.load(open("conf/gatewarden.json"))
c["dns"] = {"servers": ["127.0.0.1@31494"], "timeout_ms": 200}
c["trusted"] = {"networks": ["10.0.0.0/8"], "authenticated": True}
p = c["policies"]
for k in p:
    if isinstance(p[k], dict):
        p[k]["enabled"] = k == "dkim"
p["dkim"]["sign"] = {"keys": [{"domain": "example.com", "selector": "s1",
    "key_file": key, "algorithm": "ed25519-sha256"}],
    "users": {"*": ["example.com"]}, "check_dns": "off"}
p["dkim"]["actions"] = {"temperror": {"action": "continue"},
                        "fail": {"action": "continue"}}
json.dump(c, open(out, "w"), indent=1)
PY
mk() {	# mk FILE FROM
	printf 'From: %s\nTo: b@dest.example\nSubject: x\nDate: Mon, 01 Jan 2024 10:00:00 +0000\nMessage-ID: <1@x>\n\nbody\n' "$2" >"$1"
}
mk "$T/ours.eml" "a@example.com"
mk "$T/other.eml" "a@other.example"

# signed IP FROM MSG [ARGS] - "yes" when a DKIM-Signature is added
signed() {
	local ip=$1 from=$2 msg=$3
	shift 3
	"$GW" test -c "$T/gw.json" --ip "$ip" --helo h.example --from "$from" \
	    --rcpt b@dest.example "$@" "$msg" 2>/dev/null | "$PY" -c '
import json, sys
j = json.load(sys.stdin)
print("yes" if any(h["name"].lower() == "dkim-signature"
                   for h in j["headers"]["add"]) else "no")' 2>&1
}
check_eq "outside client, our domain in From: not signed" \
    "$(signed 192.0.2.10 a@example.com "$T/ours.eml")" no
check_eq "trusted network, our domain: signed" \
    "$(signed 10.1.2.3 a@example.com "$T/ours.eml")" yes
check_eq "outside client after AUTH, our domain: signed" \
    "$(signed 192.0.2.10 a@example.com "$T/ours.eml" --auth alice)" yes
check_eq "trusted network, a From domain without a key: not signed" \
    "$(signed 10.1.2.3 a@other.example "$T/other.eml")" no
t_done
