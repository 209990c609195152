#!/usr/bin/env bash
# Reproduces bench/results.txt, the table the README quotes: trains the quick and standard
# presets, loads the bundled model, measures accuracy and single-image latency (minutes).
# Timings depend on what else the machine is doing: the load average is recorded with them.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
{
  echo "# python -m fmnist_core bench    ($(date -u '+%Y-%m-%d %H:%M UTC'))"
  echo "# $(lscpu | grep -m1 'Model name' | sed 's/  */ /g'), $(nproc) CPU(s); load before:$(uptime | sed 's/.*load average://')"
  TF_CPP_MIN_LOG_LEVEL=2 "$PY" -m fmnist_core bench "$@"
  echo "# load after:$(uptime | sed 's/.*load average://')"
} | tee bench/results.txt
