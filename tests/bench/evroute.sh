#!/bin/sh
# evroute: events/s on the synthetic CityLots corpus, for every rule set of
# ../shared/bench/citylots-rules.json, beside what quamina and event-ruler
# did on the same file here (../shared/bench/citylots-synth-counts.json,
# README-citylots.md); then events/s as the number of rules grows.
#
# Each figure is the median of three runs of a whole process reading the
# file on stdin: `match --count` (counts only) and `match` writing the
# matched events to /dev/null. The per-rule counts are checked against the
# counts event-ruler gave on the same file.
. tests/bench/lib.sh
shared=${EVKIT_SHARED:-../shared}
bench=$shared/bench
if [ ! -f "$bench/citylots-rules.json" ]; then
	echo "evroute: skipped: $bench is not here"
	exit 0
fi
command -v evroute >/dev/null || { echo "evroute is not built: run make"; exit 1; }
command -v python3 >/dev/null || { echo "evroute: skipped: python3 is needed to make the corpus"; exit 0; }

cache=${XDG_CACHE_HOME:-$HOME/.cache}/evkit
mkdir -p "$cache"
for fmt in 2 1; do
	f="$cache/citylots$fmt-synth.jsonl"
	if [ ! -s "$f" ]; then
		echo "making $f (once; about 10 s)"
		python3 "$bench/gen_citylots_synth.py" --format $fmt "$f.tmp" && mv "$f.tmp" "$f"
	fi
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# One rules file per set, plus the expected counts and anchors, as lines:
# GROUP SET DATAFILE RULESFILE EXPECTED QUAMINA EVENTRULER
python3 - "$bench" "$tmp" "$cache" >"$tmp/sets" <<'EOF'
import json, sys
bench, tmp, cache = sys.argv[1:4]
rules = json.load(open(bench + "/citylots-rules.json"))
try:
    counts = json.load(open(bench + "/citylots-synth-counts.json"))
except OSError:
    counts = {}
anchors = counts.get("_anchor_eps", {})
for group, sets in rules.items():
    if group.startswith("_"):
        continue
    for name, s in sets.items():
        path = "%s/%s-%s.json" % (tmp, group, name)
        json.dump(s["rules"], open(path, "w"))
        fmt = "1" if group == "quamina-citylots1" else "2"
        # quamina agrees with event-ruler on the sets both have; its
        # SHELLSTYLE is event-ruler's WILDCARD
        cname = "WILDCARD" if name == "SHELLSTYLE" else name
        want = counts.get(cname) if group != "quamina-citylots1" else None
        a = anchors.get(name, {})
        print(group, name, "%s/citylots%s-synth.jsonl" % (cache, fmt), path,
              json.dumps(dict((str(i), c) for i, c in enumerate(want)), separators=(",", ":")) if want else "-",
              a.get("quamina", "-"), a.get("event-ruler", "-"))
EOF

# median3 CMD...: wall nanoseconds of the middle of three runs
median3() {
	for i in 1 2 3; do
		t0=$(now_ns)
		"$@" >/dev/null 2>&1
		t1=$(now_ns)
		echo $((t1 - t0))
	done | sort -n | sed -n 2p
}
run_count() { evroute match --count "$1" <"$2"; }
run_match() { evroute match "$1" <"$2"; }

lines2=$(wc -l <"$cache/citylots2-synth.jsonl")
lines1=$(wc -l <"$cache/citylots1-synth.jsonl")
cat "$cache/citylots2-synth.jsonl" "$cache/citylots1-synth.jsonl" >/dev/null   # warm the page cache
echo "synthetic CityLots: $lines2 events ($(($(wc -c <"$cache/citylots2-synth.jsonl") / lines2)) bytes each)"
echo "events/s, stdin to stdout, median of 3 runs; quamina and event-ruler measured here on the same file"
printf '  %-26s %-18s %10s %10s %10s %10s  %s\n' set group "--count" "match" quamina event-ruler counts
while read -r group name data rules want qa ea; do
	if [ "$data" = "$cache/citylots1-synth.jsonl" ]; then n=$lines1; else n=$lines2; fi
	ns=$(median3 run_count "$rules" "$data")
	ns2=$(median3 run_match "$rules" "$data")
	check=-
	if [ "$want" != - ]; then
		got=$(evroute match --count "$rules" <"$data")
		if [ "$got" = "$want" ]; then check=same; else check="DIFFER: $got, event-ruler $want"; fi
	fi
	printf '  %-26s %-18s %10s %10s %10s %10s  %s\n' "$name" "$group" "$(rate "$n" "$ns")" \
		"$(rate "$n" "$ns2")" "$qa" "$ea" "$check"
done <"$tmp/sets"

# Growth: N rules at once. A quarter each: exact lot numbers (MAPBLKLOT),
# exact block-lot pairs (two fields), case-insensitive street names and
# exact street number plus type; values drawn from the corpus, so some
# rules match and most do not, as with real routing tables.
echo "events/s as rules grow (match --count, same file; mixed exact / two-field / equals-ignore-case rules):"
python3 - "$cache/citylots2-synth.jsonl" "$tmp" <<'EOF'
import json, sys, random
data, tmp = sys.argv[1:3]
lots, streets, froms = [], set(), set()
with open(data) as f:
    for i, line in enumerate(f):
        if i % 7:
            continue
        p = json.loads(line).get("properties", {})
        if not all(k in p for k in ("MAPBLKLOT", "BLOCK_NUM", "LOT_NUM", "STREET", "FROM_ST", "ST_TYPE")):
            continue
        lots.append((p["MAPBLKLOT"], p["BLOCK_NUM"], p["LOT_NUM"]))
        streets.add(p["STREET"])
        froms.add((p["FROM_ST"], p["ST_TYPE"]))
        if len(lots) > 30000:
            break
rnd = random.Random(7)
streets, froms = sorted(streets), sorted(froms)
for n in (1, 100, 1000, 10000):
    rules = []
    for i in range(n):
        k = i % 4
        lot = lots[rnd.randrange(len(lots))]
        if k == 0:
            rules.append({"properties": {"MAPBLKLOT": [lot[0]]}})
        elif k == 1:
            rules.append({"properties": {"BLOCK_NUM": [lot[1]], "LOT_NUM": [lot[2]]}})
        elif k == 2:
            s = rnd.choice(streets)
            rules.append({"properties": {"STREET": [{"equals-ignore-case": s.lower() + ("" if i < 4 * len(streets) else " %d" % i)}]}})
        else:
            fr, ty = rnd.choice(froms)
            rules.append({"properties": {"FROM_ST": [fr + ("" if i < 400 else "x%d" % i)], "ST_TYPE": [ty]}})
    json.dump(rules, open("%s/grow-%d.json" % (tmp, n), "w"))
    # a second table: prefixes and wildcards on the lot number
    rules = []
    for i in range(n):
        lot = lots[rnd.randrange(len(lots))][0]
        if i % 2:
            rules.append({"properties": {"MAPBLKLOT": [{"prefix": lot[:5]}]}})
        else:
            rules.append({"properties": {"MAPBLKLOT": [{"wildcard": lot[:3] + "*" + lot[-2:]}]}})
    json.dump(rules, open("%s/growp-%d.json" % (tmp, n), "w"))
EOF
for table in grow growp; do
	[ $table = growp ] && echo "events/s as rules grow, prefix and wildcard rules (half each) on one field:"
	base=
	for n in 1 100 1000 10000; do
		[ -s "$tmp/$table-$n.json" ] || { echo "  (no rules file for $n rules)"; continue; }
		ns=$(median3 run_count "$tmp/$table-$n.json" "$cache/citylots2-synth.jsonl")
		[ -z "$base" ] && base=$ns
		printf '  %6d rules %12s events/s   %s x the time of 1 rule\n' "$n" "$(rate "$lines2" "$ns")" \
			"$(echo "$ns $base" | awk '{ printf "%.2f", $1 / $2 }')"
	done
done
