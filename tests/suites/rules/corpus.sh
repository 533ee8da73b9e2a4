#!/bin/sh
# corpus.sh - the labelled spam/ham corpus through the shipped
# configuration: `$GW test -c conf/gatewarden.json MESSAGE`.
#
# The corpus is tests/data/conformance/corpus (its README: source, licence).
# Checks (each can fail):
#  - every message gives one JSON decision (no crash, exit 0);
#  - the GTUBE messages are rejected with 550 5.7.1 by rule GTUBE;
#  - every ham message is accepted with no rule matched and no score
#    (no false positive from the shipped defaults);
#  - the near-miss not_gtube.eml is accepted.
# The other spam samples are not expected to be caught by the shipped,
# deliberately conservative rules; their figures are printed.
cd "$(dirname "$0")/../../.." || exit 1
. tests/lib.sh
t_init corpus
tmp=$T
CONF=conf/gatewarden.json
CORPUS=tests/data/conformance/corpus
t_data "$CORPUS/labels.tsv"
if [ ! -x "$GW" ]; then
	ko "no binary at $GW"
	t_done
fi

# One line per message: file, label, kind, verdict, code, symbol, score,
# matched rules.
: >"$tmp/table"
tab=$(printf '\t')
grep -v '^#' "$CORPUS/labels.tsv" | while IFS="$tab" read -r file label kind rest; do
	[ -n "$file" ] || continue
	"$GW" test -c "$CONF" --ip 203.0.113.5 --helo mail.sender.example \
	    --from sender@sender.example --rcpt user@dest.example \
	    "$CORPUS/$file" >"$tmp/out" 2>"$tmp/err"
	st=$?
	"$PY" - "$tmp/out" "$file" "$label" "$kind" "$st" >>"$tmp/table" <<'EOF'
import json, sys
out, f, label, kind, st = sys.argv[1:6]
try:
    d = json.load(open(out))
except ValueError:
    print("\t".join([f, label, kind, "NOJSON", "-", "-", "0", "-", st]))
    sys.exit(0)
r = d.get("results", {}).get("rules", {})
matched = ",".join(m["rule"] for m in r.get("matched", [])) or "-"
print("\t".join([f, label, kind, d["verdict"], d["reply"]["code"] + " " +
                 d["reply"]["xcode"], d.get("symbol") or "-",
                 str(r.get("total", 0)), matched, st]))
EOF
done

while IFS="$tab" read -r file label kind verdict code symbol total matched st; do
	if [ "$st" -ne 0 ] || [ "$verdict" = NOJSON ]; then
		ko "$file: exit $st, verdict $verdict"
		continue
	fi
	ok
	case "$kind" in
	gtube)
		if [ "$verdict" = reject ] && [ "$code" = "550 5.7.1" ] &&
		    [ "$symbol" = GTUBE ]; then
			ok
		else
			ko "$file: GTUBE not rejected ($verdict $code $symbol)"
		fi
		continue ;;
	esac
	if [ "$label" = ham ]; then
		if [ "$verdict" = accept ] && [ "$matched" = - ] &&
		    [ "$total" = 0 ]; then
			ok
		else
			ko "$file: ham not accepted cleanly ($verdict, rules $matched, score $total)"
		fi
	fi
done <"$tmp/table"

# the near miss must be in the table and accepted
if grep -q "^sa-t-data/ham/not_gtube.eml${tab}ham${tab}.*${tab}accept${tab}" "$tmp/table"; then
	ok
else
	ko "not_gtube.eml missing or not accepted"
fi

# figures
"$PY" - "$tmp/table" <<'EOF'
import sys, collections
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
by = collections.defaultdict(collections.Counter)
for f, label, kind, verdict, code, sym, total, matched, st in rows:
    k = "gtube" if kind == "gtube" else label
    by[k][verdict] += 1
print("corpus figures (shipped defaults, %d messages):" % len(rows))
for k in ("gtube", "spam", "ham"):
    c = by.get(k, {})
    n = sum(c.values())
    print("  %-5s %3d: %s" % (k, n, ", ".join("%s %d" % kv for kv in sorted(c.items()))))
ham = by.get("ham", {})
nham = sum(ham.values())
print("  false positives on ham: %d of %d" % (nham - ham.get("accept", 0), nham))
g = by.get("gtube", {})
print("  GTUBE rejected: %d of %d" % (g.get("reject", 0), sum(g.values())))
hits = collections.Counter()
for r in rows:
    for m in r[7].split(","):
        if m != "-":
            hits[m] += 1
if hits:
    print("  rules matched: " + ", ".join("%s %d" % kv for kv in sorted(hits.items())))
EOF

t_done
