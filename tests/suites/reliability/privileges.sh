#!/bin/bash
# privileges - the daemon's own security, as root (a failure, not a skip,
# when not root):
#   1. a DKIM key file readable or writable by others is refused by -n and
#      at load; 0600 and 0640 (with the service's group) are taken; one
#      readable by another group, group-writable or owned by a third
#      account is refused;
#   2. started as root with milter.user "nobody": every uid and gid of the
#      running daemon is nobody's, no supplementary group is root's, and
#      the unix socket has milter.socket_mode (0620 here) and is nobody's;
#   3. the running daemon cannot read a key directory of another user: a
#      reload naming a key in a root-only (0700) directory is refused and
#      the running configuration kept, while the same key readable by
#      nobody reloads.
# Ends "privileges: N passed, N failed".
cd "$(dirname "$0")/../../.." || exit 1
. tests/lib.sh
t_init privileges
t_require openssl
DPID=""
cleanup() {
	stop_pid "$DPID"
}
t_built "$GW"
[ "$(id -u)" = 0 ] || { ko "must run as root (privilege drop)"; t_done; }
NOBODY=$(id -u nobody) || { ko "no user nobody"; t_done; }

# $T is 0700 root: a place nobody can reach only where we open it up
chmod 0711 "$T"
mkdir -m 0755 "$T/pub" && mkdir -m 0700 "$T/root-only"
openssl genpkey -algorithm ed25519 -out "$T/pub/k.pem" 2>/dev/null &&
    cp "$T/pub/k.pem" "$T/root-only/k.pem" ||
    { ko "openssl genpkey"; t_done; }
chown nobody "$T/pub/k.pem"

conf() {	# conf OUT KEYFILE
	"$PY" - "$1" "$2" "unix:$T/pub/gw.sock" <<'PY'
import json, sys
out, key, sock = sys.argv[1:4]
c = json.load(open("conf/gatewarden.json"))
c["milter"] = {"socket": sock, "socket_mode": "0620", "user": "nobody",
               "timeout": "30s", "shutdown_timeout": "1s"}
c["log"] = {"level": "info", "stderr": True}
c["dns"] = {"servers": ["127.0.0.1@31498"], "timeout_ms": 200}
p = c["policies"]
for k in p:
    if isinstance(p[k], dict):
        p[k]["enabled"] = k == "dkim"
p["dkim"]["sign"] = {"keys": [{"domain": "example.com", "selector": "s1",
    "key_file": key, "algorithm": "ed25519-sha256"}],
    "users": {"*": ["example.com"]}, "check_dns": "off"}
json.dump(c, open(out, "w"), indent=1)
PY
}
conf "$T/pub/gw.json" "$T/pub/k.pem" || { ko "configuration"; t_done; }
conf "$T/pub/root-only.json" "$T/root-only/k.pem"

# 1. key file modes (the key belongs to nobody and nobody's group: the
# service's, milter.user being nobody)
NOGRP=$(id -gn nobody)
chgrp "$NOGRP" "$T/pub/k.pem"
for m in 0644 0604 0602 0600 0640; do
	chmod "$m" "$T/pub/k.pem"
	out=$("$GW" -n -c "$T/pub/gw.json" 2>&1)
	case $m in
	06[04]0)
		if [ "$out" = "configuration OK" ]; then ok "key mode $m taken"
		else ko "key mode $m taken" "$out"; fi ;;
	*)
		case $out in
		*"readable or writable by others"*) ok "key mode $m refused" ;;
		*) ko "key mode $m refused" "$out" ;;
		esac ;;
	esac
done
# group-readable by a group that is not the service's, group-writable,
# owned by a third account: refused (filter/util/secret.h)
n_refused() {	# n_refused LABEL PATTERN
	local out
	out=$("$GW" -n -c "$T/pub/gw.json" 2>&1)
	case $out in
	*$2*) ok "$1" ;;
	*) ko "$1" "$out" ;;
	esac
}
chgrp root "$T/pub/k.pem"; chmod 0640 "$T/pub/k.pem"
n_refused "key 0640 readable by group root, not nobody's: refused" \
    "readable by group root (0), which is not the service's group $NOGRP"
chgrp "$NOGRP" "$T/pub/k.pem"; chmod 0660 "$T/pub/k.pem"
n_refused "key 0660 (group-writable): refused" "writable by its group (mode 0660)"
chmod 0600 "$T/pub/k.pem"; chown daemon "$T/pub/k.pem"
n_refused "key owned by a third account (daemon): refused" \
    "owned by uid $(id -u daemon), which is neither root nor the service user"
chown nobody "$T/pub/k.pem"
chmod 0600 "$T/pub/k.pem"

# 2. privilege drop and socket mode
"$GW" -f -c "$T/pub/gw.json" </dev/null >"$T/gw.log" 2>&1 &
DPID=$!
for _ in $(seq 200); do [ -S "$T/pub/gw.sock" ] && break; alive "$DPID" || break; sleep 0.05; done
[ -S "$T/pub/gw.sock" ] || { ko "daemon listens: $(tail -3 "$T/gw.log")"; t_done; }
sleep 0.2
uids=$(awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$DPID/status")
gids=$(awk '/^Gid:/ {print $2, $3, $4, $5}' "/proc/$DPID/status")
groups=$(awk '/^Groups:/ {$1 = ""; print}' "/proc/$DPID/status")
check_eq "real, effective, saved, fs uid are nobody's" "$uids" "$NOBODY $NOBODY $NOBODY $NOBODY"
ng=$(id -g nobody)
check_eq "real, effective, saved, fs gid are nobody's" "$gids" "$ng $ng $ng $ng"
case " $groups " in
*" 0 "*) ko "no root group among the supplementary groups" "$groups" ;;
*) ok "no root group among the supplementary groups ($groups)" ;;
esac
check_eq "socket mode is milter.socket_mode" "$(stat -c %a "$T/pub/gw.sock")" 620
check_eq "socket owner is milter.user" "$(stat -c %u "$T/pub/gw.sock")" "$NOBODY"

# 3. a key directory of another user, at reload
cp "$T/pub/gw.json" "$T/pub/good.json"
cp "$T/pub/root-only.json" "$T/pub/gw.json"
kill -HUP "$DPID"
for _ in $(seq 100); do grep -q 'keeping the running configuration' "$T/gw.log" && break; sleep 0.05; done
if grep -q 'keeping the running configuration' "$T/gw.log" &&
    grep -q 'root-only/k.pem' "$T/gw.log"; then
	ok "a key in a root-only directory is refused at reload, the running configuration kept"
else
	ko "a key in a root-only directory is refused at reload" "$(tail -4 "$T/gw.log")"
fi
cp "$T/pub/good.json" "$T/pub/gw.json"
kill -HUP "$DPID"
for _ in $(seq 100); do grep -q 'reload: configuration .* loaded' "$T/gw.log" && break; sleep 0.05; done
check "the same key readable by nobody reloads" grep -q 'reload: configuration .* loaded' "$T/gw.log"
if alive "$DPID"; then ok "daemon still running"; else ko "daemon died"; fi
t_done
