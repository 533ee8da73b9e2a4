#!/bin/bash
# auth - Redis AUTH with the password in a file, and the secret-file rule.
# A real redis-server on loopback with requirepass; the rate limit (3
# messages an hour per client, then 550 5.7.1; store.on_error tempfail, so
# a store it cannot reach shows as 451s, not as passes) on that Redis.
# Checks:
#   - store.redis.password_file: AUTH succeeds, the limit counts in Redis
#     (exactly 3 pass of 6, the key is in Redis);
#   - a wrong password: every message tempfails, the AUTH failure is
#     logged, the password is not;
#   - SIGHUP after the file and Redis's password change: served again;
#   - the secret-file rule for a password file, by `-n` (FILE:LINE:COL and
#     the key): world-readable, group-writable, group-readable by a group
#     that is not the service's, owned by another user are refused; 0600,
#     0640 with the service's group (root, or milter.user's group) load;
#   - one line only, not empty, not with password; sentinel_password_file
#     only with sentinels;
#   - the password is in no output, log or /config answer.
# Ends "auth: N passed, N failed".
cd "$(dirname "$0")/../../.." || exit 1
. tests/lib.sh
t_init auth
t_require redis-server redis-cli curl
LOAD=$BUILD/bench/milterload
RPID=""
DPID=""
cleanup() {
	stop_pid "$DPID" "$RPID"
}
t_built "$GW" "$LOAD"
[ "$(id -u)" = 0 ] || { ko "needs root (chown to another user and group)"; t_done; }
RPORT=$(free_port 29900 29949) || { ko "no free port for Redis"; t_done; }
MPORT=$(free_port 29950 29999) || { ko "no free port for metrics"; t_done; }
PW="gw-auth-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
PW2="gw-auth2-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"

redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no \
    --requirepass "$PW" --daemonize no >"$T/redis.log" 2>&1 &
RPID=$!
rcli() { REDISCLI_AUTH=$1 redis-cli -p "$RPORT" "${@:2}" 2>/dev/null; }
for _ in $(seq 200); do rcli "$PW" ping | grep -q PONG && break; sleep 0.05; done
check_eq "redis-server with requirepass answers" "$(rcli "$PW" ping)" PONG
check_eq "... and refuses a client without the password" \
    "$(redis-cli -p "$RPORT" set k v 2>&1 | grep -o NOAUTH)" NOAUTH

# conf OUT PASSWORD-KEYS-JSON [MILTER-USER] - the rate limit on this Redis
conf() {
	"$PY" - "$1" "unix:$T/gw.sock" "$RPORT" "$MPORT" "$2" "${3:-}" <<'PY'
import json, sys
out, sock, rport, mport, pw, user = sys.argv[1:7]
c = json.load(open("conf/gatewarden.json"))
c["milter"] = {"socket": sock, "timeout": "30s", "shutdown_timeout": "2s"}
if user:
    c["milter"]["user"] = user
c["log"] = {"level": "info", "stderr": True}
c["metrics"] = {"listen": "127.0.0.1:" + mport}
redis = {"servers": ["127.0.0.1:" + rport], "pool_size": 2,
         "prefix": "gwauth:"}
redis.update(json.loads(pw))
c["store"] = {"backend": "redis", "on_error": "tempfail", "redis": redis}
p = c["policies"]
for k in p:
    if isinstance(p[k], dict):
        p[k]["enabled"] = k == "ratelimit"
p["ratelimit"] = {"enabled": True, "limits": [
    {"name": "auth", "key": "client_ip", "count": "messages",
     "rate": "3/1h", "burst": 3, "stage": "mail", "action": "reject",
     "code": "550", "xcode": "5.7.1", "exempt_trusted": False}]}
json.dump(c, open(out, "w"), indent=1)
PY
}
ALL_OUT="$T/all-output"	# everything the program printed, for the leak check
: >"$ALL_OUT"
# n_check LABEL WANT-STATUS PATTERN - `-n` on $T/n.json
n_check() {
	local out st
	out=$("$GW" -n -c "$T/n.json" 2>&1); st=$?
	echo "$out" >>"$ALL_OUT"
	out=$(echo "$out" | grep -v "$GW_ROOT_WARNING")
	if [ "$st" = "$2" ] && echo "$out" | grep -qE -- "$3"; then
		ok "$1"
	else
		ko "$1: status $st (want $2), output: $out"
	fi
}
pwfile() {	# pwfile CONTENT MODE OWNER:GROUP
	rm -f "$T/pw"
	printf '%s' "$1" >"$T/pw"
	chmod "$2" "$T/pw"
	chown "$3" "$T/pw"
}
PF='{"password_file": "pw"}'
conf "$T/n.json" "$PF"

pwfile "$PW"$'\n' 0600 root:root
n_check "-n: password_file 0600 root:root, one line with a newline" 0 '^configuration OK$'
pwfile "$PW" 0640 root:root
n_check "-n: 0640 root:root, no final newline (the service's group: root)" 0 '^configuration OK$'
NG=$(id -gn nobody)
pwfile "$PW" 0640 root:"$NG"
n_check "-n: readable by group $NG, not the service's: refused" 78 \
    "n\.json:[0-9]+:[0-9]+: /store/redis/password_file: password file .*/pw: readable by group $NG .*, which is not the service's group root"
pwfile "$PW" 0644 root:root
n_check "-n: world-readable: refused" 78 \
    'n\.json:[0-9]+:[0-9]+: /store/redis/password_file: .*readable or writable by others \(mode 0644\)'
pwfile "$PW" 0620 root:root
n_check "-n: group-writable: refused" 78 '/store/redis/password_file: .*writable by its group \(mode 0620\)'
pwfile "$PW" 0600 nobody:root
n_check "-n: owned by another user (nobody): refused" 78 \
    "/store/redis/password_file: .*owned by uid $(id -u nobody), which is neither root nor the service user"
conf "$T/n.json" "$PF" nobody
pwfile "$PW" 0640 root:"$NG"
n_check "-n: milter.user nobody, 0640 root:$NG (nobody's group): loads" 0 '^configuration OK$'
pwfile "$PW" 0640 root:root
n_check "-n: milter.user nobody, 0640 root:root: refused (root is not nobody's group)" 78 \
    "readable by group root .*, which is not the service's group $NG"
pwfile "$PW" 0600 nobody:"$NG"
n_check "-n: milter.user nobody, 0600 owned by nobody: loads" 0 '^configuration OK$'
conf "$T/n.json" "$PF"
pwfile "" 0600 root:root
n_check "-n: an empty file: refused" 78 '/store/redis/password_file: password file .*size 0 out of range'
pwfile "$PW"$'\n'"second line" 0600 root:root
n_check "-n: two lines: refused" 78 '/store/redis/password_file: password file .*must hold one line'
rm -f "$T/pw"
n_check "-n: a missing file: refused, named" 78 '/store/redis/password_file: password file .*/pw: No such file or directory'
pwfile "$PW" 0600 root:root
conf "$T/n.json" '{"password_file": "pw", "password": "inline"}'
n_check "-n: password and password_file together: refused" 78 \
    '/store/redis/password_file: password and password_file exclude each other'
conf "$T/n.json" '{"sentinel_password_file": "pw"}'
n_check "-n: sentinel_password_file without sentinels: refused at that key" 78 \
    '/store/redis/sentinel_password_file: only meaningful with sentinels'
"$PY" - "$T/n.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
r = c["store"]["redis"]
del r["servers"]
r["sentinels"] = ["127.0.0.1:1"]
r["master_name"] = "m"
r["password_file"] = "pw"
json.dump(c, open(sys.argv[1], "w"))
PY
n_check "-n: sentinel_password_file and password_file with sentinels: loads" 0 '^configuration OK$'

# the daemon on the right password: exactly 3 of 6 pass, counted in Redis
conf "$T/gw.json" "$PF"
pwfile "$PW" 0600 root:root
rm -f "$T/gw.sock"
"$GW" -f -c "$T/gw.json" </dev/null >"$T/gw.log" 2>&1 &
DPID=$!
for _ in $(seq 200); do [ -S "$T/gw.sock" ] && break; sleep 0.05; done
[ -S "$T/gw.sock" ] || { ko "daemon listens: $(tail -3 "$T/gw.log")"; t_done; }
load() {	# load LABEL N -> $T/load-LABEL.out; prints the verdicts
	"$LOAD" -s "unix:$T/gw.sock" -c 1 -m "$2" -k "$2" -l "$1" >"$T/load-$1.out" 2>&1
	echo "$(grep -o 'verdicts:.*' "$T/load-$1.out") / $(sed -n 's/^  reply: //p' "$T/load-$1.out")"
}
v=$(load good 6)
check_eq "right password: 3 pass, 3 over the limit" "$v" \
    "verdicts: continue=3 replycode=3 / 550 5.7.1 rate limit auth exceeded"
check "right password: the limit's key is in Redis" \
    test -n "$(rcli "$PW" --scan --pattern 'gwauth:*')"
cfg=$(curl -s "http://127.0.0.1:$MPORT/config")
echo "$cfg" >>"$ALL_OUT"
check "/config answers (store redis)" grep -q '"store":"redis"' <<<"$cfg"

# Redis's password changes, the file not yet; the connections Redis had are
# closed, so the daemon's new ones AUTH with the old password: every message
# tempfails
clear_keys() {
	rcli "$PW2" --scan --pattern 'gwauth:*' |
	    xargs -r env REDISCLI_AUTH="$PW2" redis-cli -p "$RPORT" del >/dev/null 2>&1
}
rcli "$PW" config set requirepass "$PW2" >/dev/null
rcli "$PW2" client kill type normal >/dev/null
clear_keys
v=$(load wrong 4)
check_eq "wrong password: every message tempfails (on_error tempfail)" "$v" \
    "verdicts: replycode=4 / 451 4.3.0 rate limit service temporarily unavailable, try again later"
check "wrong password: the AUTH failure is logged" grep -q 'redis: AUTH refused: WRONGPASS' "$T/gw.log"

# the file follows, SIGHUP: served again
pwfile "$PW2" 0600 root:root
n0=$(grep -c "reload: configuration .* loaded" "$T/gw.log")
kill -HUP "$DPID"
for _ in $(seq 100); do
	[ "$(grep -c "reload: configuration .* loaded" "$T/gw.log")" -gt "$n0" ] && break; sleep 0.05
done
clear_keys
v=$(load again 6)
check_eq "new password from the file after SIGHUP: 3 pass, 3 over the limit" "$v" \
    "verdicts: continue=3 replycode=3 / 550 5.7.1 rate limit auth exceeded"

stop_pid "$DPID"; DPID=""
cat "$T/gw.log" "$T"/load-*.out >>"$ALL_OUT"
check_eq "neither password appears in any output, log or /config answer" \
    "$(grep -cF -e "$PW" -e "$PW2" "$ALL_OUT")" 0
check "... while the outputs hold what was checked (the log is there)" \
    grep -q "listening on unix:" "$ALL_OUT"
t_done
