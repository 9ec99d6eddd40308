#!/usr/bin/env bash
# Runs the x509-limbo suite through honnin's path validator and compares the
# results with the suite's expectations and the reference (pyca/cryptography 46:
# 9,719 agree, 14 disagree, 47 skipped, every has-crl case skipped).
#
# usage: scripts/limbo.sh [path/to/limbo.json.gz]
# env:   CARGO_TARGET_DIR (default: target), LIMBO_OUT (default: $CARGO_TARGET_DIR/limbo-results.json)
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
suite="${1:-$root/../shared/suites/x509-limbo/limbo.json.gz}"
target="${CARGO_TARGET_DIR:-$root/target}"
out="${LIMBO_OUT:-$target/limbo-results.json}"

if [[ ! -f "$suite" ]]; then
    echo "limbo.sh: suite not found: $suite" >&2
    exit 2
fi

(cd "$root" && cargo build --release -q -p honnin-limbo)
bin="$target/release/honnin-limbo"

start=$(date +%s.%N)
case "$suite" in
    *.gz) zcat "$suite" | "$bin" > "$out" ;;
    *) "$bin" < "$suite" > "$out" ;;
esac
end=$(date +%s.%N)

python3 - "$suite" "$out" "$start" "$end" <<'PY'
import gzip, json, sys, collections

suite_path, out_path, start, end = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
opener = gzip.open if suite_path.endswith(".gz") else open
with opener(suite_path, "rt") as f:
    cases = {t["id"]: t for t in json.load(f)["testcases"]}
with open(out_path) as f:
    results = json.load(f)["results"]

REF_AGREE, REF_DISAGREE, REF_SKIP = 9719, 14, 47
agree = disagree = skip = 0
fam = collections.defaultdict(lambda: [0, 0, 0])
disagreements, skips = [], []
crl_run = crl_total = 0
seen = set()
for r in results:
    t = cases.get(r["id"])
    if t is None:
        print(f"unknown id in results: {r['id']}")
        continue
    seen.add(r["id"])
    f = r["id"].split("::")[0]
    if "has-crl" in t["features"]:
        crl_total += 1
        if r["actual_result"] != "SKIPPED":
            crl_run += 1
    if r["actual_result"] == "SKIPPED":
        skip += 1
        fam[f][2] += 1
        skips.append((r["id"], r.get("context")))
    elif r["actual_result"] == t["expected_result"]:
        agree += 1
        fam[f][0] += 1
    else:
        disagree += 1
        fam[f][1] += 1
        disagreements.append((r["id"], t["expected_result"], r["actual_result"], r.get("context")))
missing = [i for i in cases if i not in seen]

print(f"x509-limbo: {len(cases)} cases, run in {end - start:.1f} s")
print(f"{'family':<14}{'agree':>8}{'disagree':>10}{'skipped':>9}")
for f in sorted(fam):
    a, d, s = fam[f]
    print(f"{f:<14}{a:>8}{d:>10}{s:>9}")
print(f"{'total':<14}{agree:>8}{disagree:>10}{skip:>9}")
print(f"{'pyca 46':<14}{REF_AGREE:>8}{REF_DISAGREE:>10}{REF_SKIP:>9}")
print(f"has-crl cases run: {crl_run}/{crl_total}")
if disagreements:
    print("\ndisagreements:")
    for i, exp, act, ctx in disagreements:
        print(f"  {i}: expected {exp}, got {act} ({ctx})")
if skips:
    print("\nskipped:")
    for i, ctx in skips:
        print(f"  {i}: {ctx}")
if missing:
    print(f"\n{len(missing)} cases have no result, e.g. {missing[:3]}")

ok = (agree > REF_AGREE and disagree < REF_DISAGREE and skip < REF_SKIP
      and crl_run == crl_total and not missing)
print("\nRESULT:", "beats the reference" if ok else "does NOT beat the reference")
sys.exit(0 if ok else 1)
PY
