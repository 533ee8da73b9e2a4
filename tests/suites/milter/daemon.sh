#!/bin/sh
# The daemon's life: configuration test, version, the command-line
# convention of every subcommand, reload on SIGHUP (a good configuration
# is swapped in, a bad one is logged and the running one kept), privilege
# drop and the warning when root stays root, keys the service user can
# read, graceful stop on SIGTERM and SIGINT: prompt when idle, and a
# message in flight still answered.
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
	# a daemon that dropped privileges cannot remove its socket from $T
	rm -f "$T/gw.sock"
	"$GW" -f -c "$1" >"$T/gw.log" 2>&1 &
	PID=$!
	ALL_PIDS="$ALL_PIDS $PID"
	for _ in $(seq 100); do [ -S "$T/gw.sock" ] && return 0; sleep 0.05; done
	return 1
}
# stop_wait SIGNAL: sets st to the exit status, 255 if still running after
# 15 s, and ms to the milliseconds from the signal to the exit.  The
# daemon's own bound is milter.shutdown_timeout (2 s here) for connections
# still in flight plus a tenth of a second for libmilter's listener to see
# the stop; 15 s leaves room for a loaded machine.
now_ms() { echo $(($(date +%s%N) / 1000000)); }
stop_wait() {
	t0=$(now_ms)
	kill "-$1" "$PID"
	wait_gone
	if alive "$PID"; then st=255; return; fi
	wait "$PID" 2>/dev/null; st=$?
}
# wait_gone: until $PID has exited (at most 15 s); sets ms since t0
wait_gone() {
	for _ in $(seq 15000); do alive "$PID" || break; sleep 0.001; done
	ms=$(($(now_ms) - t0))
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

# one convention for every command: -h/--help on stdout with exit 0 and
# the usage line; a bad option on stderr with exit 64
for sub in "" test limits keygen; do
	for h in --help -h; do
		# shellcheck disable=SC2086
		"$GW" $sub $h >"$T/h.out" 2>"$T/h.err"; st=$?
		first=$(head -1 "$T/h.out")
		case $first in
		"usage: gatewarden${sub:+ $sub} "*) u=1 ;;
		*) u=0 ;;
		esac
		[ $st -eq 0 ] && [ $u = 1 ] && [ ! -s "$T/h.err" ] &&
		    ok "gatewarden${sub:+ $sub} $h: exit 0, usage on stdout" ||
		    ko "gatewarden${sub:+ $sub} $h: $st '$first' $(head -2 "$T/h.err")"
	done
	# shellcheck disable=SC2086
	"$GW" $sub --no-such-option >"$T/h.out" 2>"$T/h.err"; st=$?
	[ $st -eq 64 ] && [ ! -s "$T/h.out" ] &&
	    grep -q "^usage: gatewarden${sub:+ $sub} " "$T/h.err" &&
	    ok "gatewarden${sub:+ $sub} --no-such-option: 64, usage on stderr" ||
	    ko "gatewarden${sub:+ $sub} bad option: $st $(head -2 "$T/h.err")"
done
# the top-level usage lists every command
out=$("$GW" --help)
for sub in test limits keygen; do
	echo "$out" | grep -q "^       gatewarden $sub " &&
	    ok "--help lists $sub" || ko "--help does not list $sub"
done
"$GW" no-such-command >/dev/null 2>"$T/h.err"; st=$?
[ $st -eq 64 ] && grep -q "no such command: no-such-command" "$T/h.err" &&
    ok "an unknown command: 64" || ko "unknown command: $st $(cat "$T/h.err")"

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
[ "$ms" -lt 500 ] && ok "SIGTERM on an idle daemon: gone in $ms ms (< 500)" ||
    ko "SIGTERM on an idle daemon took $ms ms"

# SIGTERM with a message in flight: the message is answered to its end,
# a new connection is refused, then the daemon exits
conf "$T/a.json" a@bad.example
start "$T/a.json" || ko "restart for the in-flight stop"
miltertest -D sock="unix:$T/gw.sock" -D sender=b@bad.example -D pause=1 \
    -s tests/daemon/inflight.lua >"$T/if.out" 2>&1 &
MT=$!
for _ in $(seq 200); do grep -q '^MAIL' "$T/if.out" && break; sleep 0.01; done
t0=$(now_ms)
kill -TERM "$PID"
sleep 0.3
late=$(probe b@bad.example)
wait "$MT"
wait_gone
if alive "$PID"; then st=255; else wait "$PID" 2>/dev/null; st=$?; fi
out=$(sed -n 's/^\(MAIL\|RCPT\|EOM\) /\1=/p' "$T/if.out" | tr '\n' ' ')
[ "$out" = "MAIL=c RCPT=c EOM=c " ] &&
    ok "a message in flight at SIGTERM is answered to its end ($out)" ||
    ko "in flight at SIGTERM: $out $(cat "$T/if.out")"
[ -z "$late" ] && ok "a connection after SIGTERM is not served" ||
    ko "served after SIGTERM: $late"
grep -q "stopping: 1 connection(s) in flight" "$T/gw.log" &&
    ok "the stop waited for the connection in flight" ||
    ko "stop log: $(grep -E 'stopping|exiting|open' "$T/gw.log")"
[ "$st" = 0 ] && [ "$ms" -lt 2000 ] &&
    ok "then exit 0, $ms ms after SIGTERM (message paused 1 s; bound 2 s)" ||
    ko "in-flight stop: status $st after $ms ms"

# SIGINT stops gracefully too
conf "$T/a.json" a@bad.example
start "$T/a.json" || ko "restart"
stop_wait INT
[ "$st" = 0 ] && ok "SIGINT: exit 0" || ko "SIGINT: status $st"
[ "$ms" -lt 500 ] && ok "SIGINT on an idle daemon: gone in $ms ms (< 500)" ||
    ko "SIGINT on an idle daemon took $ms ms"

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
[ "$ms" -lt 500 ] && ok "SIGTERM on an idle TCP daemon: gone in $ms ms (< 500)" ||
    ko "SIGTERM on an idle TCP daemon took $ms ms"

# privilege drop (when run as root)
if [ "$(id -u)" = 0 ]; then
	conf "$T/u.json" a@bad.example ', "user": "nobody"'
	start "$T/u.json" || ko "start as root with user"
	# the drop happens after the socket is open: under load the first
	# read can come before it, so wait (at most 5 s) for the euid to change
	want=$(id -u nobody)
	for _ in $(seq 100); do
		uid=$(awk '/^Uid:/ {print $3}' "/proc/$PID/status" 2>/dev/null)
		[ "$uid" = "$want" ] && break
		alive "$PID" || break
		sleep 0.05
	done
	[ "$uid" = "$want" ] && ok "runs as nobody (euid $uid)" || ko "euid is $uid, want $want"
	[ "$(probe a@bad.example)" = r ] && ok "serves after dropping privileges" || ko "serve after drop"
	stop_wait TERM
	[ "$st" = 0 ] && ok "stop after drop: exit 0" || ko "stop after drop: $st"
	grep -q "keeps running as root" "$T/gw.log" &&
	    ko "warned about root although milter.user is set" ||
	    ok "no root warning with milter.user set"
	"$GW" -n -c "$T/u.json" >/dev/null 2>"$T/n.err"
	[ -s "$T/n.err" ] && ko "-n with milter.user: $(cat "$T/n.err")" ||
	    ok "-n with milter.user set: nothing on stderr"

	# no silent root: without milter.user, a warning at start and from -n
	conf "$T/r.json" a@bad.example
	start "$T/r.json" || ko "start as root without user"
	grep -q "warning.*started as root and milter.user is not set: gatewarden keeps running as root" "$T/gw.log" &&
	    ok "root without milter.user: warning logged at start" ||
	    ko "no root warning in the log: $(head -3 "$T/gw.log")"
	stop_wait TERM
	out=$("$GW" -n -c "$T/r.json" 2>"$T/n.err"); st=$?
	[ $st -eq 0 ] && [ "$out" = "configuration OK" ] &&
	    grep -qx "gatewarden: warning: started as root and milter.user is not set: gatewarden keeps running as root" "$T/n.err" &&
	    ok "-n as root without milter.user: OK, and the warning on stderr" ||
	    ko "-n root warning: $st $out $(cat "$T/n.err")"

	# keys the service can read: keygen as root gives the key to
	# milter.user's group (0640); -n as that user then loads it
	mkdir -m 750 "$T/keys" && chgrp "$(id -gn nobody)" "$T/keys"
	cat > "$T/k0.json" <<EOC
{ "authserv_id": "mx.test", "milter": { "socket": "unix:$T/gw.sock", "user": "nobody" } }
EOC
	"$GW" keygen --domain example.org --selector s1 --algorithm ed25519-sha256 \
	    --out "$T/keys" -c "$T/k0.json" >"$T/kg.out" 2>&1; st=$?
	set -- $(stat -c '%a %U %G' "$T/keys/example.org.s1.pem" 2>/dev/null)
	[ $st -eq 0 ] && [ "$1 $2 $3" = "640 root $(id -gn nobody)" ] &&
	    ok "keygen as root: root:$3 0640 (milter.user's group)" ||
	    ko "keygen: $st '$1 $2 $3' $(cat "$T/kg.out")"
	# the negative: a key only root can read
	"$GW" keygen --domain example.org --selector s2 --algorithm ed25519-sha256 \
	    --out "$T/keys" -c "$T/r.json" >"$T/kg2.out" 2>&1; st=$?
	set -- $(stat -c '%a %U %G' "$T/keys/example.org.s2.pem" 2>/dev/null)
	[ $st -eq 0 ] && [ "$1 $2" = "600 root" ] &&
	    grep -q "milter.user is not set; the key is readable by its owner only" "$T/kg2.out" &&
	    ok "keygen without milter.user or --group: 0600, and it says so" ||
	    ko "keygen 0600: $st '$1 $2' $(cat "$T/kg2.out")"
	for sel in s1 s2; do
		cat > "$T/k-$sel.json" <<EOC
{ "authserv_id": "mx.test", "milter": { "socket": "unix:$T/gw.sock", "user": "nobody" },
  "policies": { "dkim": { "enabled": true, "sign": { "keys": [
    { "domain": "example.org", "selector": "$sel", "algorithm": "ed25519-sha256",
      "key_file": "$T/keys/example.org.$sel.pem" } ] } } } }
EOC
		chmod 644 "$T/k-$sel.json"
	done
	out=$(setpriv --reuid=nobody --regid="$(id -gn nobody)" --clear-groups \
	    "$GW" -n -c "$T/k-s1.json" 2>&1); st=$?
	[ $st -eq 0 ] && [ "$out" = "configuration OK" ] &&
	    ok "-n as the service user reads the key keygen made" ||
	    ko "-n as nobody: $st $out"
	out=$(setpriv --reuid=nobody --regid="$(id -gn nobody)" --clear-groups \
	    "$GW" -n -c "$T/k-s2.json" 2>&1); st=$?
	[ $st -eq 78 ] && echo "$out" | grep -q "k-s2.json:.*key_file.*Permission denied" &&
	    ok "-n as the service user on a root-only key: 78, Permission denied at its position" ||
	    ko "-n as nobody, 0600 key: $st $out"
else
	echo "note: not root, privilege drop, root warning and key modes not exercised (not counted)"
fi
t_done
