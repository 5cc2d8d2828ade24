#!/usr/bin/env bash
# Fingerprint of everything a trained model depends on.
set -euo pipefail
cd "$(dirname "$0")/.."
{ find config.yml domain.yml bot requirements/rasa.txt knowledge_base/timeexpr.py -type f \( -name '*.yml' -o -name '*.yaml' -o -name '*.txt' -o -name '*.py' \) -not -path '*/__pycache__/*' | LC_ALL=C sort | xargs sha256sum; } | sha256sum | cut -c1-16
