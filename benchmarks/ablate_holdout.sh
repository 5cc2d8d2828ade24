#!/usr/bin/env bash
# One fixed 80/20 split of bot/data/nlu (seed 42) for configs too slow for 5-fold CV on 2 cores (DIET):
# trains the NLU on 80 %, tests on 20 %, and, with --eval, also trains on all data and runs `helpdesk eval`.
# Usage: benchmarks/ablate_holdout.sh [--eval] config-name ...   Results in var/ablations/holdout/<name>/.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD" TF_CPP_MIN_LOG_LEVEL=2 SQLALCHEMY_SILENCE_UBER_WARNING=1
eval_too=0; [ "${1:-}" = "--eval" ] && { eval_too=1; shift; }
root=var/ablations/holdout
mkdir -p "$root"
if [ ! -f "$root/split/training_data.yml" ]; then
  .venv/rasa/bin/rasa data split nlu -u bot/data/nlu --training-fraction 0.8 --random-seed 42 \
    --out "$root/split" >"$root/split.log" 2>&1
fi
for name in "$@"; do
  cfg=benchmarks/configs/$name.yml out=$root/$name
  rm -rf "$out"; mkdir -p "$out"
  start=$(date +%s)
  .venv/rasa/bin/rasa train nlu --config "$cfg" --nlu "$root/split/training_data.yml" --out "$out" \
    --fixed-model-name split >"$out/train-split.log" 2>&1
  split_seconds=$(( $(date +%s) - start ))
  .venv/rasa/bin/rasa test nlu --model "$out/split.tar.gz" --nlu "$root/split/test_data.yml" \
    --out "$out/test" >"$out/test.log" 2>&1
  train_seconds=0
  if [ "$eval_too" = 1 ]; then
    start=$(date +%s)
    .venv/rasa/bin/rasa train --config "$cfg" --domain domain.yml --data bot/data --out "$out" \
      --fixed-model-name model >"$out/train.log" 2>&1
    train_seconds=$(( $(date +%s) - start ))
    .venv/app/bin/helpdesk eval --model "$out/model.tar.gz" --out "$out/eval.json" >"$out/eval.txt" 2>&1
  fi
  python3 - "$name" "$out" "$split_seconds" "$train_seconds" <<'PY'
import json, os, sys
name, out, split_s, train_s = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rep = json.load(open(f"{out}/test/intent_report.json"))
row = {"config": name, "holdout_accuracy": round(rep["accuracy"], 4),
       "holdout_macro_f1": round(rep["macro avg"]["f1-score"], 4), "train_80pct_seconds": split_s}
if os.path.exists(f"{out}/eval.json"):
    ev = json.load(open(f"{out}/eval.json"))
    row.update({"train_seconds": train_s, "eval_intent_macro_f1": ev["intents"]["macro_f1"],
                "eval_faq_top1": ev["faq"]["top1"], "eval_faq_top3": ev["faq"]["top3"],
                "eval_p95_ms": ev["latency_ms"]["p95"]})
json.dump(row, open(f"{out}/row.json", "w"))
print(json.dumps(row))
PY
done
