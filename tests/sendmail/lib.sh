# shellcheck shell=bash
# lib.sh - a private Sendmail for the end-to-end tests, on top of
# tests/e2e/lib.sh (source that first: temp dir, ports, sink, NSD,
# gatewarden, swaks and the asserts all come from there).
#
# The daemon is Debian's, extracted by tests/sendmail/fetch.sh into
# $SM_ROOT (never installed: it would remove Postfix).  Its .cf is built
# with m4 from a test .mc that includes the milter lines of
# conf/sendmail/gatewarden.mc, the file sites use, with its socket pointed
# at the test's gatewarden.
#
#   sm_start MILTER_SOCKET [EXTRA_MC]  listen on 127.0.0.1:$SMTP_PORT and
#                                      [::1]:$SM_PORT6, relay to the sink
#   sm_stop                            stop it by PID
#
# Sendmail logs through syslog only; what it did is read from the SMTP
# replies and from the sink.

SM_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${SM_ROOT:=$SM_TOP/build/sendmail-root}"
SM_DAEMON=$SM_ROOT/usr/libexec/sendmail/sendmail
SM_CF_DIR=$SM_ROOT/usr/share/sendmail/cf
SM_HOSTNAME=${SM_HOSTNAME:-mx.gw.test}
SM_SHIPPED_SOCKET='S=inet:8891@127.0.0.1'

# sm_fetch - the extracted packages (downloaded once, see fetch.sh)
sm_fetch() {
	"$SM_TOP/tests/sendmail/fetch.sh" "$SM_ROOT" >"$E2E_DIR/fetch.log" 2>&1 ||
	    e2e_die "sendmail packages: $(tail -3 "$E2E_DIR/fetch.log")"
	command -v m4 >/dev/null || e2e_die "m4 is missing (make deps-test)"
}

# sm_mc MILTER_SOCKET [EXTRA_MC] - print the test .mc.  The milter lines
# are conf/sendmail/gatewarden.mc's, with its socket replaced.
sm_mc() {
	local sock=$1 extra=${2:-} d=$E2E_DIR/sm q="'" b='`'
	cat <<MC
divert(-1)
divert(0)dnl
include(${b}$SM_CF_DIR/m4/cf.m4${q})dnl
VERSIONID(${b}gatewarden end-to-end test${q})dnl
OSTYPE(${b}linux${q})dnl
define(${b}QUEUE_DIR${q}, ${b}$d/mqueue${q})dnl
define(${b}MSP_QUEUE_DIR${q}, ${b}$d/clientmqueue${q})dnl
define(${b}ALIAS_FILE${q}, ${b}${q})dnl
define(${b}confCW_FILE${q}, ${b}${q})dnl
define(${b}STATUS_FILE${q}, ${b}$d/statistics${q})dnl
define(${b}confPID_FILE${q}, ${b}$d/sendmail.pid${q})dnl
define(${b}confHOST_STATUS_DIRECTORY${q}, ${b}${q})dnl
define(${b}confDONT_PROBE_INTERFACES${q}, ${b}True${q})dnl
define(${b}confDELIVERY_MODE${q}, ${b}interactive${q})dnl
define(${b}confTO_IDENT${q}, ${b}0${q})dnl
define(${b}SMART_HOST${q}, ${b}[127.0.0.1]${q})dnl
define(${b}RELAY_MAILER_ARGS${q}, ${b}TCP \$h $SINK_PORT${q})dnl
define(${b}ESMTP_MAILER_ARGS${q}, ${b}TCP \$h $SINK_PORT${q})dnl
FEATURE(${b}promiscuous_relay${q})dnl
FEATURE(${b}accept_unresolvable_domains${q})dnl
DAEMON_OPTIONS(${b}Family=inet, Port=$SMTP_PORT, Addr=127.0.0.1, Name=MTA${q})dnl
DAEMON_OPTIONS(${b}Family=inet6, Port=$SM_PORT6, Addr=::1, Name=MTA6${q})dnl
$extra
MC
	sed "s|$SM_SHIPPED_SOCKET|S=$sock|" "$SM_TOP/conf/sendmail/gatewarden.mc"
	echo "MAILER(${b}smtp${q})dnl"
}

# sm_start MILTER_SOCKET [EXTRA_MC] - build the .cf, start Sendmail in the
# foreground in its own UTS namespace (a host name with a dot, so it does
# not sleep a minute looking for one), wait until both listeners answer
sm_start() {
	local d=$E2E_DIR/sm
	sm_fetch
	SM_PORT6=${SM_PORT6:-$((E2E_BASE + 6))}
	grep -qF "$SM_SHIPPED_SOCKET" "$SM_TOP/conf/sendmail/gatewarden.mc" ||
	    e2e_die "conf/sendmail/gatewarden.mc has no $SM_SHIPPED_SOCKET"
	mkdir -p "$d"
	install -d -m 700 "$d/mqueue" "$d/clientmqueue"
	: > "$d/statistics"
	sm_mc "$@" > "$d/test.mc"
	m4 -D_CF_DIR_="$SM_CF_DIR/" "$d/test.mc" > "$d/test.cf" 2>"$d/m4.log" ||
	    e2e_die "m4: $(tail -3 "$d/m4.log")"
	unshare --uts sh -c 'hostname "$1" && exec "$2" -C "$3" -bD' \
	    sh "$SM_HOSTNAME" "$SM_DAEMON" "$d/test.cf" \
	    </dev/null >"$E2E_DIR/sendmail.log" 2>&1 &
	SM_PID=$!
	e2e_track sendmail "$SM_PID"
	e2e_poll 20 eval 'e2e_tcp_open 127.0.0.1 "$SMTP_PORT" && e2e_tcp_open ::1 "$SM_PORT6"' ||
	    e2e_die "sendmail did not listen on $SMTP_PORT and [::1]:$SM_PORT6: $(tail -5 "$E2E_DIR/sendmail.log")"
}

# sm_stop - stop Sendmail by its PID
sm_stop() { e2e_stop_pid sendmail "$SM_PID"; }
