#!/usr/bin/env bash
# One-time set-up of .venv (Python 3.11): torch pinned first, then wrl and its tests.
# Re-running is cheap: it does nothing when pyproject.toml has not changed since.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
stamp=.venv/.wrl-setup-$(sha1sum pyproject.toml dev/setup.sh | sha1sum | cut -c1-12)
[ -f "$stamp" ] && exit 0
command -v "$PY" >/dev/null || { echo "setup: $PY not found; install Python 3.11 or set PYTHON=" >&2; exit 1; }
[ -x .venv/bin/python ] || "$PY" -m venv .venv
pip() { .venv/bin/python -m pip -q --disable-pip-version-check "$@"; }
pip install --upgrade pip wheel
pip install torch==2.13.0                      # before anything that depends on torch
pip install --no-deps gym-csle-cyborg==0.10.1  # only for the Scenario 2 definition
pip install -e '.[test]'
rm -f .venv/.wrl-setup-*
touch "$stamp"
