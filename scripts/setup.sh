#!/usr/bin/env bash
# Set up everything netatlas needs on a fresh Debian machine: system packages for the
# lab and tests, a virtualenv in .venv, the package (editable) with its test extras.
# Idempotent: quick when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-system-deps.sh

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
if ! .venv/bin/python -c 'import netatlas, pytest' 2>/dev/null \
   || [ pyproject.toml -nt .venv/.installed ]; then
  .venv/bin/pip install --quiet --disable-pip-version-check -e '.[dev]'
  touch .venv/.installed
fi
# the lab's PyPI servers that need environments of their own (Spark, Airflow)
bash scripts/install-lab-apps.sh
