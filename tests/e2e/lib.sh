# shellcheck shell=bash
# lib.sh - end-to-end test harness: a private Postfix, a sink, gatewarden,
# and (when a case needs them) NSD and Redis, all on 127.0.0.1, each started
# by this library and stopped by PID when the case exits, pass or fail.
#
# A case is tests/e2e/NN-name.sh (bash, executable).  NN (00-49) picks its
# port block: 27000 + 20*NN, so cases never share a port:
#   +0 SMTP (Postfix smtpd)   +1 sink   +2 milter (TCP)   +3 DNS   +4 Redis
#   +5..+19 free for the case ($E2E_PORT_FREE is the first)
#
#   . "$(dirname "$0")/lib.sh"
#   e2e_init                       # temp dir, ports, trap
#   e2e_gw_conf "$E2E_DIR/gw.json" unix '{"policies": {...}}'
#   e2e_gw_start "$E2E_DIR/gw.json"
#   e2e_sink_start
#   e2e_postfix_start              # milter = the running gatewarden
#   e2e_send --from a@x.example --to b@y.example --header "X-Test-Id: t1"
#   f=$(e2e_wait_sink 'X-Test-Id: t1') && e2e_ok "delivered" || e2e_fail "delivered"
#   e2e_finish                     # prints "NAME: N passed, N failed", exits
#
# See tests/e2e/README.md for the whole list of helpers.

set -u

E2E_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${BUILD:=build}"
: "${GW:=$E2E_TOP/$BUILD/gatewarden}"
# counting, the result line, alive/stop_pid and free_port: the suites' own
# (tests/lib.sh); the e2e_* names below are what the cases call
# shellcheck source=../lib.sh
. "$E2E_TOP/tests/lib.sh"
E2E_PIDS=()		# "name:pid" of everything started here
E2E_SWAKS_N=0
E2E_AUTHSERV_ID=${E2E_AUTHSERV_ID:-mx.gw.test}

# --- logging and asserts ----------------------------------------------------

e2e_log() { printf '[%s %s] %s\n' "$E2E_NAME" "$(date +%T.%3N)" "$*" >&2; }

# e2e_ok DESC / e2e_fail DESC [DETAIL...] - tests/lib.sh's ok and ko,
# under the case's name
e2e_ok() { T_NAME=$E2E_NAME; ok "$@"; }
e2e_fail() { T_NAME=$E2E_NAME; ko "$@"; }

# e2e_check DESC CMD... - pass when CMD exits 0
e2e_check() { T_NAME=$E2E_NAME; check "$@"; }

# e2e_eq DESC EXPECTED ACTUAL - pass when the two strings are equal
e2e_eq() {
	if [ "$2" = "$3" ]; then e2e_ok "$1"
	else e2e_fail "$1" "expected: $2" "got:      $3"; fi
}

# e2e_match DESC ERE STRING - pass when STRING matches the extended regex
e2e_match() {
	if printf '%s\n' "$3" | grep -Eq -- "$2"; then e2e_ok "$1"
	else e2e_fail "$1" "expected /$2/" "got: $3"; fi
}

# --- set-up and tear-down ---------------------------------------------------

# e2e_alive PID - tests/lib.sh's alive: running and not a zombie
e2e_alive() { alive "$@"; }

# e2e_tcp_open HOST PORT - something listens there
e2e_tcp_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# e2e_poll TIMEOUT_S CMD... - run CMD every 50 ms until it succeeds
e2e_poll() {
	local end=$(( $(date +%s%N) + ${1%.*} * 1000000000 )); shift
	while :; do
		"$@" && return 0
		[ "$(date +%s%N)" -lt "$end" ] || return 1
		sleep 0.05
	done
}

# e2e_stop_pid NAME PID - tests/lib.sh's stop_pid: TERM, wait up to 10 s
# (libmilter may need ~5 s), KILL
e2e_stop_pid() { stop_pid "$2"; }

# e2e_track NAME PID - stop PID at exit
e2e_track() { E2E_PIDS+=("$1:$2"); }

# e2e_init [NN] - ports, temp dir, trap.  NN defaults to the case file's
# number.  E2E_PORT_BASE overrides the port block (the benchmark uses it).
e2e_init() {
	local nn=${1:-}
	E2E_NAME=$(basename "$0" .sh)
	T_NAME=$E2E_NAME
	[ -n "$nn" ] || nn=${E2E_NAME%%-*}
	case $nn in
	[0-9]|[0-9][0-9]) nn=$((10#$nn)) ;;
	*) echo "e2e: cannot take a case number from $E2E_NAME" >&2; exit 2 ;;
	esac
	[ "$nn" -le 49 ] || { echo "e2e: case number $nn > 49" >&2; exit 2; }
	E2E_CASE=$nn
	E2E_BASE=${E2E_PORT_BASE:-$((27000 + 20 * nn))}
	# the case's own block is taken (another checkout running the same
	# case, say): 20 free ones in a row from 23000-26999 instead
	if [ -z "${E2E_PORT_BASE:-}" ] &&
	    [ "$(free_port "$E2E_BASE" $((E2E_BASE + 19)) 0 20)" != "$E2E_BASE" ]; then
		E2E_BASE=$(free_port 23000 26999 "$nn" 20) || {
			echo "e2e: block $((27000 + 20 * nn)).. in use and no 20 free ports in 23000-26999" >&2
			echo "$E2E_NAME: 0 passed, 1 failed"
			exit 1
		}
	fi
	SMTP_PORT=$E2E_BASE
	SINK_PORT=$((E2E_BASE + 1))
	MILTER_PORT=$((E2E_BASE + 2))
	DNS_PORT=$((E2E_BASE + 3))
	REDIS_PORT=$((E2E_BASE + 4))
	E2E_PORT_FREE=$((E2E_BASE + 5))
	local p
	for p in $SMTP_PORT $SINK_PORT $MILTER_PORT; do
		if e2e_tcp_open 127.0.0.1 "$p"; then
			echo "e2e: 127.0.0.1:$p already in use" >&2
			echo "$E2E_NAME: 0 passed, 1 failed"
			exit 1
		fi
	done
	E2E_DIR=$(mktemp -d "${TMPDIR:-/tmp}/gw-e2e-$E2E_NAME.XXXXXX")
	chmod 755 "$E2E_DIR"	# Postfix and the sink run as user postfix
	SINK_DIR=$E2E_DIR/sink
	PF_ETC=$E2E_DIR/pf/etc
	PF_SPOOL=$E2E_DIR/pf/spool
	PF_LOG=$E2E_DIR/pf/maillog
	GW_LOG=$E2E_DIR/gw.log
	GW_SOCK=$E2E_DIR/gw.sock
	export E2E_DIR SINK_DIR SMTP_PORT SINK_PORT MILTER_PORT DNS_PORT \
	    REDIS_PORT GW BUILD
	trap e2e_cleanup EXIT
	trap 'exit 130' INT TERM
}

# e2e_cleanup - stop everything by PID (newest first), remove the temp dir
e2e_cleanup() {
	local i ent pid p
	if [ -f "$PF_SPOOL/pid/master.pid" ]; then
		# re-read: a test may have restarted Postfix
		p=$(tr -d ' ' < "$PF_SPOOL/pid/master.pid")
		if e2e_alive "$p"; then
			postfix -c "$PF_ETC" stop >/dev/null 2>&1
			e2e_stop_pid postfix "$p"
		fi
	fi
	for ((i = ${#E2E_PIDS[@]} - 1; i >= 0; i--)); do
		ent=${E2E_PIDS[$i]}
		pid=${ent##*:}
		e2e_stop_pid "${ent%:*}" "$pid"
	done
	if [ "$fail" -gt 0 ] || [ "${E2E_KEEP:-0}" = 1 ]; then
		e2e_diag
	fi
	if [ "${E2E_KEEP:-0}" = 1 ]; then
		e2e_log "kept $E2E_DIR"
	else
		rm -rf "$E2E_DIR"
	fi
}

# e2e_diag - the end of every log, for a failed case
e2e_diag() {
	local f
	for f in "$GW_LOG" "$PF_LOG" "$E2E_DIR"/*.log; do
		[ -s "$f" ] || continue
		echo "----- ${f#"$E2E_DIR"/} (last 25 lines)"
		tail -25 "$f"
	done
}

# e2e_finish - tests/lib.sh's t_done: the case's result line, its status
e2e_finish() { T_NAME=$E2E_NAME; t_done; }

# e2e_die MSG - a set-up step failed: count it, stop here
e2e_die() {
	e2e_fail "set-up: $*"
	e2e_finish
}

# --- the sink ---------------------------------------------------------------

# e2e_sink_start - smtp-sink on SINK_PORT, one file per message in SINK_DIR
# (E2E_SINK_DISCARD=1: no files, for benchmarks)
e2e_sink_start() {
	mkdir -p "$SINK_DIR"
	chown postfix "$SINK_DIR"
	local keep=(-d "$SINK_DIR/%H%M%S.")
	[ "${E2E_SINK_DISCARD:-0}" = 1 ] && keep=()	# benchmarks: no files
	smtp-sink -u postfix -h sink.gw.test "${keep[@]}" \
	    127.0.0.1:"$SINK_PORT" 256 </dev/null >"$E2E_DIR/sink.log" 2>&1 &
	e2e_track sink $!
	e2e_poll 10 e2e_tcp_open 127.0.0.1 "$SINK_PORT" ||
	    e2e_die "smtp-sink did not listen on $SINK_PORT"
}

# e2e_sink_count - number of messages in the sink
e2e_sink_count() { find "$SINK_DIR" -type f | wc -l; }

# e2e_sink_grep FIXED_STRING - files that contain it (one per line)
e2e_sink_grep() { grep -lF -- "$1" "$SINK_DIR"/* 2>/dev/null; }

# e2e_wait_sink FIXED_STRING [TIMEOUT_S] - wait for a message that contains
# the string; print its file name.  Status 1 on time-out.
e2e_wait_sink() {
	local s=$1 t=${2:-15} f
	e2e_poll "$t" eval 'f=$(e2e_sink_grep "$s" | head -1); [ -n "$f" ]' ||
	    return 1
	# smtp-sink writes the file while it receives: wait for the end
	e2e_poll 5 eval 'tail -c 64 "$f" | grep -q "[^[:space:]]"' || true
	echo "$f"
}

# e2e_headers FILE - the message's header names in order, one per line,
# without the sink's own lines (see e2e_header_lines)
e2e_headers() { e2e_header_lines "$1" | sed 's/:.*//'; }

# e2e_header_lines FILE - every header of the message, unfolded, one per
# line, in order; the sink's own lines (X-Client-*, X-Helo-Args, X-Mail-Args,
# X-Rcpt-Args and its "(smtp-sink)" Received) are left out
e2e_header_lines() {
	awk '
		/^\r?$/ { if (cur != "") print cur; exit }
		/^[ \t]/ { sub(/^[ \t]+/, " "); cur = cur $0; next }
		{ if (cur != "") print cur; cur = $0 }
	' "$1" | tr -d '\r' | grep -Ev '^X-(Client|Helo|Mail|Rcpt)-' |
	    grep -Ev '^Received: .*\(smtp-sink\)'
}

# --- Postfix ----------------------------------------------------------------

# e2e_postfix_conf [MILTER] - write main.cf and master.cf.  MILTER is the
# Postfix milter spec (unix:PATH, inet:127.0.0.1:PORT) or "none"; the
# default is the gatewarden started by e2e_gw_start.  Extra main.cf lines
# can be given in E2E_POSTFIX_EXTRA, extra master.cf lines (e.g. more smtpd
# listeners with their own -o smtpd_milters=...) in E2E_POSTFIX_MASTER_EXTRA.
e2e_postfix_conf() {
	local milter=${1:-${E2E_PF_MILTER:-none}}
	[ "$milter" = none ] && milter=""
	mkdir -p "$PF_ETC" "$PF_SPOOL" "$E2E_DIR/pf/data"
	chown postfix "$E2E_DIR/pf/data"
	cat > "$PF_ETC/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $PF_SPOOL
data_directory = $E2E_DIR/pf/data
mail_owner = postfix
setgid_group = postdrop
maillog_file_prefixes = $E2E_DIR
maillog_file = $PF_LOG
syslog_name = postfix-$E2E_NAME
myhostname = mx.gw.test
mydomain = gw.test
myorigin = \$myhostname
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
biff = no
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relay_domains = static:ALL
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
transport_maps = static:smtp:[127.0.0.1]:$SINK_PORT
relayhost = [127.0.0.1]:$SINK_PORT
smtp_dns_support_level = disabled
lmtp_dns_support_level = disabled
smtpd_peername_lookup = no
smtpd_authorized_xclient_hosts = 127.0.0.0/8
smtpd_milters = $milter
non_smtpd_milters = \$smtpd_milters
milter_protocol = 6
milter_default_action = tempfail
milter_connect_timeout = 5s
milter_command_timeout = 10s
milter_content_timeout = 20s
milter_connect_macros = j {daemon_name} {daemon_addr} v _ {client_addr} {client_name} {client_port} {client_ptr}
milter_mail_macros = i {auth_type} {auth_authen} {auth_author} {mail_addr} {mail_host} {mail_mailer}
queue_run_delay = 10s
minimal_backoff_time = 10s
maximal_backoff_time = 30s
in_flow_delay = 0
smtpd_client_connection_rate_limit = 0
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 100
smtpd_hard_error_limit = 200
default_process_limit = 100
smtputf8_enable = yes
${E2E_POSTFIX_EXTRA:-}
EOF
	cat > "$PF_ETC/master.cf" <<EOF
127.0.0.1:$SMTP_PORT inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
${E2E_POSTFIX_MASTER_EXTRA:-}
EOF
	# A config file younger than ~2 s makes every postfix command wait
	# for it to settle: backdate (also after any postconf -e).
	touch -d '10 seconds ago' "$PF_ETC/main.cf" "$PF_ETC/master.cf"
}

# e2e_postfix_start [MILTER] - write the config and start Postfix
e2e_postfix_start() {
	e2e_postfix_conf "$@"
	if ! postfix -c "$PF_ETC" start >"$E2E_DIR/postfix-start.log" 2>&1; then
		# errors go to the maillog unless stderr is a terminal
		script -qec "postfix -c $PF_ETC check" /dev/null \
		    >>"$E2E_DIR/postfix-start.log" 2>&1
		e2e_die "postfix start failed: $(tail -3 "$E2E_DIR/postfix-start.log" "$PF_LOG" 2>/dev/null)"
	fi
	e2e_poll 10 e2e_tcp_open 127.0.0.1 "$SMTP_PORT" ||
	    e2e_die "postfix not listening on $SMTP_PORT"
	PF_PID=$(tr -d ' ' < "$PF_SPOOL/pid/master.pid")
}

# e2e_postfix_stop - stop Postfix (e.g. to restart with another milter)
e2e_postfix_stop() {
	local p
	p=$(tr -d ' ' < "$PF_SPOOL/pid/master.pid" 2>/dev/null)
	postfix -c "$PF_ETC" stop >/dev/null 2>&1
	e2e_stop_pid postfix "$p"
	e2e_poll 10 eval '! e2e_tcp_open 127.0.0.1 "$SMTP_PORT"' || true
}

# e2e_maillog - Postfix's log so far
e2e_maillog() { cat "$PF_LOG" 2>/dev/null; }

# e2e_queue_count - messages in Postfix's queue (not yet delivered)
e2e_queue_count() {
	find "$PF_SPOOL"/incoming "$PF_SPOOL"/active "$PF_SPOOL"/deferred \
	    "$PF_SPOOL"/hold "$PF_SPOOL"/maildrop -type f 2>/dev/null | wc -l
}

# e2e_settle [TIMEOUT_S] - wait until Postfix's queue is empty: everything
# accepted so far has reached the sink (or was bounced; see the maillog)
e2e_settle() {
	e2e_poll "${1:-15}" eval '[ "$(e2e_queue_count)" -eq 0 ]'
}

# --- gatewarden -------------------------------------------------------------

# e2e_gw_conf OUT TRANSPORT [JSON] - write a gatewarden config: TRANSPORT is
# unix (socket $GW_SOCK) or tcp (127.0.0.1:$MILTER_PORT); JSON is merged
# over the base (objects recursively, everything else replaced).  Sets
# E2E_PF_MILTER, the matching Postfix milter spec.
e2e_gw_conf() {
	local out=$1 transport=$2 extra=${3:-'{}'} sock
	case $transport in
	unix) sock="unix:$GW_SOCK"; E2E_PF_MILTER="unix:$GW_SOCK" ;;
	tcp) sock="inet:$MILTER_PORT@127.0.0.1"
	     E2E_PF_MILTER="inet:127.0.0.1:$MILTER_PORT" ;;
	*) e2e_die "e2e_gw_conf: transport unix or tcp, not $transport" ;;
	esac
	E2E_GW_SOCKET=$sock
	/usr/bin/python3 - "$out" "$sock" "$E2E_AUTHSERV_ID" "$extra" <<'PY' ||
import json, sys
out, sock, authserv, extra = sys.argv[1:5]
base = {
    "milter": {"socket": sock},
    "authserv_id": authserv,
    "log": {"level": "debug"},
    "policies": {},
}
def merge(a, b):
    for k, v in b.items():
        if isinstance(v, dict) and isinstance(a.get(k), dict):
            merge(a[k], v)
        else:
            a[k] = v
    return a
merge(base, json.loads(extra))
with open(out, "w") as f:
    json.dump(base, f, indent=2)
    f.write("\n")
PY
	    e2e_die "e2e_gw_conf: bad JSON: $extra"
}

# e2e_gw_wait - wait for gatewarden's socket; fail fast if it died
e2e_gw_wait() {
	local i
	for i in $(seq 200); do
		e2e_alive "$GW_PID" || return 1
		case $E2E_GW_SOCKET in
		unix:*) [ -S "${E2E_GW_SOCKET#unix:}" ] && return 0 ;;
		inet:*) e2e_tcp_open 127.0.0.1 "$MILTER_PORT" && return 0 ;;
		esac
		sleep 0.05
	done
	return 1
}

# e2e_gw_start CONFIG [ARGS...] - run "$GW -f -c CONFIG" in the background
# (stderr to $GW_LOG), wait for its socket.  E2E_GW_WRAP can prefix the
# command (e.g. "valgrind -q").
e2e_gw_start() {
	local conf=$1; shift
	[ -x "$GW" ] || e2e_die "no daemon binary at $GW"
	# shellcheck disable=SC2086
	${E2E_GW_WRAP:-} "$GW" -f -c "$conf" "$@" </dev/null >>"$GW_LOG" 2>&1 &
	GW_PID=$!
	e2e_track gatewarden "$GW_PID"
	e2e_gw_wait || e2e_die "gatewarden did not listen on $E2E_GW_SOCKET: $(tail -5 "$GW_LOG")"
	case $E2E_GW_SOCKET in
	unix:*) chmod 666 "${E2E_GW_SOCKET#unix:}" ;;	# smtpd runs as postfix
	esac
}

# e2e_gw_stop - stop gatewarden (TERM), wait for it to exit
e2e_gw_stop() {
	e2e_stop_pid gatewarden "$GW_PID"
}

# e2e_gw_log - gatewarden's log so far
e2e_gw_log() { cat "$GW_LOG" 2>/dev/null; }

# --- DNS and Redis (for the cases that need them) ---------------------------

# e2e_dns_start ZONE FILE [ZONE FILE...] - NSD on 127.0.0.1:$DNS_PORT
# serving each zone from its file.  Point gatewarden at it with
# "dns": {"servers": ["127.0.0.1@$DNS_PORT"]}.  Any zone works, .test too:
# with configured servers the resolver drops libunbound's built-in local
# zones (docs/dns.md).  Its PID is $DNS_PID (e2e_dns_stop stops it).
e2e_dns_start() {
	local d=$E2E_DIR/dns
	mkdir -p "$d"
	cat > "$d/nsd.conf" <<EOF
server:
    ip-address: 127.0.0.1@$DNS_PORT
    port: $DNS_PORT
    server-count: 1
    username: ""
    chroot: ""
    zonesdir: "$d"
    pidfile: "$d/nsd.pid"
    database: ""
    xfrdfile: "$d/xfrd.state"
    zonelistfile: "$d/zone.list"
    xfrdir: "$d"
    logfile: "$d/nsd.log"
    verbosity: 1
remote-control:
    control-enable: no
EOF
	while [ $# -ge 2 ]; do
		cp "$2" "$d/$1.zone"
		nsd-checkzone "$1" "$d/$1.zone" >"$E2E_DIR/nsd-check.log" 2>&1 ||
		    e2e_die "zone $1 does not load: $(cat "$E2E_DIR/nsd-check.log")"
		printf 'zone:\n    name: "%s"\n    zonefile: "%s.zone"\n' \
		    "$1" "$1" >> "$d/nsd.conf"
		shift 2
	done
	nsd -d -c "$d/nsd.conf" </dev/null >"$E2E_DIR/nsd.log" 2>&1 &
	DNS_PID=$!
	e2e_track nsd "$DNS_PID"
	e2e_poll 10 eval "dig +short +time=1 +tries=1 @127.0.0.1 -p $DNS_PORT . SOA >/dev/null 2>&1 && [ -s '$d/nsd.pid' ]" ||
	    e2e_die "nsd did not start"
}

# e2e_dns_stop - stop NSD (TERM to $DNS_PID, wait until it is gone) and
# wait until nothing answers on $DNS_PORT any more.  Status 1 if something
# still answers there.
e2e_dns_stop() {
	e2e_stop_pid nsd "$DNS_PID"
	e2e_poll 5 eval "! dig +short +time=1 +tries=1 @127.0.0.1 -p $DNS_PORT . SOA >/dev/null 2>&1"
}

# e2e_redis_start - a throwaway redis-server on 127.0.0.1:$REDIS_PORT
e2e_redis_start() {
	mkdir -p "$E2E_DIR/redis"
	redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' \
	    --appendonly no --daemonize no --dir "$E2E_DIR/redis" \
	    </dev/null >"$E2E_DIR/redis.log" 2>&1 &
	e2e_track redis $!
	e2e_poll 10 e2e_tcp_open 127.0.0.1 "$REDIS_PORT" ||
	    e2e_die "redis did not start"
}

# --- SMTP client ------------------------------------------------------------

# e2e_send SWAKS_ARGS... - one SMTP session with swaks to our Postfix.
# Defaults: --from sender@gw.example --to rcpt@dest.example --helo
# client.gw.example; give --xclient-addr ADDR [--xclient-name NAME] to
# pose as a non-loopback client.  The transcript is in $E2E_SWAKS; the
# status is swaks's (0 = every step accepted).
e2e_send() {
	local has_from=0 has_to=0 has_helo=0 a
	for a in "$@"; do
		case $a in
		--from|-f) has_from=1 ;;
		--to|-t) has_to=1 ;;
		--helo|--ehlo|-h) has_helo=1 ;;
		esac
	done
	local args=(--server 127.0.0.1 --port "$SMTP_PORT" --timeout 30
	    --hide-informational)
	[ $has_from = 1 ] || args+=(--from sender@gw.example)
	[ $has_to = 1 ] || args+=(--to rcpt@dest.example)
	[ $has_helo = 1 ] || args+=(--helo client.gw.example)
	E2E_SWAKS_N=$((E2E_SWAKS_N + 1))
	E2E_SWAKS=$E2E_DIR/swaks.$E2E_SWAKS_N.log
	swaks "${args[@]}" "$@" </dev/null >"$E2E_SWAKS" 2>&1
}

# e2e_two_streams N SESSIONS - two smtp-source runs in the background, N
# messages from ok@gw.example and N from held@gw.example to
# rcpt@dest.example, SESSIONS sessions each (logs src-ok.log and
# src-held.log); sets ok_pid and held_pid, both tracked
e2e_two_streams() {
	local who
	for who in ok held; do
		smtp-source -s "$2" -m "$1" -f "$who@gw.example" \
		    -t rcpt@dest.example 127.0.0.1:"$SMTP_PORT" \
		    >"$E2E_DIR/src-$who.log" 2>&1 &
		eval "${who}_pid=\$!"
		e2e_track smtp-source "$!"
	done
}

# e2e_reply CMD_PREFIX - the server's first reply line to the first client
# line that starts with CMD_PREFIX in the last transcript, e.g.
# e2e_reply "MAIL FROM", e2e_reply "RCPT TO:<b@x>", e2e_reply "." (end of DATA)
e2e_reply() {
	awk -v p="$1" '
		found && /^ *<[-*~]/ {
			sub(/^ *<[-*~]+ */, ""); sub(/\r$/, ""); print; exit
		}
		!found && /^ *[-~*]> / {
			l = $0; sub(/^ *[-~*]> */, "", l)
			if (index(l, p) == 1) found = 1
		}
	' "$E2E_SWAKS"
}

# e2e_reply_code CMD_PREFIX - just the three-digit code of e2e_reply
e2e_reply_code() { e2e_reply "$1" | cut -c1-3; }
