"""What a user waits for: construction + jit + first call of piecewise schedules versus Optax.

For n = 10, 100, 1000, 5000 pieces, the time from calling the constructor to the first result of
``jax.jit(schedule)(count)`` (validation and conversion of the arguments, trace, lower, compile,
run; a scalar int32 count as an optimizer passes it), each schedule built afresh (no compilation
cache hit), and the size of the lowered StableHLO text. Medians over ``--repeats`` builds,
interleaved over sizes and schedules. Optax's cells above 100 pieces, and jaxdecay's
``join_schedules`` (its program holds every piece), are measured once, and not at all above
``--optax-max`` (``--join-max`` for ``join_schedules``) pieces: minutes each. jaxdecay's
schedules are measured side by side with ``optax.piecewise_constant_schedule``,
``optax.piecewise_interpolate_schedule`` and ``optax.join_schedules`` in the same process.

Run::

    python benchmarks/compile_time.py            # n = 10, 100, 1000, 5000; 5 repeats
    python benchmarks/compile_time.py --quick    # n = 10, 100, 1000; 3 repeats
    python benchmarks/compile_time.py --jaxdecay-only   # the flat-compile-time check only
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxdecay as jd


def _bounds(n: int) -> np.ndarray:
    return np.arange(1, n + 1, dtype=np.int64) * 7


def _scales(n: int) -> dict[int, float]:
    return {int(b): 0.999 for b in _bounds(n)}


_LIBS = (("jd", jd), ("optax", optax))


def _pieces(n: int, lib) -> list:
    # n pieces of the same kind for both libraries' join (Optax pieces: plain closures).
    return [lib.linear_schedule(1.0 - i / n, 0.5 - i / (2 * n), 7) for i in range(n)]


# Constructor name -> its arguments for n pieces. jaxdecay-only schedules first; the others are
# measured in both libraries with the same arguments.
_JD_ONLY: dict[str, Callable[[int], tuple]] = {
    "piecewise_constant": lambda n: (_bounds(n), np.linspace(1, 0, n + 1)),
    "piecewise_linear": lambda n: (_bounds(n), np.linspace(1, 0, n)),
    "multistep_decay": lambda n: (1.0, _bounds(n)[::-1], 0.999),
}
_BOTH: dict[str, Callable[[int], tuple]] = {
    "piecewise_constant_schedule": lambda n: (1.0, _scales(n)),
    "piecewise_interpolate_schedule": lambda n: ("linear", 1.0, _scales(n)),
    "join_schedules": lambda n: (_pieces(n, optax), list(_bounds(n - 1))),
}
# "jd.<name>" / "optax.<name>" -> (constructor, arguments for n pieces).
CASES: dict[str, tuple[Callable, Callable[[int], tuple]]] = {
    **{f"jd.{k}": (getattr(jd, k), a) for k, a in _JD_ONLY.items()},
    **{f"{p}.{k}": (getattr(lib, k), a) for k, a in _BOTH.items() for p, lib in _LIBS},
}
SCHEDULES: dict[str, Callable] = {k: make for k, (make, _) in CASES.items()}
ARGS: dict[Callable, Callable[[int], tuple]] = {make: args for make, args in CASES.values()}
# Which jaxdecay schedule each Optax one is compared with.
VERSUS = {
    "jd.piecewise_constant_schedule": "optax.piecewise_constant_schedule",
    "jd.piecewise_constant": "optax.piecewise_constant_schedule",
    "jd.multistep_decay": "optax.piecewise_constant_schedule",
    "jd.piecewise_interpolate_schedule": "optax.piecewise_interpolate_schedule",
    "jd.piecewise_linear": "optax.piecewise_interpolate_schedule",
    "jd.join_schedules": "optax.join_schedules",
}


def measure_once(make: Callable, n: int) -> float:
    """Seconds of construction + jit + first call of a fresh schedule (no compilation cache hit).

    The arguments (NumPy arrays, dicts, lists of pieces) are made before the clock starts."""
    args = ARGS[make](n)
    t0 = time.perf_counter()
    s = make(*args)
    jax.block_until_ready(jax.jit(s)(jnp.int32(3)))
    return time.perf_counter() - t0


def hlo_size(make: Callable, n: int) -> int:
    return len(jax.jit(make(*ARGS[make](n))).lower(jnp.int32(3)).as_text())


_PRINT = functools.partial(print, flush=True)


def median_times(
    names: Sequence[str],
    sizes: Sequence[int],
    reps: int,
    optax_max: int = 1000,
    join_max: int = 100,
    log: Callable[[str], None] = _PRINT,
) -> dict[tuple[str, int], float]:
    """Median seconds of :func:`measure_once` per ``(name, n)`` (names: keys of
    :data:`SCHEDULES`). Optax's schedules and ``jd.join_schedules`` are measured once above 100
    pieces and not at all above ``optax_max`` (``join_max`` for ``join_schedules``)."""
    times: dict[tuple[str, int], list[float]] = {(k, n): [] for k in names for n in sizes}

    # Repeats are interleaved over sizes and schedules, so that a change of machine load hits
    # every cell alike; Optax's slow cells (n > 100) are measured in the first repeat only.
    def once_only(name: str) -> bool:
        return not name.startswith("jd.") or name == "jd.join_schedules"

    for name, n in list(times):
        limit = join_max if name.endswith("join_schedules") else optax_max
        if once_only(name) and n > limit:
            del times[name, n]
    for rep in range(reps):
        for n in sizes:
            for name in names:
                if (name, n) not in times or (rep and once_only(name) and n > 100):
                    continue
                times[name, n].append(measure_once(SCHEDULES[name], n))
                log(f"  rep {rep} {name:40s} n={n:5d}: {times[name, n][-1] * 1e3:9.1f} ms")
    return {key: statistics.median(v) for key, v in times.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="n up to 1000, fewer repeats")
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument(
        "--jaxdecay-only",
        action="store_true",
        help="only jaxdecay's piecewise schedules (the flat-compile-time check)",
    )
    p.add_argument(
        "--optax-max",
        type=int,
        default=1000,
        help="largest n for Optax's piecewise schedules (default 1000)",
    )
    p.add_argument(
        "--join-max",
        type=int,
        default=100,
        help="largest n for join_schedules in both libraries (default 100; minutes above)",
    )
    args = p.parse_args()
    sizes = [10, 100, 1000] if args.quick else [10, 100, 1000, 5000]
    reps = args.repeats or (3 if args.quick else 5)
    jax.block_until_ready(jax.jit(lambda t: t + 1)(jnp.int32(0)))  # warm the backend

    names = [
        k
        for k in SCHEDULES
        if not args.jaxdecay_only or (k.startswith("jd.") and k != "jd.join_schedules")
    ]
    medians = median_times(names, sizes, reps, args.optax_max, args.join_max)
    results = {key: (t, hlo_size(SCHEDULES[key[0]], key[1])) for key, t in medians.items()}

    print(
        f"\nconstruction + jit + first call (scalar count), median of {reps} builds; "
        "HLO = lowered text size"
    )
    print(f"backend: {jax.default_backend()}, jax {jax.__version__}, optax {optax.__version__}\n")
    head = "| schedule | " + " | ".join(f"n={n}" for n in sizes) + " | largest n / n=10 |"
    print(head)
    print("|" + "---|" * (len(sizes) + 2))
    for name in names:
        cells = []
        for n in sizes:
            if (name, n) not in results:
                cells.append("-")
                continue
            t, h = results[name, n]
            cells.append(f"{t * 1e3:.0f} ms ({h / 1e3:.0f} kB)")
        last = max(n for n in sizes if (name, n) in results)
        growth = results[name, last][0] / results[name, sizes[0]][0]
        print(f"| `{name}` | " + " | ".join(cells) + f" | {growth:.2f}x (n={last}) |")
    print("\nSpeed-up of jaxdecay's compile time over Optax's (Optax time / jaxdecay time):\n")
    print("| jaxdecay | vs | " + " | ".join(f"n={n}" for n in sizes) + " |")
    print("|" + "---|" * (len(sizes) + 2))
    for ours, theirs in VERSUS.items():
        if ours not in names or theirs not in names:
            continue
        cells = [
            f"{results[theirs, n][0] / results[ours, n][0]:.1f}x"
            if (theirs, n) in results and (ours, n) in results
            else "-"
            for n in sizes
        ]
        print(f"| `{ours}` | `{theirs}` | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
