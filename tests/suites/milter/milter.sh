#!/bin/bash
# milter.sh - protocol tests: miltertest scripts (tests/milter/t-*.lua)
# against the real daemon.
#   1. every script against gatewarden on a unix socket;
#   2. t-clean, t-reject-rcpt and t-multi again over TCP (127.0.0.1:31001);
#   3. t-abort, t-multi and t-dkim-sign against gatewarden under valgrind:
#      no errors and no leaks (libopendkim handles included) when it exits
#      (one more check).
# The daemon signs mail from 198.51.100.200/29 for gw.example with an RSA
# and an Ed25519 key (gatewarden keygen, made here) and verifies the rest;
# the scripts written before DKIM see only its dkim=none.
# Each script prints PASS/FAIL lines and "NAME: N passed, N failed"; a script
# that errors out or prints no result line counts as one failure.
# Ends "milter: N passed, N failed".
#   tests/suites/milter/milter.sh [SCRIPT-NAME-PATTERN]
cd "$(dirname "$0")/../../.." || exit 1
. tests/lib.sh
t_init milter
TOP=$PWD
PORT=$(free_port 31001 31099) || PORT=31001
AUTHSERV=mx.gw.test
pat=${1:-}
pids=()

cleanup() {
	stop_pid "${pids[@]}"
}

if [ ! -x "$GW" ]; then
	ko "no daemon binary at $GW"
	t_done
fi

mkdir -m 700 "$T/keys"
for k in "rsa1 rsa-sha256" "ed1 ed25519-sha256"; do
	set -- $k
	if ! "$GW" keygen --domain gw.example --selector "$1" --algorithm "$2" \
	    --out "$T/keys" --group "$(id -gn)" >"$T/keygen.log" 2>&1; then
		ko "keygen $2" "$(cat "$T/keygen.log")"
		t_done
	fi
done

# conf FILE SOCKET - the rules every script relies on, and DKIM signing
conf() {
	cat > "$1" <<JSON
{
  "milter": {"socket": "$2"},
  "authserv_id": "$AUTHSERV",
  "log": {"level": "debug"},
  "trusted": {"networks": ["198.51.100.200/29"]},
  "policies": {
    "rules": {
      "enabled": true,
      "rules": [
        {"name": "block-mail", "stage": "mail",
         "if": {"sender": {"is": ["spammer@bad.example"]}},
         "action": "reject", "code": "550", "xcode": "5.7.1", "text": "sender blocked"},
        {"name": "block-rcpt", "stage": "rcpt",
         "if": {"rcpt": {"is": ["blocked@dest.example"]}},
         "action": "reject", "code": "550", "xcode": "5.1.1", "text": "recipient blocked"},
        {"name": "block-eom", "stage": "eom",
         "if": {"sender": {"is": ["eom@bad.example"]}},
         "action": "reject", "code": "554", "xcode": "5.7.0", "text": "message refused"},
        {"name": "later-eom", "stage": "eom",
         "if": {"sender": {"is": ["later@slow.example"]}},
         "action": "tempfail", "code": "451", "xcode": "4.7.1", "text": "try again later"}
      ]
    },
    "dkim": {
      "enabled": true,
      "sign": {"keys": [
        {"domain": "gw.example", "selector": "rsa1", "algorithm": "rsa-sha256",
         "key_file": "$T/keys/gw.example.rsa1.pem"},
        {"domain": "gw.example", "selector": "ed1", "algorithm": "ed25519-sha256",
         "key_file": "$T/keys/gw.example.ed1.pem"}]}
    }
  }
}
JSON
}

# start LABEL SOCKET [WRAPPER...] - run the daemon; sets DPID. 1 on failure.
start() {
	local label=$1 sock=$2 i port; shift 2
	conf "$T/$label.json" "$sock"
	"$@" "$GW" -f -c "$T/$label.json" </dev/null >"$T/$label.log" 2>&1 &
	DPID=$!
	pids+=("$DPID")
	for i in $(seq 600); do	# valgrind takes a few seconds to start
		alive "$DPID" || break
		case $sock in
		unix:*) [ -S "${sock#unix:}" ] && return 0 ;;
		inet:*) port=${sock#inet:}; port=${port%@*}
			(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null &&
			    return 0 ;;
		esac
		sleep 0.05
	done
	ko "$label: daemon did not listen on $sock" "$(tail -5 "$T/$label.log")"
	return 1
}

# run LABEL MTSOCK SCRIPT - one miltertest script; adds its counts
run() {
	local label=$1 mtsock=$2 script=$3 out line p f rc
	out=$(miltertest -D sock="$mtsock" -D lib="$TOP/tests/milter/lib.lua" \
	    -D name="$label" -D authserv="$AUTHSERV" -s "$script" 2>&1)
	rc=$?
	printf '%s\n' "$out" | grep -E '^(PASS|FAIL) '
	line=$(printf '%s\n' "$out" | grep -E "^$label: [0-9]+ passed, [0-9]+ failed\$" | tail -1)
	if [ -z "$line" ] || [ $rc -ne 0 ]; then
		printf '%s\n' "$out" | grep -Ev '^(PASS|FAIL) ' | tail -8 | sed 's/^/     | /'
	fi
	if [ -z "$line" ]; then
		ko "$label: no result line (miltertest exit $rc)"
		return
	fi
	p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
	f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed$/\1/')
	pass=$((pass + p)); fail=$((fail + f))
	[ $rc -eq 0 ] || ko "$label: miltertest exit $rc"
}

scripts=()
for s in tests/milter/t-*.lua; do
	[ -z "$pat" ] || [[ $(basename "$s") == *$pat* ]] || continue
	scripts+=("$s")
done

# 1. unix socket
if start unix "unix:$T/gw.sock"; then
	for s in "${scripts[@]}"; do
		run "$(basename "$s" .lua)" "unix:$T/gw.sock" "$s"
	done
	alive "$DPID" && ok "unix: daemon still running after every script" ||
	    ko "unix: daemon died" "$(tail -20 "$T/unix.log")"
	stop_pid "$DPID"
fi

# 2. TCP
if start tcp "inet:$PORT@127.0.0.1"; then
	for s in "${scripts[@]}"; do
		case $s in *t-clean.lua|*t-reject-rcpt.lua|*t-multi.lua) ;; *) continue ;; esac
		run "$(basename "$s" .lua)-tcp" "inet:$PORT@127.0.0.1" "$s"
	done
	stop_pid "$DPID"
fi

# 3. valgrind: abort at every stage, several messages per connection, and
# signing (with aborts and a connection dropped mid-body)
if [ -z "$pat" ] || [[ abort == *$pat* ]] || [[ multi == *$pat* ]] ||
    [[ dkim-sign == *$pat* ]]; then
	if ! command -v valgrind >/dev/null; then
		ko "valgrind not installed (add it to DEPS_TEST)"
	elif start valgrind "unix:$T/vg.sock" valgrind --error-exitcode=99 \
	    --leak-check=full --errors-for-leak-kinds=definite,indirect \
	    --show-leak-kinds=definite,indirect; then
		run t-abort-valgrind "unix:$T/vg.sock" tests/milter/t-abort.lua
		run t-multi-valgrind "unix:$T/vg.sock" tests/milter/t-multi.lua
		run t-dkim-sign-valgrind "unix:$T/vg.sock" tests/milter/t-dkim-sign.lua
		kill -TERM "$DPID"
		for i in $(seq 600); do alive "$DPID" || break; sleep 0.05; done
		alive "$DPID" && kill -KILL "$DPID"
		wait "$DPID"
		rc=$?
		summary=$(grep -E '==[0-9]+== ERROR SUMMARY:' "$T/valgrind.log" | tail -1)
		if printf '%s\n' "$summary" | grep -q 'ERROR SUMMARY: 0 errors'; then
			ok "valgrind: no memory errors, no definite or indirect leaks (${summary#*== })"
		else
			ko "valgrind: ${summary:-no ERROR SUMMARY (valgrind died?)}" \
			    "$(grep -E '==[0-9]+==' "$T/valgrind.log" | grep -v 'possibly lost' | head -60)"
		fi
		if [ $rc -eq 0 ]; then
			ok "valgrind: daemon exits 0 on SIGTERM"
		else
			ko "valgrind: daemon exit status $rc on SIGTERM (143 = killed by the signal), want 0"
		fi
	fi
fi

t_done
