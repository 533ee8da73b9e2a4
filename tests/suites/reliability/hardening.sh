#!/bin/sh
# hardening - the build and the unit as Debian hardens them.
#   1. the binary: PIE, full RELRO (GNU_RELRO + BIND_NOW), the stack
#      protector (__stack_chk_fail) and _FORTIFY_SOURCE (checked *_chk
#      functions), as the Makefile's HARDEN flags ask;
#   2. conf/gatewarden.service: `systemd-analyze security --offline=true`
#      rates its exposure at most 2.0 ("OK"), with ProtectSystem=strict,
#      NoNewPrivileges and an empty capability bounding set.
# Ends "hardening: N passed, N failed".
cd "$(dirname "$0")/../../.." || exit 1
. tests/lib.sh
t_init hardening
t_require readelf nm systemd-analyze
t_built "$GW"

readelf -h "$GW" >"$T/h" 2>&1
readelf -d "$GW" >"$T/d" 2>&1
readelf -l "$GW" >"$T/l" 2>&1
nm -D "$GW" >"$T/nm" 2>&1
check "PIE (ELF type DYN)" grep -q 'Type:.*DYN' "$T/h"
check "RELRO segment" grep -q GNU_RELRO "$T/l"
check "BIND_NOW (full RELRO)" grep -qE 'BIND_NOW|FLAGS_1.*NOW' "$T/d"
check "stack protector (__stack_chk_fail)" grep -q '__stack_chk_fail' "$T/nm"
n=$(grep -c '_chk@' "$T/nm")
if [ "$n" -ge 5 ]; then
	ok "_FORTIFY_SOURCE: $n checked functions"
else
	ko "_FORTIFY_SOURCE: $n checked functions, want >= 5"
fi

sed 's|@SBINDIR@|/usr/local/sbin|g; s|@SYSCONFDIR@|/etc|g' \
    conf/gatewarden.service >"$T/gatewarden.service"
for k in ProtectSystem=strict NoNewPrivileges=yes 'CapabilityBoundingSet=$' \
    PrivateTmp=yes PrivateDevices=yes 'SystemCallFilter=@system-service'; do
	check "unit sets $k" grep -q "^$k" "$T/gatewarden.service"
done
(cd "$T" && systemd-analyze security --offline=true ./gatewarden.service) \
    >"$T/sec" 2>&1
score=$(sed -nE 's/.*Overall exposure level for gatewarden.service: ([0-9.]+).*/\1/p' "$T/sec")
echo "systemd-analyze security: ${score:-?}"
if [ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }'; then
	ok "systemd-analyze security exposure $score <= 2.0"
else
	ko "systemd-analyze security exposure ${score:-?}, want <= 2.0" "$(tail -3 "$T/sec")"
fi
t_done
