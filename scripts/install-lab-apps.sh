#!/usr/bin/env bash
# The lab's PyPI servers whose dependency pins clash with netatlas's own (lab/pipelines.py):
# each in a virtualenv of its own under .venv/apps, at a pinned release. Idempotent: an
# environment is made again only when its pin changed.
set -euo pipefail
cd "$(dirname "$0")/.."
APPS=.venv/apps

install() {  # name, requirement
  local dir="$APPS/$1" want="$2"
  if [ -f "$dir/.installed" ] && [ "$(cat "$dir/.installed")" = "$want" ]; then
    return 0
  fi
  rm -rf "$dir"
  python3 -m venv "$dir"
  "$dir/bin/pip" install --quiet --disable-pip-version-check "$want"
  echo "$want" > "$dir/.installed"
}

mkdir -p "$APPS"
# side by side: each is mostly download time
install spark "pyspark==4.3.0" & spark=$!
install airflow "apache-airflow==3.3.2" & airflow=$!
wait "$spark"
wait "$airflow"
