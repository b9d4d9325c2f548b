#!/usr/bin/env bash
# Shared by scripts/serve and scripts/test: a .venv with the gateway installed.
# Usage: scripts/setup.sh [test]   ("test" adds the test tools)
# GATEWAY_VENV puts the venv elsewhere (CI tries the first command in a clean one).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON=${PYTHON:-}
if [ -z "$PYTHON" ]; then
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      PYTHON=$candidate; break
    fi
  done
fi
[ -n "$PYTHON" ] || { echo "setup: Python 3.11 or newer is needed" >&2; exit 1; }

VENV=${GATEWAY_VENV:-.venv}
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
extras=${1:-}
spec="."; [ -n "$extras" ] && spec=".[$extras]"
stamp="$VENV/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)-${extras:-base}"
if [ ! -f "$stamp" ]; then
  echo "setup: installing into $VENV, once (log: $VENV/pip.log)" >&2
  if ! { "$VENV/bin/python" -m pip install --disable-pip-version-check --upgrade pip &&
         "$VENV/bin/python" -m pip install --disable-pip-version-check -e "$spec"; } >"$VENV/pip.log" 2>&1; then
    tail -40 "$VENV/pip.log" >&2
    echo "setup: pip failed; the full log is $VENV/pip.log" >&2
    exit 1
  fi
  touch "$stamp"
fi
