#!/bin/sh
# layering.sh - the shape of the tree (docs/ARCHITECTURE.md, "The tree"):
#  - no two objects of the daemon call each other (nm: the symbols one
#    leaves undefined that the other defines, both ways);
#  - filter/util/ includes nothing of the project above it;
#  - a policy's private header (*_int.h) is included only inside its own
#    folder (and by tests);
#  - policies include from filter/ only policy-facing headers: the
#    configuration build API and the services (dns, store, metrics, util);
#  - no .c file in filter/ or policies/ is over 950 lines.
# Ends "layering: N passed, N failed".
cd "$(dirname "$0")/../../.." || exit 1
. tests/lib.sh
t_init layering
t_require nm git

# the objects of the tracked sources (not stale ones of removed files)
objs=""
for c in $(git ls-files 'filter/*.c' 'policies/*.c'); do
	o=$BUILD/obj/${c%.c}.o
	if [ ! -f "$o" ]; then
		ko "no $o (make all)"
		t_done
	fi
	objs="$objs $o"
done
cat >"$T/pairs.py" <<'PY'
import collections, subprocess, sys
objs = sys.argv[1:]
defs, undef = {}, {}
for o in objs:
    out = subprocess.run(["nm", "-g", "--defined-only", o],
                         capture_output=True, text=True, check=True).stdout
    defs[o] = {l.split()[-1] for l in out.splitlines() if len(l.split()) >= 3}
    out = subprocess.run(["nm", "-u", o],
                         capture_output=True, text=True, check=True).stdout
    undef[o] = {l.split()[-1] for l in out.splitlines() if l.strip()}
n = 0
for a in objs:
    for b in objs:
        if a < b and undef[a] & defs[b] and undef[b] & defs[a]:
            n += 1
            print(f"{a} <-> {b}: {sorted(undef[a] & defs[b])[:3]} / "
                  f"{sorted(undef[b] & defs[a])[:3]}")
print(f"{n} pairs among {len(objs)} objects")
sys.exit(1 if n else 0)
PY
# the check can fail: two objects that call each other are found
printf 'int b(void);\nint a(void) { return b(); }\n' >"$T/a.c"
printf 'int a(void);\nint b(void) { return a(); }\n' >"$T/b.c"
cc -c -o "$T/a.o" "$T/a.c" && cc -c -o "$T/b.o" "$T/b.c" &&
    ! "$PY" "$T/pairs.py" "$T/a.o" "$T/b.o" >"$T/probe" 2>&1 &&
    grep -q '^1 pairs among 2' "$T/probe"
check "a pair that calls each other is found" test $? -eq 0
# shellcheck disable=SC2086
"$PY" "$T/pairs.py" $objs >"$T/pairs" 2>&1
if [ $? -eq 0 ] && grep -q '^0 pairs among' "$T/pairs"; then
	ok "no two objects call each other ($(tail -1 "$T/pairs"))"
else
	ko "objects that call each other" "$(cat "$T/pairs")"
fi

bad=$(git grep -n '#include "' -- 'filter/util/*' | grep -v '#include "filter/util/')
check_eq "filter/util/ includes only filter/util/" "$bad" ""

bad=$(git grep -n '#include "policies/[a-z0-9]*/[a-z0-9_]*_int.h"' -- filter policies |
    awk -F: '{ split($1, f, "/"); split($3, h, "/");
	if (f[1] != "policies" || f[2] != h[2]) print }')
check_eq "a policy's *_int.h only inside its folder" "$bad" ""

bad=$(git grep -n '#include "filter/' -- policies | grep -vE \
    '"filter/(conf/conf_api|dns/dns|store/store|store/gcra|metrics/metrics|util/[a-z]+)\.h"')
check_eq "policies include only policy-facing filter/ headers" "$bad" ""

big=$(git ls-files 'filter/*.c' 'policies/*.c' | xargs wc -l |
    awk '$2 != "total" && $1 > 950 { print $2 " (" $1 ")" }')
check_eq "no .c file over 950 lines in filter/ or policies/" "$big" ""
t_done
