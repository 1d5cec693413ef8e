#!/usr/bin/env bash
# Install everything the test suite needs and run all of it: lint, format check, types, import
# contracts, tests.
# Usage: bash scripts/test.sh [extra pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# System packages: the PostgreSQL 15 server binaries the tests start themselves (initdb, pg_ctl),
# and Debian's Chromium for the browser tests (never `playwright install`).
missing=()
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then missing+=(postgresql); fi
command -v chromium >/dev/null || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing system packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'

echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy collector/ dashboard/"
.venv/bin/mypy collector dashboard
echo "== import contracts (pyproject.toml [tool.importlinter])"
.venv/bin/lint-imports
echo "== pytest (${TEST_WORKERS:-2} workers)"
# pytest-xdist: TEST_WORKERS processes (each starts its own Postgres), a test file's tests on one
# worker so that its module fixtures are built once; 13 min instead of 20-34 on 2 cores.
# TEST_WORKERS=0 runs in this process.
.venv/bin/pytest -v --durations=30 -n "${TEST_WORKERS:-2}" --dist loadfile "$@"
