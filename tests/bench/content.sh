#!/bin/bash
# content.sh - figures for the content rules: messages per second through
# the milter protocol with the shipped rule set (conf/gatewarden.json's
# "rules" section: GTUBE, multiple From, executable attachments, HELO
# scores, thresholds) on ~100 KB MIME messages, against the same daemon
# with the rules policy disabled.  Figures, not pass/fail.
#
# Transport: unix sockets (no TCP delayed-ACK stalls).  Load: milterload
# (tests/bench/milterload.c; `make BUILD=... bench-tools`), BENCH_SESSIONS
# concurrent sessions (default 4), BENCH_CONTENT_MSGS messages (2000).
# Environment: BUILD, GW, BENCH_BIN as for tests/bench/run.sh.
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
GW=${GW:-$PWD/$BUILD/gatewarden}
BENCH_BIN=${BENCH_BIN:-$PWD/$BUILD/bench}
MSGS=${BENCH_CONTENT_MSGS:-2000}
SESSIONS=${BENCH_SESSIONS:-4}
PY=/usr/bin/python3
# shellcheck source=cpu.sh
. tests/bench/cpu.sh

for b in "$GW" "$BENCH_BIN/milterload"; do
	[ -x "$b" ] || { echo "content bench: $b missing (make BUILD=$BUILD all bench-tools)"; exit 1; }
done

T=$(mktemp -d /tmp/gw-bench-content.XXXXXX)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT

# a ~100 KB message: text and HTML alternatives (quoted-printable and
# base64), a PDF-like attachment, URLs; nothing that the shipped rules reject
$PY - "$T/msg.eml" <<'EOF'
import base64, quopri, random, sys
random.seed(7)
words = ("mail filter policy delivery server message queue relay header "
         "account invoice report meeting schedule project update").split()
def para(n):
    return " ".join(random.choice(words) for _ in range(n))
text = "\n\n".join(para(80) + " https://www%d.example.org/page" % i
                   for i in range(60))
html = "<html><body>" + "".join(
    "<p>%s <a href=\"http://link%d.example.net/x\">here</a></p>" % (para(60), i)
    for i in range(40)) + "</body></html>"
att = bytes(random.getrandbits(8) for _ in range(20000))
b = "=_bench_boundary"
parts = [
    "From: Bench Sender <bench@sender.example>",
    "To: user@dest.example",
    "Subject: =?UTF-8?Q?Weekly_r=C3=A9port?=",
    "Message-ID: <bench@sender.example>",
    "MIME-Version: 1.0",
    "Content-Type: multipart/mixed; boundary=\"%s\"" % b, "",
    "--" + b,
    "Content-Type: multipart/alternative; boundary=\"alt\"", "",
    "--alt",
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: quoted-printable", "",
    quopri.encodestring(text.encode()).decode(),
    "--alt",
    "Content-Type: text/html; charset=utf-8",
    "Content-Transfer-Encoding: base64", "",
    base64.encodebytes(html.encode()).decode(),
    "--alt--",
    "--" + b,
    "Content-Type: application/pdf; name=\"report.pdf\"",
    "Content-Disposition: attachment; filename=\"report.pdf\"",
    "Content-Transfer-Encoding: base64", "",
    base64.encodebytes(att).decode(),
    "--%s--" % b, ""]
open(sys.argv[1], "w").write("\r\n".join(parts))
EOF
SIZE=$(stat -c %s "$T/msg.eml")

# two daemons on the shipped configuration: rules on, rules off
for mode in on off; do
	$PY - conf/gatewarden.json "$T/gw-$mode.json" "unix:$T/gw-$mode.sock" "$mode" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["milter"]["socket"] = sys.argv[3]
c["log"] = {"level": "warning"}
c["policies"]["rules"]["enabled"] = sys.argv[4] == "on"
json.dump(c, open(sys.argv[2], "w"), indent=1)
EOF
	"$GW" -f -c "$T/gw-$mode.json" >"$T/gw-$mode.log" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 200); do
		[ -S "$T/gw-$mode.sock" ] && break
		sleep 0.05
	done
	[ -S "$T/gw-$mode.sock" ] || { echo "content bench: gatewarden ($mode) did not start"; cat "$T/gw-$mode.log"; exit 1; }
done

# check that the message is scanned and not rejected with the rules on
"$GW" test -c conf/gatewarden.json --ip 203.0.113.5 --helo mx.sender.example \
    --from bench@sender.example --rcpt user@dest.example "$T/msg.eml" 2>/dev/null |
    $PY -c 'import json,sys; d=json.load(sys.stdin); r=d["results"]["rules"]; print("message: %s, verdict %s, rules total %s, mime %s" % (sys.argv[1], d["verdict"], r["total"], r["mime"]))' "$SIZE B"

declare -A RATE CPU
PID_on=${PIDS[0]}; PID_off=${PIDS[1]}
for mode in off on; do
	"$BENCH_BIN/milterload" -s "unix:$T/gw-$mode.sock" -c "$SESSIONS" -m 200 \
	    -e "$T/msg.eml" -q -l warmup >/dev/null 2>&1
	pid=PID_$mode; c0=$(bench_cpu_us "${!pid}")
	out=$("$BENCH_BIN/milterload" -s "unix:$T/gw-$mode.sock" -c "$SESSIONS" \
	    -m "$MSGS" -e "$T/msg.eml" -l "rules-$mode" 2>&1)
	CPU[$mode]=$(bench_cpu_delta "$c0" "$(bench_cpu_us "${!pid}")" "$MSGS")
	line=$(printf '%s\n' "$out" | grep '^RESULT' | tail -1)
	echo "$line"
	RATE[$mode]=$(printf '%s\n' "$line" | sed -E 's/.* rate=([0-9.]+).*/\1/')
done
$PY - "${RATE[on]}" "${RATE[off]}" "$SIZE" "$SESSIONS" "${CPU[on]}" "${CPU[off]}" <<'EOF'
import sys
on, off, size, s = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
print("content rules: %.0f msgs/s with the shipped rule set, %.0f msgs/s with rules off "
      "(%d-byte MIME messages, %s sessions, unix socket): ratio %.2f"
      % (on, off, size, s, on / off if off else 0))
print("content rules: CPU per message of the daemon %s us with the rules, %s us without"
      % (sys.argv[5], sys.argv[6]))
EOF
exit 0
