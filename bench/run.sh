#!/usr/bin/env bash
# Adds a run to bench/results.txt, the table the README quotes: trains the quick and standard
# presets, loads the bundled model, measures accuracy and single-image latency (minutes).
# Timings depend on the machine and on what else it is doing: the processor and the load
# average are recorded with them. The newest run goes on top; earlier runs stay below it.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
RESULTS=bench/results.txt
run=$(mktemp)
trap 'rm -f "$run"' EXIT
{
  echo "# python -m fmnist_core bench    ($(date -u '+%Y-%m-%d %H:%M UTC'))"
  echo "# $(lscpu | grep -m1 'Model name' | sed 's/  */ /g'), $(nproc) CPU(s); load before:$(uptime | sed 's/.*load average://')"
  TF_CPP_MIN_LOG_LEVEL=2 "$PY" -m fmnist_core bench "$@"
  echo "# load after:$(uptime | sed 's/.*load average://')"
} | tee "$run"
{ cat "$run"; if [ -f "$RESULTS" ]; then echo; cat "$RESULTS"; fi; } > "$RESULTS.new"
mv "$RESULTS.new" "$RESULTS"
