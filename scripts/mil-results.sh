#!/usr/bin/env bash
# Runs `hop mil` on the five classic MIL benchmarks and prints a Markdown table row per
# dataset. Usage: scripts/mil-results.sh DATA_DIR [REPEATS] [extra hop mil flags...]
# DATA_DIR contains musk1/musk1.csv, musk2/musk2.csv, fox/fox.csv, tiger/tiger.csv and
# elephant/elephant.csv. Reports go to results/<dataset>.json.
set -euo pipefail

data_dir=${1:?usage: scripts/mil-results.sh DATA_DIR [REPEATS] [flags...]}
repeats=${2:-5}
shift $(( $# >= 2 ? 2 : 1 ))
hop=${HOP:-build/hop}
mkdir -p results

echo "| dataset | folds x repeats | AUC | accuracy | seconds |"
echo "| --- | --- | --- | --- | --- |"
for name in musk1 musk2 fox tiger elephant; do
    start=$(date +%s)
    "$hop" mil --data "$data_dir/$name/$name.csv" --folds 10 --repeats "$repeats" --quiet \
        --report "results/$name.json" "$@" > "results/$name.txt"
    seconds=$(( $(date +%s) - start ))
    python3 - "$name" "$repeats" "$seconds" "results/$name.json" <<'PY'
import json, sys
name, repeats, seconds, path = sys.argv[1:]
r = json.load(open(path))
print(f"| {name} | 10 x {repeats} | {r['auc_mean']:.3f} +- {r['auc_std']:.3f} "
      f"| {r['acc_mean']:.3f} +- {r['acc_std']:.3f} | {seconds} |")
PY
done
