#!/bin/bash
# faults-disk - the DMARC history and the log on a full disk.
# Two small tmpfs mounts (as root; without mount permission this is a
# failure, not a skip): the DMARC history (history.file) on a 64 KB one,
# partly taken by a filler file, and the daemon's log (stderr) on a 16 KB
# one.  tests/bench/milterload sends messages whose From domain publishes
# a DMARC record (tests/dns/fixture.py on loopback), so every message adds
# a history line, until the disk is full.  Checks:
#   - every message still gets its verdict, 0 errors, the daemon runs;
#   - the history holds only whole JSON lines (a write cut short by ENOSPC
#     must not leave half a line) ...
#   - ... also after space is freed and more lines are written;
#   - the full log disk does not stop or slow the daemon;
#   - then, under load (10,000 messages from 4 connections), the history
#     disk (now 16 MB) is filled and freed again at random moments, at
#     least 5 times: every message still gets its verdict, 0 errors, the
#     history holds only whole lines, and the failed writes are counted
#     (gatewarden_write_errors_total{file="dmarc_history"} on /metrics).
# Ends "faults-disk: N passed, N failed".
cd "$(dirname "$0")/../../.." || exit 1
. tests/lib.sh
t_init faults-disk
t_require curl
LOAD=$BUILD/bench/milterload
DPID=""
SPID=""
MNT=""
LPID=""
cleanup() {
	stop_pid "$LPID" "$DPID" "$SPID"
	for m in $MNT; do
		umount "$m" 2>/dev/null
	done
}
t_built "$GW" "$LOAD"
mkdir -p "$T/hist" "$T/log"
for m in "$T/hist:64k" "$T/log:16k"; do
	if mount -t tmpfs -o "size=${m#*:}" tmpfs "${m%:*}" 2>"$T/mount.err"; then
		MNT="$MNT ${m%:*}"
	else
		ko "mount a ${m#*:} tmpfs (needs root): $(cat "$T/mount.err")"
		t_done
	fi
done
ok "two small tmpfs mounted (64 KB history, 16 KB log)"
# leave about 8 KB free for the history
head -c 57344 /dev/zero >"$T/hist/filler" 2>/dev/null

cat >"$T/zone.json" <<'Z'
{"zonedata": {"load.example": [{"TXT": "v=spf1 +all"}],
              "_dmarc.load.example": [{"TXT": "v=DMARC1; p=none"}]}}
Z
PORT=$(free_port 29400 29479) || { ko "no free port"; t_done; }
MPORT=$(free_port 29480 29499) || { ko "no free port for metrics"; t_done; }
"$PY" tests/dns/fixture.py --port "$PORT" "$T/zone.json" >"$T/dns.out" 2>"$T/dns.err" &
SPID=$!
for _ in $(seq 100); do grep -q '"port"' "$T/dns.out" 2>/dev/null && break; sleep 0.05; done
grep -q '"port"' "$T/dns.out" || { ko "DNS fixture starts: $(tail -2 "$T/dns.err")"; t_done; }

"$PY" - "$T/gw.json" "unix:$T/gw.sock" "$PORT" "$T/hist/history.jsonl" "$MPORT" <<'PY' || { ko "configuration"; t_done; }
import json, sys
out, sock, port, hist, mport = sys.argv[1:6]
c = json.load(open("conf/gatewarden.json"))
c["milter"] = {"socket": sock, "timeout": "30s", "shutdown_timeout": "2s"}
c["log"] = {"level": "info", "stderr": True}
c["dns"] = {"servers": ["127.0.0.1@" + port], "timeout_ms": 500}
c["metrics"] = {"listen": "127.0.0.1:" + mport}
p = c["policies"]
for k in p:
    if isinstance(p[k], dict):
        p[k]["enabled"] = k in ("spf", "dmarc")
p["spf"]["helo_check"] = False
p["dmarc"]["history"] = {"file": hist, "max_size": 1 << 30}
json.dump(c, open(out, "w"), indent=1)
PY
"$GW" -n -c "$T/gw.json" >"$T/n.out" 2>&1 || { ko "configuration loads: $(cat "$T/n.out")"; t_done; }

"$GW" -f -c "$T/gw.json" </dev/null >"$T/log/gw.log" 2>&1 &
DPID=$!
for _ in $(seq 200); do [ -S "$T/gw.sock" ] && break; alive "$DPID" || break; sleep 0.05; done
[ -S "$T/gw.sock" ] || { ko "daemon listens: $(tail -3 "$T/log/gw.log")"; t_done; }

# lines_whole - every line of the history is one JSON object
lines_whole() {
	"$PY" - "$T/hist/history.jsonl" <<'PY'
import json, sys
data = open(sys.argv[1], "rb").read()
n = bad = 0
for l in data.split(b"\n"):
    if not l:
        continue
    n += 1
    try:
        json.loads(l)
    except ValueError:
        bad += 1
tail = "" if data.endswith(b"\n") or not data else " (no final newline)"
print(n, bad, tail)
sys.exit(1 if bad or tail else 0)
PY
}

load() {	# load N LABEL
	"$LOAD" -s "unix:$T/gw.sock" -c 4 -m "$1" -k 10 -l "$2" >"$T/load-$2.out" 2>&1
	local rc=$? res
	res=$(grep '^RESULT' "$T/load-$2.out")
	echo "     $res"
	check_eq "$2: every message got a verdict (milterload exit)" "$rc" 0
	check_eq "$2: errors" "$(echo "$res" | sed -nE 's/.* errors=([0-9]+).*/\1/p')" 0
	if alive "$DPID"; then ok "$2: daemon still running"; else ko "$2: daemon died"; t_done; fi
}

load 400 "disks full"
df -k "$T/hist" "$T/log" | sed 's/^/     /'
free=$(df -k --output=avail "$T/hist" | tail -1 | tr -d ' ')
check_eq "the history disk is full" "$free" 0
out=$(lines_whole)
if [ $? -eq 0 ]; then ok "history: only whole JSON lines ($out)"; else ko "history: only whole JSON lines: lines, bad: $out"; fi

rm -f "$T/hist/filler"
load 50 "space freed"
out=$(lines_whole)
if [ $? -eq 0 ]; then ok "history after space is freed: only whole JSON lines ($out)"; else ko "history after space is freed: only whole JSON lines: lines, bad: $out"; fi

# full at random moments under load
write_errors() {
	curl -s "http://127.0.0.1:$MPORT/metrics" |
	    sed -n 's/^gatewarden_write_errors_total{file="dmarc_history"} //p'
}
e0=$(write_errors); e0=${e0:-0}
mount -o remount,size=16m "$T/hist" || { ko "remount the history tmpfs at 16 MB"; t_done; }
n0=$(wc -l <"$T/hist/history.jsonl")
"$LOAD" -s "unix:$T/gw.sock" -c 4 -m 10000 -k 10 -l random >"$T/load-random.out" 2>&1 &
LPID=$!
fills=0
while alive "$LPID"; do
	sleep "$(printf '0.%02d' $((RANDOM % 15 + 5)))"	# 0.05..0.19 s
	head -c 16777216 /dev/zero >"$T/hist/filler" 2>/dev/null	# until ENOSPC
	sleep "$(printf '0.%02d' $((RANDOM % 15 + 5)))"
	rm -f "$T/hist/filler"
	fills=$((fills + 1))
done
wait "$LPID"; lrc=$?; LPID=""
res=$(grep '^RESULT' "$T/load-random.out")
echo "     $res; the disk filled $fills times"
check "random: the disk filled and was freed at least 5 times under load ($fills)" test "$fills" -ge 5
check_eq "random: every message got a verdict (milterload exit)" "$lrc" 0
check_eq "random: errors" "$(echo "$res" | sed -nE 's/.* errors=([0-9]+).*/\1/p')" 0
if alive "$DPID"; then ok "random: daemon still running"; else ko "random: daemon died"; fi
out=$(lines_whole)
if [ $? -eq 0 ]; then ok "random: history holds only whole JSON lines ($out)"; else ko "random: only whole JSON lines: lines, bad: $out"; fi
n1=$(wc -l <"$T/hist/history.jsonl")
check "random: lines were written while there was room ($((n1 - n0)) new)" test "$n1" -gt "$n0"
e1=$(write_errors)
check "random: the failed writes are counted (write_errors_total $e0 -> ${e1:-none})" \
    test "${e1:-0}" -gt "$e0"
t_done
