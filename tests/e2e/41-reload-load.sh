#!/bin/bash
# 41-reload-load - SIGHUP every 100 ms, alternating good and bad
# configurations, while Postfix's smtp-source pushes mail through the real
# Postfix: no message lost or wrongly judged, the old configuration kept on
# every bad file.  Both good configurations hold (quarantine: Postfix's
# hold queue) every message from held@gw.example and let the others
# through; a bad one (a value out of range) must be refused.  Half the
# messages come from ok@gw.example, half from held@gw.example, 20
# sessions each.  Checks: every ok message reaches the sink, every held
# one is in the hold queue, none is elsewhere (incoming, active,
# deferred), every bad reload is refused.  E2E_RELOAD_MSGS (default 2000)
# sets the total; `make soak` runs it with 20,000.
. "$(dirname "$0")/lib.sh"
e2e_init
N=${E2E_RELOAD_MSGS:-2000}
HALF=$((N / 2))
command -v smtp-source >/dev/null || e2e_die "no smtp-source (postfix)"

rule='{"policies": {"rules": {"enabled": true, "rules": [
    {"name": "hold_it", "stage": "mail", "if": {"sender": "held@gw.example"},
     "action": "quarantine"}]}}}'
e2e_gw_conf "$E2E_DIR/good-a.json" unix "$rule"
e2e_gw_conf "$E2E_DIR/good-b.json" unix "$rule"
e2e_gw_conf "$E2E_DIR/bad.json" unix "$rule"
/usr/bin/python3 - "$E2E_DIR" <<'PY' || e2e_die "cannot write the configurations"
import json, sys
d = sys.argv[1]
b = json.load(open(d + "/good-b.json"))
b["log"]["level"] = "info"			# differs, judges the same
json.dump(b, open(d + "/good-b.json", "w"), indent=2)
bad = json.load(open(d + "/bad.json"))
bad["limits"] = {"max_rcpts": 0}
json.dump(bad, open(d + "/bad.json", "w"), indent=2)
PY
cp "$E2E_DIR/good-a.json" "$E2E_DIR/gw.json"
e2e_gw_start "$E2E_DIR/gw.json"
e2e_sink_start
e2e_postfix_start "$E2E_PF_MILTER"

e2e_two_streams "$HALF" 20

goods=0; bads=0; i=0
while e2e_alive "$ok_pid" || e2e_alive "$held_pid"; do
	sleep 0.1
	case $((i % 4)) in
	0|2)	next=bad; bads=$((bads + 1)) ;;
	1)	next=good-b; goods=$((goods + 1)) ;;
	3)	next=good-a; goods=$((goods + 1)) ;;
	esac
	cp "$E2E_DIR/$next.json" "$E2E_DIR/gw.json.new"
	mv "$E2E_DIR/gw.json.new" "$E2E_DIR/gw.json"
	kill -HUP "$GW_PID"
	i=$((i + 1))
done
wait "$ok_pid"; ok_rc=$?
wait "$held_pid"; held_rc=$?
e2e_log "$N messages sent, $((goods + bads)) reloads ($bads bad)"
e2e_eq "smtp-source ok@: exit 0" 0 "$ok_rc"
e2e_eq "smtp-source held@: exit 0" 0 "$held_rc"
e2e_check "gatewarden still running" e2e_alive "$GW_PID"

# wait until only the hold queue is left
e2e_poll 120 eval '[ "$(find "$PF_SPOOL"/incoming "$PF_SPOOL"/active \
    "$PF_SPOOL"/maildrop -type f | wc -l)" -eq 0 ] &&
    [ "$(e2e_sink_count)" -ge "$HALF" ]' || true
sleep 1
e2e_eq "every ok@ message delivered, none more" "$HALF" "$(e2e_sink_count)"
e2e_eq "every held@ message in the hold queue" "$HALF" \
    "$(find "$PF_SPOOL"/hold -type f | wc -l)"
e2e_eq "nothing deferred" 0 "$(find "$PF_SPOOL"/deferred -type f | wc -l)"
e2e_eq "every bad reload refused ($bads)" "$bads" \
    "$(grep -c 'keeping the running configuration' "$GW_LOG")"
e2e_match "good reloads taken" 'reload: configuration .* loaded' "$(cat "$GW_LOG")"
e2e_finish
