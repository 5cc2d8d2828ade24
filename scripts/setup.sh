#!/usr/bin/env bash
# Create the two Python 3.10 environments from the pinned requirement files (idempotent).
#   .venv/app   the help desk, actions and tests (FastAPI, SQLAlchemy 2, rasa-sdk, spaCy, jieba, PTB)
#   .venv/rasa  Rasa 3.6 (Python < 3.11, old pins), used for train / validate / test / run only
# Usage: scripts/setup.sh [app|rasa|browser]...   (default: app rasa)
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

find_python310() {
  local candidates=("${PYTHON310:-}" python3.10 /usr/bin/python3.10 /usr/local/bin/python3.10)
  local d
  for d in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.10*/bin/python3.10; do candidates+=("$d"); done
  local c
  for c in "${candidates[@]}"; do
    [ -n "$c" ] || continue
    if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys, venv; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
      command -v "$c"; return 0
    fi
  done
  return 1
}

make_env() {  # name requirements-file [extra pip args...]
  local name=$1 req=$2; shift 2
  local dir=.venv/$name stamp=.venv/$name/.requirements.sha256
  local want
  want=$(sha256sum < "$req" | cut -d" " -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$dir/bin/python" ]; then
    return 0
  fi
  local py
  if ! py=$(find_python310); then
    cat >&2 <<'MSG'
Python 3.10 is required (Rasa 3.6 does not run on Python 3.11 or newer) and was not found.
Install it, then run this again:
  - Debian/Ubuntu: sudo apt-get install python3.10 python3.10-venv   (or use the deadsnakes PPA on Ubuntu)
  - pyenv:         pyenv install 3.10.13
  - or point to an interpreter:  PYTHON310=/path/to/python3.10 make run
MSG
    exit 1
  fi
  echo "==> creating .venv/$name with $py (first time: a few minutes)"
  rm -rf "$dir"
  "$py" -m venv "$dir"
  "$dir/bin/pip" install -q --upgrade pip wheel
  "$dir/bin/pip" install -q -r "$req" "$@"
  echo "$want" > "$stamp"
}

install_browser() {
  # Debian's chromium and the CJK fonts for the browser tests (Playwright's own download is not used).
  if command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then
    return 0
  fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing chromium and fonts-noto-cjk (Debian packages)"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
  else
    echo "warning: chromium and fonts-noto-cjk are missing; install them (apt-get install chromium fonts-noto-cjk) for the browser tests" >&2
  fi
}

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(app rasa)
for t in "${targets[@]}"; do
  case "$t" in
    app) make_env app requirements/app.txt
         # the project itself (entry points, packages): again whenever pyproject.toml changes
         pkg=$(sha256sum < pyproject.toml | cut -d" " -f1)
         if [ ! -x .venv/app/bin/helpdesk ] || [ "$(cat .venv/app/.project.sha256 2>/dev/null)" != "$pkg" ]; then
           .venv/app/bin/pip install -q --no-deps -e . && echo "$pkg" > .venv/app/.project.sha256
         fi ;;
    rasa) make_env rasa requirements/rasa.txt ;;
    browser) install_browser ;;
    *) echo "unknown target $t" >&2; exit 2 ;;
  esac
done
