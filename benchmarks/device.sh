#!/usr/bin/env bash
# The benchmarks on an accelerator in one short run (under 5 minutes on one GPU), one table:
# the vmap sweep for N = 1, 8, 64 (seconds per update, ratio to N = 1 and to Optax), the
# piecewise lookup's throughput against Optax (10, 100, 1000 pieces) and compile times against
# Optax (and n = 5000 against n = 10), with the device JAX used in every row. A thin wrapper of
# benchmarks/device.py (its docstring says what each row measures and how the time limits were
# chosen); it exits non-zero when any part fails.
#
#   bash benchmarks/device.sh --expect-backend gpu   # on the GPU machine: fails unless JAX uses it
#   bash benchmarks/device.sh --tiny                 # a check of the script itself on a CPU
#
# It installs nothing and downloads nothing: it runs the Python of $PYTHON, else `python3` on the
# PATH (on the GPU machine, the one with JAX's CUDA build, optax and flax), on this checkout's
# jaxdecay (PYTHONPATH). With $OUT set, the rows and failures also go to $OUT/device.json.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
if [[ -z "${PYTHON:-}" ]]; then
  PYTHON="$(command -v python3 || command -v python || true)"
  [[ -n "$PYTHON" ]] || { echo "device.sh: no python3 or python on the PATH" >&2; exit 1; }
fi
JSON=()
if [[ -n "${OUT:-}" ]]; then
  mkdir -p "$OUT"
  JSON=(--json "$OUT/device.json")
fi
# device.py stops its parts within 280 s; `timeout` backs that in case the driver itself hangs.
GUARD=()
if command -v timeout >/dev/null; then GUARD=(timeout --kill-after=5 295); fi
# (${a[@]+"${a[@]}"}: an empty array under `set -u`, also in bash before 4.4.)
${GUARD[@]+"${GUARD[@]}"} "$PYTHON" benchmarks/device.py "$@" ${JSON[@]+"${JSON[@]}"}
