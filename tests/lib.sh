# shellcheck shell=sh
# lib.sh - what every test suite shares: counting checks and the closing
# result line, a free port below 32768, processes started in the background
# and stopped by PID, and a private temp dir removed on exit.
#
# A suite is tests/suites/GROUP/NAME.sh; tests/run-all.sh lists them in run
# order.  It starts at the top of the tree and sources this file:
#
#   cd "$(dirname "$0")/../../.." || exit 1
#   . tests/lib.sh
#   t_init dns                  # result-line name; sets $T, BUILD, GW, PY
#   check "fixture answers" dig ...
#   t_done                      # "dns: N passed, N failed", exit status
#
# t_init creates $T (mktemp -d /tmp/gw-NAME.XXXXXX) and sets the traps: on
# exit the suite's own cleanup() runs first when it defines one, then every
# PID given to t_track is stopped and $T is removed (KEEP=1 keeps it).
# Runs under sh (dash) and bash alike.

: "${BUILD:=build}"
: "${GW:=$PWD/$BUILD/gatewarden}"
PY=/usr/bin/python3
export BUILD GW
pass=0
fail=0
T_NAME=
T=
T_PIDS=

# t_init NAME - name the suite, make its temp dir, install the exit trap
t_init() {
	T_NAME=$1
	T=$(mktemp -d "/tmp/gw-$1.XXXXXX") || {
		echo "$1: cannot make a temp dir"
		echo "$1: 0 passed, 1 failed"
		exit 1
	}
	trap t_exit EXIT
	trap 'exit 130' INT TERM
}

# t_exit - the EXIT trap: the suite's cleanup, tracked PIDs, the temp dir
t_exit() {
	t_st=$?
	if command -v cleanup >/dev/null 2>&1; then
		cleanup
	fi
	# shellcheck disable=SC2086
	stop_pid $T_PIDS
	if [ -n "$T" ] && [ -z "${KEEP:-}" ]; then
		rm -rf "$T"
	fi
	exit $t_st
}

# ok [DESC] - count a pass (DESC is printed when given, unless T_QUIET is
# set: suites with hundreds of checks print their failures only)
ok() {
	pass=$((pass + 1))
	[ $# -eq 0 ] || [ -n "${T_QUIET:-}" ] || echo "ok   $T_NAME: $*"
	return 0
}

# ko DESC [DETAIL...] - count a failure, print it and each detail line
ko() {
	fail=$((fail + 1))
	echo "FAIL $T_NAME: $1"
	shift
	[ $# -eq 0 ] || printf '     %s\n' "$@"
	return 0
}

# check DESC CMD... - a pass when CMD exits 0
check() {
	t_what=$1
	shift
	if "$@"; then ok "$t_what"; else ko "$t_what"; fi
}

# check_eq DESC GOT WANT - a pass when the two strings are equal
check_eq() {
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		ko "$1: got '$2', want '$3'"
	fi
}

# t_figures LINE - add the counts of a "X: N passed, N failed" line
t_figures() {
	t_p=$(echo "$1" | sed -nE 's/^.*: ([0-9]+) passed, [0-9]+ failed.*$/\1/p')
	t_f=$(echo "$1" | sed -nE 's/^.*: [0-9]+ passed, ([0-9]+) failed.*$/\1/p')
	if [ -z "$t_p" ] || [ -z "$t_f" ]; then
		ko "no result line: $1"
		return 1
	fi
	pass=$((pass + t_p))
	fail=$((fail + t_f))
}

# t_done - print "NAME: N passed, N failed" and exit; a suite that passed
# nothing has tested nothing, and that is a failure too
t_done() {
	echo "$T_NAME: $pass passed, $fail failed"
	[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
	exit $?
}

# t_require TOOL... - a failure (never a skip) when a tool is missing
t_require() {
	for t_tool in "$@"; do
		command -v "$t_tool" >/dev/null 2>&1 && continue
		ko "$t_tool not installed (make deps-test)"
		t_done
	done
}

# t_built FILE... - a failure naming FILE when a program the build makes
# is missing (make test-tools builds every one)
t_built() {
	for t_bin in "$@"; do
		[ -x "$t_bin" ] && continue
		ko "no $t_bin (make test-tools)"
		t_done
	done
}

# t_data PATH - a failure naming PATH when the tree's test data is missing
t_data() {
	[ -e "$1" ] && return 0
	ko "test data missing: $1"
	t_done
}

# free_port LO HI [SEED] [COUNT] - print a port in LO..HI that 127.0.0.1
# can bind for TCP and UDP now (with COUNT: the first of COUNT consecutive
# such ports, all inside LO..HI), starting at a place that depends on SEED
# (default the PID) so that suites running side by side start apart; fails
# when none is free.  HI < 32768: the kernel's ephemeral range starts there.
free_port() {
	"$PY" - "$1" "$2" "${3:-$$}" "${4:-1}" <<'EOF'
import socket, sys
lo, hi, seed, count = (int(a) for a in sys.argv[1:5])
n = hi - lo + 2 - count
def free(p):
    try:
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            s = socket.socket(socket.AF_INET, kind)
            try:
                s.bind(("127.0.0.1", p))
            finally:
                s.close()
    except OSError:
        return False
    return True
for i in range(max(n, 0)):
    p = lo + (seed * 7 + i) % n
    if all(free(q) for q in range(p, p + count)):
        print(p)
        sys.exit(0)
sys.exit(1)
EOF
}

# The line the daemon and `-n` print when run as root without milter.user
# (tests run as root; suites that compare -n output set it aside with
# no_root_warning, and the daemon suite checks the line itself).
GW_ROOT_WARNING='^gatewarden: warning: started as root and milter.user is not set'

# no_root_warning [FILE] - stdin (or FILE, in place) without that line
no_root_warning() {
	if [ $# -gt 0 ]; then
		sed -i "/$GW_ROOT_WARNING/d" "$1"
	else
		grep -v "$GW_ROOT_WARNING"
	fi
}

# alive PID - the process exists and is not a zombie.  One read of its
# state: bash reaps its children whenever SIGCHLD comes, so /proc/PID can
# vanish between two looks, and a status file that cannot be read means
# gone, never alive (reading it as alive once made a suite see a daemon
# that had exited 0 "still running" and report status 255).
alive() {
	[ -n "${1:-}" ] || return 1
	t_state=$(sed -n 's/^State:[[:space:]]*\([A-Za-z]\).*/\1/p' \
	    "/proc/$1/status" 2>/dev/null)
	[ -n "$t_state" ] && [ "$t_state" != Z ]
}

# t_track PID... - stop these when the suite exits
t_track() {
	T_PIDS="$T_PIDS $*"
}

# stop_pid PID... - TERM each, wait up to 10 s for all (libmilter takes
# about 5 s), KILL what is left, then reap them
stop_pid() {
	for t_p in "$@"; do
		alive "$t_p" && kill -TERM "$t_p" 2>/dev/null
	done
	t_i=0
	while [ $t_i -lt 200 ]; do
		t_left=
		for t_p in "$@"; do
			alive "$t_p" && t_left=1
		done
		[ -n "$t_left" ] || break
		sleep 0.05
		t_i=$((t_i + 1))
	done
	for t_p in "$@"; do
		alive "$t_p" && kill -KILL "$t_p" 2>/dev/null
		wait "$t_p" 2>/dev/null
	done
	return 0
}
