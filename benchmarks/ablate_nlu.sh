#!/usr/bin/env bash
# NLU ablations: 5-fold cross-validation of bot/data/nlu for each config in benchmarks/configs/,
# plus `helpdesk eval` on the shared dev sets with a model trained on all data.
# Usage: benchmarks/ablate_nlu.sh [config-name ...]   (default: all). Results in var/ablations/.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD" TF_CPP_MIN_LOG_LEVEL=2 SQLALCHEMY_SILENCE_UBER_WARNING=1
names=("$@"); [ ${#names[@]} -gt 0 ] || names=(both_lr words_lr chars_lr both_diet)
mkdir -p var/ablations
for name in "${names[@]}"; do
  cfg=benchmarks/configs/$name.yml out=var/ablations/$name
  rm -rf "$out"; mkdir -p "$out"
  start=$(date +%s)
  .venv/rasa/bin/rasa test nlu --nlu bot/data/nlu --config "$cfg" --cross-validation --folds 5 \
    --out "$out/cv" >"$out/cv.log" 2>&1
  cv_seconds=$(( $(date +%s) - start ))
  start=$(date +%s)
  .venv/rasa/bin/rasa train --config "$cfg" --domain domain.yml --data bot/data --out "$out" \
    --fixed-model-name model >"$out/train.log" 2>&1
  train_seconds=$(( $(date +%s) - start ))
  .venv/app/bin/helpdesk eval --model "$out/model.tar.gz" --out "$out/eval.json" >"$out/eval.txt" 2>&1
  python3 - "$name" "$out" "$cv_seconds" "$train_seconds" <<'PY'
import json, sys
name, out, cv_s, train_s = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
cv = json.load(open(f"{out}/cv/intent_report.json"))
ev = json.load(open(f"{out}/eval.json"))
row = {"config": name, "cv_accuracy": round(cv["accuracy"], 4), "cv_macro_f1": round(cv["macro avg"]["f1-score"], 4),
       "cv_seconds": cv_s, "train_seconds": train_s, "eval_intent_macro_f1": ev["intents"]["macro_f1"],
       "eval_faq_top1": ev["faq"]["top1"], "eval_faq_top3": ev["faq"]["top3"], "eval_oos": ev["oos"]["rejection_rate"],
       "eval_crisis_false_alarms": ev["crisis"]["false_alarm_rate"], "eval_p95_ms": ev["latency_ms"]["p95"]}
json.dump(row, open(f"{out}/row.json", "w"))
print(json.dumps(row))
PY
done
