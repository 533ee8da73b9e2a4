#!/bin/bash
# memory - memory linear in the input, time bounded.
# Two messages a filter must survive: a header folded to about 1 MB (a
# DKIM-Signature in 76-byte lines) and a header of 100,000 folded lines.
#   1. `gatewarden test` with the default limits (the header is refused
#      with 552 5.3.4) and with limits.max_header_bytes at its maximum (the
#      header reaches the policies, rules and DKIM verify): each run peaks
#      under 64 MB of RSS and answers in under 1 s.
#   2. the daemon, over the milter protocol (tests/bench/milterload), with
#      the same configuration: both messages, then a header of 15,000 folded
#      lines, then a plain message; the daemon's peak RSS (VmHWM) stays
#      under 64 MB, every message is over in under 1 s.  The header of
#      100,000 lines (about 300 KB, over libmilter's default 64 KB packet)
#      reaches the policies, since the daemon raises libmilter's packet size
#      to max_header_bytes plus 1 KB; the 1 MB header, with the MTA's CRLF
#      line ends over even that, is the one libmilter refuses.
#   3. the daemon with the default limits: a header of about 70 KB (over
#      libmilter's default 64 KB packet, under the raised one) gets the
#      exact limits.reply, 552 5.3.4 naming the limit.
# Peak RSS of a test-mode run is the child's ru_maxrss; of the daemon, its
# VmHWM.  Ends "memory: N passed, N failed".
cd "$(dirname "$0")/../../.." || exit 1
. tests/lib.sh
t_init memory
LOAD=$BUILD/bench/milterload
MAX_KB=65536
MAX_MS=1000
DNS_PORT=31490		# nothing listens: lookups fail at once, on loopback
DPID=""

cleanup() {
	stop_pid "$DPID"
}
finish() {
	t_done
}

for b in "$GW" "$LOAD"; do
	if [ ! -x "$b" ]; then
		ko "no $b (make all $LOAD)"
		finish
	fi
done

# the messages
"$PY" - "$T" <<'PY' || { ko "cannot write the messages"; finish; }
import sys
d = sys.argv[1]
head = ("From: alice@remote.example\nTo: bob@dest.example\n"
        "Subject: folded\nDate: Mon, 01 Jan 2024 10:00:00 +0000\n"
        "Message-ID: <folded@remote.example>\n")
def write(name, hdr):
    with open("%s/%s.eml" % (d, name), "w") as f:
        f.write(head + hdr + "\nHello Bob,\nthis is a test.\n")
# about 1 MB: name and value stay under limits.max_header_bytes' maximum
write("big", "DKIM-Signature: v=1; a=rsa-sha256; d=remote.example; s=s; b=\n" +
      ("\t" + "A" * 75 + "\n") * 13500)
write("lines", "X-Folded: start\n" + "\tx\n" * 100000)
write("fit", "X-Folded: start\n" + "\tx\n" * 15000)
write("plain", "X-Plain: yes\n")
write("huge", "X-Huge: start\n" + ("\t" + "h" * 70 + "\n") * 1000)
PY
ls -l "$T"/*.eml | awk '{print "     " $5 " " $9}'

# conf FILE MAX_HEADER_BYTES - the shipped configuration with DKIM verify,
# no SPF or rate limits, a resolver on loopback that does not answer
conf() {
	"$PY" - "$1" "$2" "unix:$T/gw.sock" "$DNS_PORT" <<'PY'
import json, sys
out, hb, sock, port = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
c = json.load(open("conf/gatewarden.json"))
c["milter"] = {"socket": sock}
c["log"] = {"level": "info", "stderr": True}
c["dns"] = {"servers": ["127.0.0.1@" + port], "timeout_ms": 200,
            "message_budget_ms": 500}
c["limits"]["max_header_bytes"] = hb
p = c["policies"]
p["spf"]["enabled"] = False
p["ratelimit"]["enabled"] = False
p["dkim"]["enabled"] = True
json.dump(c, open(out, "w"), indent=1)
PY
}
conf "$T/default.json" 65536 && conf "$T/wide.json" 1048576 ||
    { ko "cannot write the configurations"; finish; }
for c in default wide; do
	if "$GW" -n -c "$T/$c.json" >"$T/$c.n" 2>&1; then
		ok "$c configuration loads"
	else
		ko "$c configuration loads: $(cat "$T/$c.n")"
	fi
done

# measure OUT CMD... - run CMD with stdout to OUT, stderr to OUT.err;
# prints "RSS_KB MS RC".  A regression must fail here, not swamp the
# machine: the child gets 1 GB of address space and 20 s.
AS_LIMIT_KB=1048576
cat > "$T/measure.py" <<'PY'
import resource, subprocess, sys, time
lim = int(sys.argv[1]) * 1024
out, err = open(sys.argv[2], "wb"), open(sys.argv[2] + ".err", "wb")
t = time.monotonic()
try:
    rc = subprocess.call(sys.argv[3:], stdout=out, stderr=err, timeout=20,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (lim, lim)))
except subprocess.TimeoutExpired:
    rc = 124
ms = int((time.monotonic() - t) * 1000)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, ms, rc)
PY
measure() { "$PY" "$T/measure.py" "$AS_LIMIT_KB" "$@"; }

# bounds WHAT KB MS - the two figures against the bounds
bounds() {
	if [ "$2" -lt "$MAX_KB" ]; then
		ok "$1: peak RSS ${2} kB < $MAX_KB kB"
	else
		ko "$1: peak RSS ${2} kB, want < $MAX_KB kB"
	fi
	if [ "$3" -lt "$MAX_MS" ]; then
		ok "$1: answered in $3 ms < $MAX_MS ms"
	else
		ko "$1: answered in $3 ms, want < $MAX_MS ms"
	fi
}

# 1. test mode
tm() {	# tm CONF MSG WANT_CODE
	local what="test mode, $1 limits, $2" kb ms rc got
	read -r kb ms rc < <(measure "$T/$1-$2.out" "$GW" test -c "$T/$1.json" \
	    --ip 192.0.2.10 --helo client.example --from alice@remote.example \
	    --rcpt bob@dest.example "$T/$2.eml")
	if [ "$rc" = 0 ]; then ok "$what: exit 0"; else ko "$what: exit $rc"; fi
	got=$("$PY" -c 'import json,sys; r=json.load(open(sys.argv[1]))["reply"]; print(r["code"], r["xcode"])' \
	    "$T/$1-$2.out" 2>/dev/null)
	if [ "$got" = "$3" ]; then
		ok "$what: answer $got"
	else
		ko "$what: answer '$got', want '$3'"
		tail -5 "$T/$1-$2.out.err" | sed 's/^/     | /'
	fi
	bounds "$what" "$kb" "$ms"
}
tm default big "552 5.3.4"
tm default lines "552 5.3.4"
tm wide big "250 2.0.0"
tm wide lines "250 2.0.0"

# 2. the daemon
( ulimit -v "$AS_LIMIT_KB" && exec "$GW" -f -c "$T/wide.json" ) </dev/null >"$T/gw.log" 2>&1 &
DPID=$!
for _ in $(seq 200); do [ -S "$T/gw.sock" ] && break; alive "$DPID" || break; sleep 0.05; done
if [ ! -S "$T/gw.sock" ]; then
	ko "daemon listens on $T/gw.sock: $(tail -3 "$T/gw.log")"
	finish
fi
ok "daemon listens"
daemon() {	# daemon MSG WANT (verdict | refused)
	local what="daemon, $1" kb ms rc hwm
	read -r kb ms rc < <(measure "$T/load-$1.out" "$LOAD" -s "unix:$T/gw.sock" \
	    -c 1 -m 1 -e "$T/$1.eml" -l "$1")
	case $2 in
	refused)	# libmilter refuses a packet over its data size
		if [ "$rc" != 0 ] && grep -q 'errors 1' "$T/load-$1.out"; then
			ok "$what: refused by libmilter (packet over max_header_bytes + 1 KB)"
		else
			ko "$what: refused by libmilter (milterload exit $rc)"
			tail -n 4 "$T/load-$1.out" "$T/load-$1.out.err" | sed 's/^/     | /'
		fi ;;
	*)
		if [ "$rc" = 0 ] && grep -q "verdicts: $2=1" "$T/load-$1.out"; then
			ok "$what: verdict $2"
		else
			ko "$what: verdict $2 (milterload exit $rc)"
			tail -n 4 "$T/load-$1.out" "$T/load-$1.out.err" | sed 's/^/     | /'
		fi ;;
	esac
	if alive "$DPID"; then ok "$what: daemon still running"; else ko "$what: daemon died"; finish; fi
	hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$DPID/status")
	bounds "$what" "$hwm" "$ms"
}
daemon big refused
daemon lines continue
daemon fit continue
daemon plain continue
if ! grep -qi 'internal error' "$T/gw.log"; then
	ok "daemon: no policy failed on the folded headers"
else
	ko "daemon: no policy failed on the folded headers"
	tail -5 "$T/gw.log" | sed 's/^/     | /'
fi

# 3. the daemon with the default limits: a 70 KB header gets limits.reply
stop_pid "$DPID"
DPID=""
rm -f "$T/gw.sock"
"$GW" -f -c "$T/default.json" </dev/null >"$T/gw-default.log" 2>&1 &
DPID=$!
for _ in $(seq 200); do [ -S "$T/gw.sock" ] && break; alive "$DPID" || break; sleep 0.05; done
if [ -S "$T/gw.sock" ]; then
	ok "daemon, default limits: listens"
else
	ko "daemon, default limits: listens: $(tail -3 "$T/gw-default.log")"
	finish
fi
"$LOAD" -s "unix:$T/gw.sock" -c 1 -m 1 -e "$T/huge.eml" -l huge >"$T/load-huge.out" 2>&1
rc=$?
got=$(sed -n 's/^  reply: //p' "$T/load-huge.out")
want="552 5.3.4 Header field X-Huge too large (limit 65536 bytes)"
if [ "$rc" = 0 ] && [ "$got" = "$want" ]; then
	ok "daemon, default limits, 70 KB header: $want"
else
	ko "daemon, default limits, 70 KB header: got '$got' (milterload exit $rc), want '$want'"
	tail -n 4 "$T/load-huge.out" | sed 's/^/     | /'
fi
if alive "$DPID"; then ok "daemon, default limits: still running"; else ko "daemon, default limits: died"; fi
finish
