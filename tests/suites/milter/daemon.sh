#!/bin/sh
# The daemon's life: configuration test, version, reload on SIGHUP (a good
# configuration is swapped in, a bad one is logged and the running one
# kept), privilege drop, graceful stop on SIGTERM and SIGINT.
# Everything runs on a unix socket in a private temp dir; processes are
# stopped by PID.
cd "$(dirname "$0")/../../.." || exit 1
. tests/lib.sh
t_init daemon
chmod 755 "$T"
PID=""
ALL_PIDS=""	# every daemon started, so that cleanup misses none
cleanup() {
	for p in $ALL_PIDS; do
		if alive "$p"; then kill -KILL "$p" 2>/dev/null; fi
	done
}

conf() {	# conf FILE SENDER-TO-REJECT [EXTRA-TOP-LEVEL]
	cat > "$1" <<EOC
{ "authserv_id": "mx.test", "milter": { "socket": "unix:$T/gw.sock", "socket_mode": "0666",
    "shutdown_timeout": "2s" $3 },
  "log": { "level": "info" },
  "policies": { "rules": { "rules": [
    { "name": "block", "stage": "mail", "if": { "sender": { "is": ["$2"] } },
      "action": "reject", "text": "blocked" } ] } } }
EOC
}
start() {	# start CONF
	"$GW" -f -c "$1" >"$T/gw.log" 2>&1 &
	PID=$!
	ALL_PIDS="$ALL_PIDS $PID"
	for _ in $(seq 100); do [ -S "$T/gw.sock" ] && return 0; sleep 0.05; done
	return 1
}
# stop_wait SIGNAL: sets st to the exit status, 255 if still running after
# 15 s: the daemon's own bound is libmilter noticing the stop (its listener
# polls every 5 s) plus milter.shutdown_timeout (2 s here) for connections
# still in flight, with room for a loaded machine.
stop_wait() {
	kill "-$1" "$PID"
	for _ in $(seq 300); do alive "$PID" || break; sleep 0.05; done
	if alive "$PID"; then st=255; return; fi
	wait "$PID" 2>/dev/null; st=$?
}
probe() {	# probe SENDER -> r (rejected, with or without our reply text), c (continue)
	miltertest -D sock="unix:$T/gw.sock" -D sender="$1" -s tests/daemon/probe.lua 2>&1 |
	    sed -n 's/^REPLY //p' | tr y r
}

# --version, -n
"$GW" --version | grep -q '^gatewarden [0-9]' && ok "--version" || ko "--version"
conf "$T/a.json" a@bad.example
out=$("$GW" -n -c "$T/a.json"); st=$?
[ $st -eq 0 ] && [ "$out" = "configuration OK" ] && ok "-n on a good config" || ko "-n good: $st $out"
echo '{ "milter": { "sockett": 1 } }' > "$T/bad.json"
"$GW" -n -c "$T/bad.json" 2>"$T/err"; st=$?
[ $st -eq 78 ] && grep -q "bad.json:1:15: /milter/sockett: unknown key" "$T/err" && ok "-n on a bad config: 78 and position" || ko "-n bad: $st $(cat "$T/err")"
"$GW" -f -c "$T/bad.json" 2>/dev/null; st=$?
[ $st -eq 78 ] && ok "daemon refuses a bad config with 78" || ko "daemon bad config: $st"
"$GW" --bogus 2>/dev/null; [ $? -eq 64 ] && ok "usage error 64" || ko "usage error"

# test mode never judges part of a message: over 64 MiB is an error
head -c 67108900 /dev/zero | tr '\0' 'a' > "$T/big.eml"
"$GW" test -c "$T/a.json" --ip 203.0.113.5 --from a@b.example --rcpt c@d.example \
    "$T/big.eml" >"$T/big.out" 2>&1; st=$?
rm -f "$T/big.eml"
[ $st -eq 66 ] && grep -q "larger than 64 MiB" "$T/big.out" && ok "test mode: oversized message refused (66)" ||
    ko "test mode oversized: $st $(cat "$T/big.out")"

# run, reload good, reload bad
start "$T/a.json" && ok "daemon up on a unix socket" || ko "daemon did not start: $(cat "$T/gw.log")"
[ "$(probe a@bad.example)" = r ] && ok "rule rejects a@bad.example" || ko "rule a"
[ "$(probe b@bad.example)" = c ] && ok "b@bad.example passes" || ko "b passes"
conf "$T/a.json" b@bad.example
kill -HUP "$PID"
for _ in $(seq 100); do grep -q "reload: configuration" "$T/gw.log" && break; sleep 0.05; done
[ "$(probe b@bad.example)" = r ] && ok "after SIGHUP the new rule rejects b@" || ko "reload good: $(tail -3 "$T/gw.log")"
[ "$(probe a@bad.example)" = c ] && ok "after SIGHUP the old rule is gone" || ko "reload old rule"
echo '{ "policies": { "rules": { "rules": [ { "name": 1 } ] } } }' > "$T/a.json"
kill -HUP "$PID"
for _ in $(seq 100); do grep -q "keeping the running configuration" "$T/gw.log" && break; sleep 0.05; done
grep -q "a.json:1:.*: /policies/rules/rules/0/name" "$T/gw.log" && ok "bad reload logged with position" || ko "bad reload not logged: $(tail -3 "$T/gw.log")"
grep -q "keeping the running configuration" "$T/gw.log" && ok "bad reload keeps the running config" || ko "bad reload message"
alive "$PID" && ok "still running after a bad reload" || ko "died on bad reload"
[ "$(probe b@bad.example)" = r ] && ok "running config still enforced" || ko "config after bad reload"
stop_wait TERM
[ "$st" = 0 ] && ok "SIGTERM: exit 0" || ko "SIGTERM: status $st: $(grep -E 'stopping|exiting|open' "$T/gw.log")"
[ -e "$T/gw.sock" ] && ko "socket left behind" || ok "socket removed at exit"

# SIGINT stops gracefully too
conf "$T/a.json" a@bad.example
start "$T/a.json" || ko "restart"
stop_wait INT
[ "$st" = 0 ] && ok "SIGINT: exit 0" || ko "SIGINT: status $st"

# an IPv6 TCP listener (inet6:PORT@[::1])
i6=$((31400 + $$ % 50))
cat > "$T/i6.json" <<EOC
{ "authserv_id": "mx.test", "milter": { "socket": "inet6:$i6@[::1]", "shutdown_timeout": "2s" } }
EOC
"$GW" -f -c "$T/i6.json" >"$T/i6.log" 2>&1 &
PID=$!
ALL_PIDS="$ALL_PIDS $PID"
for _ in $(seq 100); do ss -ltn 2>/dev/null | grep -q "\[::1\]:$i6 " && break; sleep 0.05; done
out=$(/usr/bin/python3 tests/daemon/optneg.py ::1 "$i6" 2>&1)
case $out in "OPTNEG version=6 "*) ok "inet6 listener negotiates ($out)" ;; *) ko "inet6: $out $(cat "$T/i6.log")" ;; esac
stop_wait TERM
[ "$st" = 0 ] && ok "inet6 daemon: exit 0" || ko "inet6 daemon: status $st"

# privilege drop (when run as root)
if [ "$(id -u)" = 0 ]; then
	conf "$T/u.json" a@bad.example ', "user": "nobody"'
	start "$T/u.json" || ko "start as root with user"
	uid=$(awk '/^Uid:/ {print $3}' "/proc/$PID/status" 2>/dev/null)
	[ "$uid" = "$(id -u nobody)" ] && ok "runs as nobody (euid $uid)" || ko "euid is $uid"
	[ "$(probe a@bad.example)" = r ] && ok "serves after dropping privileges" || ko "serve after drop"
	stop_wait TERM
	[ "$st" = 0 ] && ok "stop after drop: exit 0" || ko "stop after drop: $st"
else
	echo "note: not root, privilege drop not exercised (not counted)"
fi
t_done
