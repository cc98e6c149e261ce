"""Evaluation throughput: every registered schedule on 10 million counts, against the same
formula written as a raw ``jnp`` expression (the limit), and the piecewise lookups against
Optax's where-chain at n = 10, 100 and 1000 pieces, in both call styles: ``jax.jit(schedule)``
on the array of counts, and ``jax.jit(jax.vmap(schedule))`` (the schedule sees a scalar count,
as in a per-example or per-run sweep).

Each function is jitted once, then timed on an int32 array of ``--size`` counts (``t mod
20,000``, so every phase is visited); runs alternate between the contenders (fair under load),
and the median of ``--runs`` runs is reported in millions of counts per second.

Run::

    python benchmarks/eval_throughput.py            # 10M counts, 7 runs
    python benchmarks/eval_throughput.py --quick    # 1M counts, 3 runs
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxdecay as jd
from jaxdecay.compat import keras as keras_compat
from jaxdecay.compat import torch as torch_compat

PI = np.pi
B10 = [int(b) for b in np.arange(1, 11) * 1500]  # 10 boundaries over the 20,000 counts
V11 = [float(0.1 * 0.8**i) for i in range(11)]


def _chain(t, bounds, values):
    """The fastest hand-written piecewise constant: a where-chain on Python constants."""
    v = jnp.full(t.shape, values[0], jnp.float32)
    for b, x in zip(bounds, values[1:], strict=True):
        v = jnp.where(t >= b, jnp.float32(x), v)
    return v


def _interp_chain(t, xs, ys):
    tf = t.astype(jnp.float32)
    v = jnp.full(t.shape, ys[0], jnp.float32)
    for i in range(len(xs) - 1):
        f = jnp.clip((tf - xs[i]) / (xs[i + 1] - xs[i]), 0.0, 1.0)
        v = jnp.where(tf >= xs[i], ys[i] + (ys[i + 1] - ys[i]) * f, v)
    return v


def _cos(t, init=0.1, steps=1000.0, end=1e-4):
    c = jnp.minimum(t.astype(jnp.float32), steps)
    return end + (init - end) * 0.5 * (1 + jnp.cos(PI * c / steps))


def _lin(t, a, b, n, begin=0.0):
    return a + (b - a) * jnp.clip((t.astype(jnp.float32) - begin) / n, 0.0, 1.0)


def _f(t):
    return t.astype(jnp.float32)


COS = jd.cosine_decay(0.1, 1000, end_value=1e-4)
STEP = jd.step_decay(0.1, 3, 0.5)
INTERP_SCALES = {b: 0.8 for b in B10}
SGDR = [dict(init_value=0.0, peak_value=0.1, warmup_steps=100, decay_steps=1000, end_value=0.0)]


def _raw_interp(t):
    xs = [0.0] + [float(b) for b in B10]
    return _interp_chain(t, xs, V11)


def _raw_onecycle(t, cos):
    tf = _f(t)
    lo, hi, fin = 0.1 / 25, 0.1, 0.1 / 25 / 1e4
    up = jnp.clip(tf / 2999.0, 0, 1)
    dn = jnp.clip((tf - 2999.0) / (9999.0 - 2999.0), 0, 1)
    if cos:
        a = hi + (lo - hi) / 2 * (jnp.cos(PI * up) + 1)
        b = fin + (hi - fin) / 2 * (jnp.cos(PI * dn) + 1)
    else:
        a, b = lo + (hi - lo) * up, hi + (fin - hi) * dn
    return jnp.where(tf < 2999.0, a, b)


def _raw_restarts(t):
    tf = _f(t)
    i = jnp.floor(jnp.log2(1.0 + tf / 1000.0))
    start = 1000.0 * (2.0**i - 1.0)
    frac = (tf - start) / (1000.0 * 2.0**i)
    return 0.1 * 0.5 * (1 + jnp.cos(PI * frac))


def _raw_cyclic(t):
    tf = _f(t)
    cycle = jnp.floor(1 + tf / 4000.0)
    x = jnp.abs(tf / 2000.0 - 2 * cycle + 1)
    return 0.001 + (0.1 - 0.001) * jnp.maximum(0.0, 1 - x)


def _raw_wsd(t):
    tf = _f(t)
    warm = 0.1 * tf / 1000.0
    dec = 0.1 * (1 - jnp.clip((tf - 6000.0) / 4000.0, 0, 1))
    return jnp.where(tf < 1000.0, warm, jnp.where(tf < 6000.0, 0.1, dec))


# name -> (jaxdecay schedule, raw jnp formula). One entry (at least) per registered name.
CASES: dict[str, tuple[Callable, Callable]] = {
    "constant_schedule": (jd.constant_schedule(0.1), lambda t: jnp.full(t.shape, 0.1)),
    "linear_schedule": (
        jd.linear_schedule(1.0, 0.01, 1000, 100),
        lambda t: _lin(t, 1.0, 0.01, 1000.0, 100.0),
    ),
    "polynomial_schedule": (
        jd.polynomial_schedule(1.0, 0.01, 2.0, 1000, 100),
        lambda t: 0.99 * (1 - jnp.clip((_f(t) - 100) / 1000, 0, 1)) ** 2 + 0.01,
    ),
    "exponential_decay": (
        jd.exponential_decay(0.1, 1000, 0.9),
        lambda t: 0.1 * jnp.power(0.9, _f(t) / 1000.0),
    ),
    "cosine_decay_schedule": (
        jd.cosine_decay_schedule(0.1, 1000, alpha=0.01),
        lambda t: (
            0.1 * (0.99 * 0.5 * (1 + jnp.cos(PI * jnp.minimum(_f(t), 1000.0) / 1000.0)) + 0.01)
        ),
    ),
    "piecewise_constant_schedule": (
        jd.piecewise_constant_schedule(0.1, INTERP_SCALES),
        lambda t: _chain(t, B10, V11),
    ),
    "piecewise_interpolate_schedule": (
        jd.piecewise_interpolate_schedule("linear", 0.1, INTERP_SCALES),
        _raw_interp,
    ),
    "linear_onecycle_schedule": (
        jd.one_cycle(0.1, 10000, anneal_strategy="linear"),
        lambda t: _raw_onecycle(t, cos=False),
    ),
    "cosine_onecycle_schedule": (
        jd.cosine_onecycle_schedule(10000, 0.1),
        lambda t: jnp.where(
            _f(t) < 3000,
            0.1 + (0.004 - 0.1) / 2 * (jnp.cos(PI * _f(t) / 3000) + 1),
            4e-7 + (0.1 - 4e-7) / 2 * (jnp.cos(PI * jnp.clip((_f(t) - 3000) / 7000, 0, 1)) + 1),
        ),
    ),
    "warmup_constant_schedule": (
        jd.warmup_constant_schedule(0.0, 0.1, 1000),
        lambda t: _lin(t, 0.0, 0.1, 1000.0),
    ),
    "warmup_cosine_decay_schedule": (
        jd.warmup_cosine_decay_schedule(0.0, 0.1, 1000, 11000, 1e-4),
        lambda t: jnp.where(
            _f(t) < 1000, 0.1 * _f(t) / 1000, _cos(jnp.maximum(t - 1000, 0), 0.1, 10000.0, 1e-4)
        ),
    ),
    "warmup_exponential_decay_schedule": (
        jd.warmup_exponential_decay_schedule(0.0, 0.1, 1000, 1000, 0.9),
        lambda t: jnp.where(
            _f(t) < 1000, 0.1 * _f(t) / 1000, 0.1 * jnp.power(0.9, (_f(t) - 1000) / 1000)
        ),
    ),
    "sgdr_schedule": (
        jd.sgdr_schedule(SGDR * 3),
        lambda t: (
            jnp.where(
                _f(t) % 1000 < 100,
                0.1 * (_f(t) % 1000) / 100,
                0.1 * 0.5 * (1 + jnp.cos(PI * jnp.clip((_f(t) % 1000 - 100) / 900, 0, 1))),
            )
            * (_f(t) < 3000)
            + (_f(t) >= 3000) * _cos(t - 2000, 0.1, 900.0, 0.0)
        ),
    ),
    "join_schedules": (
        jd.join_schedules([jd.linear_schedule(0.0, 0.1, 1000), COS], [1000]),
        lambda t: jnp.where(t < 1000, _lin(t, 0.0, 0.1, 1000.0), _cos(t - 1000)),
    ),
    "polynomial_decay": (
        jd.polynomial_decay(0.1, 1000, 2.0, 1e-4),
        lambda t: (0.1 - 1e-4) * (1 - jnp.minimum(_f(t), 1000) / 1000) ** 2 + 1e-4,
    ),
    "natural_exp_decay": (
        jd.natural_exp_decay(0.1, 0.5, 1000),
        lambda t: 0.1 * jnp.exp(-0.5 * _f(t) / 1000),
    ),
    "inverse_time_decay": (
        jd.inverse_time_decay(0.1, 0.5, 1000),
        lambda t: 0.1 / (1 + 0.5 * _f(t) / 1000),
    ),
    "inverse_sqrt_decay": (
        jd.inverse_sqrt_decay(0.1, 1000),
        lambda t: jnp.where(_f(t) < 1000, 0.1 * _f(t) / 1000, 0.1 / jnp.sqrt(_f(t) / 1000)),
    ),
    "step_decay": (
        jd.step_decay(0.1, 1000, 0.5),
        lambda t: 0.1 * jnp.power(0.5, (t // 1000).astype(jnp.float32)),
    ),
    "multistep_decay": (jd.multistep_decay(0.1, B10, 0.8), lambda t: _chain(t, B10, V11)),
    "piecewise_constant": (jd.piecewise_constant(B10, V11), lambda t: _chain(t, B10, V11)),
    "piecewise_linear": (
        jd.piecewise_linear([0, *B10], V11),
        lambda t: _interp_chain(t, [0.0, *map(float, B10)], V11),
    ),
    "cosine_decay": (COS, _cos),
    "cosine_restarts": (jd.cosine_restarts(0.1, 1000, 2.0, 1.0, 0.0), _raw_restarts),
    "one_cycle": (jd.one_cycle(0.1, 10000), lambda t: _raw_onecycle(t, cos=True)),
    "cyclic": (jd.cyclic(0.001, 0.1, 2000), _raw_cyclic),
    "warmup_stable_decay": (jd.warmup_stable_decay(0.1, 1000, 5000, 4000), _raw_wsd),
    "warmup": (
        jd.warmup(COS, 1000),
        lambda t: jnp.where(t < 1000, 0.1 * _f(t) / 1000, _cos(jnp.maximum(t - 1000, 0))),
    ),
    "scale": (jd.scale(COS, 2.0), lambda t: 2.0 * _cos(t)),
    "multiply": (
        jd.multiply(COS, jd.step_decay(1.0, 1000, 0.5)),
        lambda t: _cos(t) * jnp.power(0.5, (t // 1000).astype(jnp.float32)),
    ),
    "add": (jd.add(COS, jd.constant_schedule(0.01)), lambda t: _cos(t) + 0.01),
    "clip": (jd.clip(COS, 0.01, 0.05), lambda t: jnp.clip(_cos(t), 0.01, 0.05)),
    "shift": (jd.shift(COS, 500), lambda t: _cos(jnp.maximum(t - 500, 0))),
    "repeat": (jd.repeat(COS, 1000), lambda t: _cos(t % 1000)),
    "per_epoch": (
        jd.per_epoch(STEP, 1000),
        lambda t: 0.1 * jnp.power(0.5, (t // 1000 // 3).astype(jnp.float32)),
    ),
    "stretch": (jd.stretch(COS, 3.0), lambda t: _cos(_f(t) / 3.0)),
    # COS (horizon 1000) replanned at count 300 to end at 4000: the rest stretched onto [300, 4000].
    "replan": (
        jd.replan(COS, 300, 4000),
        lambda t: jnp.where(
            t <= 300,
            _cos(t),
            _cos(1000.0 - 700.0 * jnp.clip((4000.0 - _f(t)) / 3700.0, 0.0, 1.0)),
        ),
    ),
    # Migration constructors with formulas of their own (jaxdecay.compat).
    "torch.LinearLR": (
        torch_compat.LinearLR(0.1, 0.25, 1.0, 5000),
        lambda t: 0.1 * (0.25 + 0.75 * jnp.minimum(_f(t), 5000.0) / 5000.0),
    ),
    "torch.ConstantLR": (
        torch_compat.ConstantLR(0.1, 0.5, 5000),
        lambda t: jnp.where(t < 5000, 0.05, 0.1),
    ),
    "torch.PolynomialLR": (
        torch_compat.PolynomialLR(0.1, 5000, 2.0),
        lambda t: 0.1 * (1.0 - jnp.minimum(_f(t), 5000.0) / 5000.0) ** 2,
    ),
    "torch.CosineAnnealingWarmRestarts": (
        torch_compat.CosineAnnealingWarmRestarts(0.1, 1000, 2, 0.0),
        _raw_restarts,
    ),
    "keras.PiecewiseConstantDecay": (
        keras_compat.PiecewiseConstantDecay(B10, V11),
        lambda t: _chain(t, [b + 1 for b in B10], V11),  # Keras switches one count later
    ),
}


def _bench(
    fns: dict[str, Callable], t: jax.Array, runs: int, outputs: dict | None = None
) -> dict[str, float]:
    """Median M counts/s of each (jitted) function, runs interleaved; the first (warm-up)
    call's results go into ``outputs`` when it is given."""
    jitted = {k: jax.jit(f) for k, f in fns.items()}
    for k, f in jitted.items():
        out = jax.block_until_ready(f(t))
        if outputs is not None:
            outputs[k] = out
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(runs):
        for k, f in jitted.items():
            t0 = time.perf_counter()
            jax.block_until_ready(f(t))
            times[k].append(time.perf_counter() - t0)
    return {k: t.size / statistics.median(v) / 1e6 for k, v in times.items()}


# The piecewise-constant lookups compared with Optax's where-chain: key -> (name, constructor of
# (boundaries, boundaries_and_scales, values)). All give the same values.
PIECEWISE: dict[str, tuple[str, Callable]] = {
    "pcs": (
        "jd.piecewise_constant_schedule",
        lambda b, bas, v: jd.piecewise_constant_schedule(0.1, bas),
    ),
    "pc": ("jd.piecewise_constant", lambda b, bas, v: jd.piecewise_constant(b, v)),
    "ms": ("jd.multistep_decay", lambda b, bas, v: jd.multistep_decay(0.1, b, 0.97)),
}


def piecewise_rates(
    t: jax.Array,
    runs: int,
    pieces: Sequence[int] = (10, 100, 1000),
    kinds: Sequence[str] = tuple(PIECEWISE),
) -> dict[tuple[int, str], dict[str, float]]:
    """M counts/s of ``optax.piecewise_constant_schedule`` and of the jaxdecay lookups ``kinds``
    (keys of :data:`PIECEWISE`) for each number of pieces and call style (``"array"``:
    ``jax.jit(s)(t)``, ``"vmap"``: ``jax.jit(jax.vmap(s))(t)``), keyed ``(n, style)``.

    Raises ``AssertionError`` when a jaxdecay lookup's values (its first jitted call's) differ
    from Optax's array call's.
    """
    out: dict[tuple[int, str], dict[str, float]] = {}
    for n in pieces:
        bounds = [int(b) for b in np.linspace(100, 19_000, n).astype(int)]
        bas = {b: 0.97 for b in bounds}
        vals = [0.1 * 0.97**i for i in range(n + 1)]
        fns = {"optax": optax.piecewise_constant_schedule(0.1, bas)}
        fns.update({k: PIECEWISE[k][1](bounds, bas, vals) for k in kinds})
        calls = {f"{k}/array": f for k, f in fns.items()}
        calls.update({f"{k}/vmap": jax.vmap(f) for k, f in fns.items()})
        values: dict[str, jax.Array] = {}
        r = _bench(calls, t, runs, values)
        for k, v in values.items():
            np.testing.assert_allclose(
                # (float32 products of 0.97 against float64 powers: 1000 pieces drift 3e-5)
                v[:50_000],
                values["optax/array"][:50_000],
                rtol=1e-4,
                err_msg=f"{k}, {n} pieces",
            )
        for style in ("array", "vmap"):
            out[n, style] = {k: r[f"{k}/{style}"] for k in fns}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="1M counts, 3 runs")
    p.add_argument("--size", type=int, default=None)
    p.add_argument("--runs", type=int, default=None)
    p.add_argument("--only", default=None, help="comma-separated schedule names")
    args = p.parse_args()
    size = args.size or (1_000_000 if args.quick else 10_000_000)
    runs = args.runs or (3 if args.quick else 7)
    t = jnp.arange(size, dtype=jnp.int32) % 20_000
    missing = sorted(set(jd.registry()) - set(CASES))
    if missing:
        raise SystemExit(f"no benchmark entry for {missing}")
    names = args.only.split(",") if args.only else list(CASES)

    print(f"{size / 1e6:g}M int32 counts, median of {runs} runs, backend {jax.default_backend()}")
    print("\n| schedule | jaxdecay (M/s) | raw jnp (M/s) | ratio |")
    print("|---|---|---|---|")
    for name in names:
        ours, raw = CASES[name]
        np.testing.assert_allclose(
            ours(t[:50_000]), raw(t[:50_000]), rtol=2e-4, atol=1e-6, err_msg=name
        )
        r = _bench({"ours": ours, "raw": raw}, t, runs)
        print(
            f"| `{name}` | {r['ours']:.0f} | {r['raw']:.0f} | {r['ours'] / r['raw']:.2f} |",
            flush=True,
        )

    print("\nPiecewise constant lookups versus Optax's where-chain (`piecewise_constant_schedule`)")
    print("(array: `jax.jit(s)(counts)`; vmap: `jax.jit(jax.vmap(s))(counts)`)")
    print(
        "\n| n pieces | call | Optax chain (M/s) | jd.piecewise_constant_schedule | "
        "jd.piecewise_constant | jd.multistep_decay | worst jd / Optax |"
    )
    print("|---|---|---|---|---|---|---|")
    for (n, style), r in piecewise_rates(t, runs).items():
        base = r["optax"]
        ours = {k: v for k, v in r.items() if k != "optax"}
        cells = " | ".join(f"{v:.0f} ({v / base:.2f}x)" for v in ours.values())
        print(
            f"| {n} | {style} | {base:.3g} | {cells} | {min(ours.values()) / base:.2f}x |",
            flush=True,
        )


if __name__ == "__main__":
    main()
