#!/usr/bin/env bash
# Train the Rasa model only when config.yml, domain.yml, bot/ or the Rasa pins changed.
# The model is var/models/<fingerprint>.tar.gz; prints its path on the last line.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/app/bin/helpdesk nlu sync >/dev/null
fp=$(scripts/fingerprint.sh)
model=var/models/$fp.tar.gz
if [ -f "$model" ]; then
  echo "model up to date: $model" >&2
else
  echo "==> training the Rasa model (fingerprint $fp)" >&2
  mkdir -p var/models
  export PYTHONPATH="$PWD" TF_CPP_MIN_LOG_LEVEL=2 SQLALCHEMY_SILENCE_UBER_WARNING=1
  start=$(date +%s)
  .venv/rasa/bin/rasa train --config config.yml --domain domain.yml --data bot/data \
    --out var/models --fixed-model-name "$fp" >var/train.log 2>&1 || { tail -n 40 var/train.log >&2; exit 1; }
  echo "trained in $(( $(date +%s) - start ))s: $model" >&2
  # keep the three newest models
  ls -1t var/models/*.tar.gz | tail -n +4 | xargs -r rm -f
fi
echo "$model"
