#!/usr/bin/env bash
# The MNIST example on an accelerator, in one short run (under 8 minutes on one GPU):
#   1. the devices JAX sees;
#   2. the default example (python examples/flax_mnist/main.py, 10 epochs);
#   3. Fashion-MNIST CNN, 2 epochs (MNIST when Fashion-MNIST is not installed);
#   4. Fashion-MNIST MLP, 2 epochs, with and without the progress bar (epoch 2 seconds: the
#      cost of reporting progress per chunk of updates);
#   5. benchmarks/sweep.py for N = 8 and N = 64 configurations, loop vs vmap;
# then one table. Every run writes into $OUT (default: a fresh temporary folder).
#
#   bash benchmarks/device.sh          # on the GPU/TPU machine
#   bash benchmarks/device.sh --tiny   # a check of the script itself, tiny sizes (CPU: minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
OUT="${OUT:-$(mktemp -d)}"
mkdir -p "$OUT"
TINY=0
if [[ "${1:-}" == "--tiny" ]]; then TINY=1; fi

MAIN=(python examples/flax_mnist/main.py)
if ((TINY)); then
  SMALL=(--config.train_limit=1024 --config.test_limit=256 --config.hidden_sizes="(32,)")
  EPOCHS=(--config.num_epochs=2)
  CNN_EPOCHS=(--config.num_epochs=1)
  SWEEP=(--steps 10 --hidden 32 --repeats 1)
  NS=(8 16)
else
  SMALL=()
  EPOCHS=()
  CNN_EPOCHS=(--config.num_epochs=2)
  SWEEP=(--repeats 3)
  NS=(8 64)
fi

FASHION=fashion_mnist
if ! python -c "import sys; sys.path.insert(0, 'examples/flax_mnist'); import input_pipeline as p; p.load_dataset('fashion_mnist')" 2>/dev/null; then
  echo "note: Fashion-MNIST not found (apt-get install dataset-fashion-mnist); using MNIST"
  FASHION=mnist
fi

echo "== devices"
python -c "import jax; print(jax.default_backend(), jax.devices())"

run() {  # run NAME ARGS...: the example into $OUT/NAME, its wall-clock seconds into $OUT/NAME.s
  local name=$1
  shift
  echo "== $name: ${MAIN[*]} $*"
  local t0=$SECONDS
  "${MAIN[@]}" --workdir="$OUT/$name" --config.plots=false "$@"
  echo $((SECONDS - t0)) >"$OUT/$name.s"
}

run default "${SMALL[@]}" "${EPOCHS[@]}"
run cnn --config.dataset=$FASHION --config.model=cnn --config.schedule="cosine_decay(0.1, total_steps)" \
  "${SMALL[@]}" "${CNN_EPOCHS[@]}"
run mlp_bar --config.dataset=$FASHION --config.num_epochs=2 --config.progress=true \
  --config.chunk_steps=$((TINY ? 2 : 0)) "${SMALL[@]}"
run mlp_nobar --config.dataset=$FASHION --config.num_epochs=2 --config.progress=false "${SMALL[@]}"

for n in "${NS[@]}"; do
  echo "== sweep benchmark, N = $n"
  python benchmarks/sweep.py --n "$n" --ways loop,vmap --json "$OUT/sweep$n.json" "${SWEEP[@]}"
done

OUT="$OUT" NS="${NS[*]}" python - <<'EOF'
import json, os
from pathlib import Path

out = Path(os.environ["OUT"])
print(f"\n{'run':<34} {'wall s':>7} {'epoch s (last)':>15} {'test acc':>9}")
for name, what in [
    ("default", "default example (MLP, MNIST)"),
    ("cnn", "CNN (Fashion-MNIST)"),
    ("mlp_bar", "MLP (Fashion), progress per chunk"),
    ("mlp_nobar", "MLP (Fashion), no progress"),
]:
    m = json.loads((out / name / "metrics.json").read_text())[-1]
    wall = (out / f"{name}.s").read_text().strip()
    print(f"{what:<34} {wall:>7} {m['seconds']:>15.2f} {100 * m['test_accuracy']:>8.2f}%")
print(f"\n{'sweep benchmark':<34} {'loop s':>7} {'vmap s':>7} {'loop/vmap':>9}")
for n in os.environ["NS"].split():
    d = json.loads((out / f"sweep{n}.json").read_text())
    loop, vmap = d["median"]["loop"]["total_s"], d["median"]["vmap"]["total_s"]
    print(f"{'N = ' + n + ', ' + d['device']:<34} {loop:>7.2f} {vmap:>7.2f} {loop / vmap:>8.2f}x")
EOF
