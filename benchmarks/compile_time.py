"""Compile time and program size of piecewise schedules versus Optax, by number of pieces.

For n = 10, 100, 1000, 5000 pieces, each schedule is built afresh (no compilation cache hit),
then ``jax.jit(schedule)(count)`` is timed up to the first result (trace + lower + compile +
run, a scalar int32 count as an optimizer passes it), and the size of the lowered StableHLO text
is recorded. Medians over ``--repeats`` builds. jaxdecay's schedules are measured side by side
with ``optax.piecewise_constant_schedule`` and ``optax.join_schedules`` in the same process.

Run::

    python benchmarks/compile_time.py            # n = 10, 100, 1000, 5000; 5 repeats
    python benchmarks/compile_time.py --quick    # n = 10, 100, 1000; 1 repeat (Optax) / 3
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxdecay as jd


def _bounds(n: int) -> np.ndarray:
    return np.arange(1, n + 1, dtype=np.int64) * 7


def _scales(n: int) -> dict[int, float]:
    return {int(b): 0.999 for b in _bounds(n)}


def _pieces(n: int, lib) -> list:
    # n pieces of the same kind for both libraries' join (Optax pieces: plain closures).
    return [lib.linear_schedule(1.0 - i / n, 0.5 - i / (2 * n), 7) for i in range(n)]


SCHEDULES: dict[str, Callable[[int], Callable]] = {
    "jd.piecewise_constant": lambda n: jd.piecewise_constant(_bounds(n), np.linspace(1, 0, n + 1)),
    "jd.piecewise_linear": lambda n: jd.piecewise_linear(_bounds(n), np.linspace(1, 0, n)),
    "jd.multistep_decay": lambda n: jd.multistep_decay(1.0, _bounds(n)[::-1], 0.999),
    "jd.piecewise_constant_schedule": lambda n: jd.piecewise_constant_schedule(1.0, _scales(n)),
    "jd.piecewise_interpolate_schedule": lambda n: jd.piecewise_interpolate_schedule(
        "linear", 1.0, _scales(n)
    ),
    "optax.piecewise_constant_schedule": lambda n: optax.piecewise_constant_schedule(
        1.0, _scales(n)
    ),
    "optax.piecewise_interpolate_schedule": lambda n: optax.piecewise_interpolate_schedule(
        "linear", 1.0, _scales(n)
    ),
    "jd.join_schedules": lambda n: jd.join_schedules(_pieces(n, optax), list(_bounds(n - 1))),
    "optax.join_schedules": lambda n: optax.join_schedules(_pieces(n, optax), list(_bounds(n - 1))),
}
# Which jaxdecay schedule each Optax one is compared with.
VERSUS = {
    "jd.piecewise_constant_schedule": "optax.piecewise_constant_schedule",
    "jd.piecewise_constant": "optax.piecewise_constant_schedule",
    "jd.multistep_decay": "optax.piecewise_constant_schedule",
    "jd.piecewise_interpolate_schedule": "optax.piecewise_interpolate_schedule",
    "jd.piecewise_linear": "optax.piecewise_interpolate_schedule",
    "jd.join_schedules": "optax.join_schedules",
}


def measure(make: Callable[[int], Callable], n: int, repeats: int) -> tuple[float, int]:
    """Median seconds of jit + first call of a freshly built schedule, and its HLO size."""
    count = jnp.int32(3)
    times = []
    for _ in range(repeats):
        s = make(n)
        t0 = time.perf_counter()
        jax.block_until_ready(jax.jit(s)(count))
        times.append(time.perf_counter() - t0)
    hlo = len(jax.jit(make(n)).lower(count).as_text())
    return statistics.median(times), hlo


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="n up to 1000, fewer repeats")
    p.add_argument("--repeats", type=int, default=None)
    args = p.parse_args()
    sizes = [10, 100, 1000] if args.quick else [10, 100, 1000, 5000]
    reps = args.repeats or (3 if args.quick else 5)
    jax.block_until_ready(jax.jit(lambda t: t + 1)(jnp.int32(0)))  # warm the backend

    results: dict[tuple[str, int], tuple[float, int]] = {}
    for n in sizes:
        for name, make in SCHEDULES.items():
            r = reps if name.startswith("jd.") or n <= 100 else max(1, reps // 3)
            results[name, n] = measure(make, n, r)
            print(
                f"  measured {name:40s} n={n:5d}: {results[name, n][0] * 1e3:9.1f} ms", flush=True
            )

    print(f"\njit + first call (scalar count), median of {reps} builds; HLO = lowered text size")
    print(f"backend: {jax.default_backend()}, jax {jax.__version__}, optax {optax.__version__}\n")
    head = "| schedule | " + " | ".join(f"n={n}" for n in sizes) + " | n=max / n=10 |"
    print(head)
    print("|" + "---|" * (len(sizes) + 2))
    for name in SCHEDULES:
        cells = []
        for n in sizes:
            t, h = results[name, n]
            cells.append(f"{t * 1e3:.0f} ms ({h / 1e3:.0f} kB)")
        growth = results[name, sizes[-1]][0] / results[name, sizes[0]][0]
        print(f"| `{name}` | " + " | ".join(cells) + f" | {growth:.2f}x |")
    print("\nSpeed-up of jaxdecay's compile time over Optax's (Optax time / jaxdecay time):\n")
    print("| jaxdecay | vs | " + " | ".join(f"n={n}" for n in sizes) + " |")
    print("|" + "---|" * (len(sizes) + 2))
    for ours, theirs in VERSUS.items():
        cells = [f"{results[theirs, n][0] / results[ours, n][0]:.1f}x" for n in sizes]
        print(f"| `{ours}` | `{theirs}` | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
