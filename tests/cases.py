"""The registry of every schedule and combinator for the contract tests.

Each :class:`Case` names a constructor, a valid set of keyword arguments, and a float64 NumPy
oracle written from the formula (independently of the implementation). `test_contract.py` runs
every check of docs/guides/contract.md over every case; a new schedule joins `CASES` and
inherits them all.

Oracles take ``(t, **kwargs)`` with ``t`` a float64 array of (non-negative) counts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

import jaxdecay as jd
from jaxdecay.compat import keras as compat_keras
from jaxdecay.compat import torch as compat_torch


@dataclasses.dataclass(frozen=True)
class Variant:
    """Another valid argument set of a case (merged over its kwargs), with its breakpoints.

    ``breaks`` are the counts where the schedule changes phase (restarts, boundaries, cycle and
    phase ends); the contract test evaluates each and its neighbours, plus counts above 2**24
    and near 2**31, in every count dtype. ``oracle=False`` marks extreme arguments (the ends of
    a parameter's documented range) whose float64 formula overflows: only finiteness and
    eager == jit == vmap are checked there.
    """

    kwargs: dict[str, Any]
    breaks: tuple[int, ...] = ()
    oracle: bool = True


def restarts(T0: float, t_mul: float, n: int = 6, limit: int = 2**31 - 1) -> tuple[int, ...]:
    """The integer restarts of SGDR cycles ``T0 * t_mul**i`` (for breakpoints)."""
    out, start, length = [], 0.0, float(T0)
    for _ in range(n):
        start += length
        length *= t_mul
        if start > limit:
            break
        if float(start).is_integer():
            out.append(int(start))
    return tuple(out)


def multiples_near(step: int, at: int = 2**31 - 1, k: int = 2) -> tuple[int, ...]:
    """The last ``k`` multiples of ``step`` at or below ``at`` (breakpoints near 2**31)."""
    last = at // step * step
    return tuple(last - i * step for i in range(k))


@dataclasses.dataclass(frozen=True)
class Case:
    id: str
    factory: Callable[..., Any]
    kwargs: dict[str, Any]
    oracle: Callable[..., np.ndarray]
    # Alternative valid values for a numeric hyperparameter: the test vmaps over [kwargs[k], *v].
    sweeps: dict[str, list[Any]] = dataclasses.field(default_factory=dict)
    # Float hyperparameters whose gradient must be finite (and match finite differences).
    grads: tuple[str, ...] = ()
    # Counts worth checking: boundaries and their neighbours (0, 1 and far counts are added).
    counts: tuple[int, ...] = ()
    # Length-like arguments for which 0 is valid (a skipped phase); vmapped over [0, value].
    zero_ok: tuple[str, ...] = ()
    # Oracle tolerance (float32 evaluation against the float64 oracle).
    rtol: float = 2e-5
    atol: float = 1e-7
    # Other argument sets, each with its breakpoints (see `Variant`); `counts` are the base's.
    variants: tuple[Variant, ...] = ()


# ------------------------------------------------------------------------------------------
# NumPy oracles, written from the formulas (docs/guides/schedules.md) and the Optax, PyTorch and
# Keras docs.
# ------------------------------------------------------------------------------------------


def _poly(t, init_value, end_value, power, transition_steps, transition_begin=0):
    T, B = float(transition_steps), float(transition_begin)
    if T == 0:
        return np.where(t >= B, end_value, init_value) * np.ones_like(t)
    frac = 1.0 - np.clip(t - B, 0, T) / T
    return (init_value - end_value) * frac**power + end_value


def _linear(t, init_value, end_value, transition_steps, transition_begin=0):
    return _poly(t, init_value, end_value, 1.0, transition_steps, transition_begin)


def _expo(
    t, init_value, transition_steps, decay_rate, transition_begin=0, staircase=False, end_value=None
):
    x = t - transition_begin
    p = x / transition_steps
    if staircase:
        p = np.floor(p)
    v = np.where(x <= 0, init_value, init_value * np.power(float(decay_rate), np.maximum(p, 0)))
    if end_value is not None:
        v = np.maximum(v, end_value) if decay_rate < 1 else np.minimum(v, end_value)
    return v


def _cos_optax(t, init_value, decay_steps, alpha=0.0, exponent=1.0):
    c = np.minimum(t, decay_steps)
    cd = 0.5 * (1 + np.cos(np.pi * c / decay_steps))
    return init_value * ((1 - alpha) * cd**exponent + alpha)


def _warmup_cos(t, init_value, peak_value, warmup_steps, decay_steps, end_value=0.0, exponent=1.0):
    W, D = float(warmup_steps), float(decay_steps) - float(warmup_steps)
    warm = _linear(t, init_value, peak_value, W)
    if D > 0:
        c = np.clip(t - W, 0, D)
        cd = (0.5 * (1 + np.cos(np.pi * c / D))) ** exponent
    else:
        cd = np.zeros_like(t)
    dec = end_value + (peak_value - end_value) * cd
    return np.where(t < W, warm, dec)


def _warmup_expo(
    t,
    init_value,
    peak_value,
    warmup_steps,
    transition_steps,
    decay_rate,
    transition_begin=0,
    staircase=False,
    end_value=None,
):
    W = float(warmup_steps)
    warm = _linear(t, init_value, peak_value, W)
    dec = _expo(
        t - W, peak_value, transition_steps, decay_rate, transition_begin, staircase, end_value
    )
    return np.where(t < W, warm, dec)


def _sgdr(t, cosine_kwargs):
    out = np.zeros_like(t)
    start = 0.0
    n = len(cosine_kwargs)
    for i, kw in enumerate(cosine_kwargs):
        end = start + kw["decay_steps"] if i < n - 1 else np.inf
        piece = _warmup_cos(t - start, **kw)
        out = np.where((t >= start) & (t < end), piece, out)
        start += kw["decay_steps"]
    return out


def _interp_onecycle(t, bounds, values, kind):
    # Optax's piecewise_interpolate_schedule on cumulated values.
    out = np.zeros_like(t)
    for i in range(len(bounds) - 1):
        b0, b1 = bounds[i], bounds[i + 1]
        size = max(b1 - b0, 1)
        pct = (t - b0) / size
        if kind == "linear":
            v = (values[i + 1] - values[i]) * pct + values[i]
        else:
            v = values[i + 1] + (values[i] - values[i + 1]) / 2 * (np.cos(np.pi * pct) + 1)
        out = np.where((t >= b0) & (t < b1), v, out)
    return np.where(t >= bounds[-1], values[-1], out)


def _linear_onecycle(
    t,
    transition_steps,
    peak_value,
    pct_start=0.3,
    pct_final=0.85,
    div_factor=25.0,
    final_div_factor=1e4,
):
    T = transition_steps
    d = {
        int(pct_start * T): div_factor,
        int(pct_final * T): 1 / div_factor,
        T: 1 / final_div_factor,
    }
    b, s = zip(*sorted(d.items()), strict=True)
    vals = np.cumprod([peak_value / div_factor, *s])
    return _interp_onecycle(t, [0, *b], vals, "linear")


def _cosine_onecycle(
    t, transition_steps, peak_value, pct_start=0.3, div_factor=25.0, final_div_factor=1e4
):
    T = transition_steps
    d = {int(pct_start * T): div_factor, int(T): 1 / (div_factor * final_div_factor)}
    b, s = zip(*sorted(d.items()), strict=True)
    vals = np.cumprod([peak_value / div_factor, *s])
    return _interp_onecycle(t, [0, *b], vals, "cosine")


def _polynomial_decay(t, init_value, decay_steps, power=1.0, end_value=0.0, cycle=False):
    T = float(decay_steps)
    if cycle:
        T = T * np.maximum(1.0, np.ceil(t / T))
        s = t
    else:
        s = np.minimum(t, T)
    return (init_value - end_value) * (1 - s / T) ** power + end_value


def _natural_exp(t, init_value, decay_rate, decay_steps=1, staircase=False):
    p = t / decay_steps
    if staircase:
        p = np.floor(p)
    return init_value * np.exp(-decay_rate * p)


def _inverse_time(t, init_value, decay_rate, decay_steps=1, staircase=False):
    p = t / decay_steps
    if staircase:
        p = np.floor(p)
    return init_value / (1 + decay_rate * p)


def _inverse_sqrt(t, init_value, warmup_steps, timescale=None):
    W = float(warmup_steps)
    if timescale is None:
        timescale = W if W > 0 else 10_000.0
    warm = init_value * t / max(W, 1.0)
    dec = init_value / np.sqrt((t - W + timescale) / timescale)
    return np.where(t < W, warm, dec)


def _step_decay(t, init_value, step_size, gamma=0.1):
    return init_value * float(gamma) ** np.floor(t / step_size)


def _cosine_decay(t, init_value, decay_steps, end_value=0.0, exponent=1.0):
    c = np.minimum(t, decay_steps)
    return (
        end_value
        + (init_value - end_value) * (0.5 * (1 + np.cos(np.pi * c / decay_steps))) ** exponent
    )


def _cosine_restarts(t, init_value, first_decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0):
    # Keras CosineDecayRestarts, float64.
    # Cycle i starts at first_decay_steps * (t_mul**i - 1) / (t_mul - 1); the float estimate of
    # i is corrected so that a count exactly on a restart starts the new cycle.
    T0 = float(first_decay_steps)
    frac = t / T0
    if t_mul == 1.0:
        i = np.floor(frac)
        start = lambda k: T0 * k
    else:
        i = np.floor(np.log(1 - frac * (1 - t_mul)) / np.log(t_mul))
        start = lambda k: T0 * (t_mul**k - 1) / (t_mul - 1)
    i = np.where(start(i + 1) <= t, i + 1, i)
    i = np.where(start(i) > t, i - 1, i)
    frac = (t - start(i)) / (T0 * t_mul**i)
    m = m_mul**i
    cd = m * 0.5 * (1 + np.cos(np.pi * frac))
    return init_value * ((1 - alpha) * cd + alpha)


def _one_cycle(
    t,
    max_value,
    total_steps,
    pct_start=0.3,
    anneal_strategy="cos",
    div_factor=25.0,
    final_div_factor=1e4,
    three_phase=False,
):
    # PyTorch OneCycleLR (for counts 0..total_steps-1), held after.
    init = max_value / div_factor
    final = init / final_div_factor
    if three_phase:
        ends = [pct_start * total_steps - 1, 2 * pct_start * total_steps - 2, total_steps - 1]
        phases = [(init, max_value), (max_value, init), (init, final)]
    else:
        ends = [pct_start * total_steps - 1, total_steps - 1]
        phases = [(init, max_value), (max_value, final)]
    t = np.minimum(t, total_steps - 1)
    out = np.zeros_like(t)
    done = np.zeros(t.shape, bool)
    start = 0.0
    last = len(ends) - 1
    for i, (end, (a, b)) in enumerate(zip(ends, phases, strict=True)):
        pct = (t - start) / (end - start)
        if anneal_strategy == "cos":
            v = b + (a - b) / 2 * (np.cos(np.pi * pct) + 1)
        else:
            v = (b - a) * pct + a
        sel = (~done) & ((t <= end) | (i == last))
        out = np.where(sel, v, out)
        done |= sel
        start = end
    return out


def _cyclic(
    t, base_value, max_value, step_size_up=2000, step_size_down=None, mode="triangular", gamma=1.0
):
    up = float(step_size_up)
    down = float(step_size_down) if step_size_down is not None else up
    total = up + down
    ratio = up / total
    cycle = np.floor(1 + t / total)
    x = 1.0 + t / total - cycle
    scale = np.where(x <= ratio, x / ratio, (x - 1) / (ratio - 1))
    amp = (max_value - base_value) * scale
    if mode == "triangular":
        f = 1.0
    elif mode == "triangular2":
        f = 1 / (2.0 ** (cycle - 1))
    else:
        f = float(gamma) ** t
    return base_value + amp * f


def _wsd(
    t,
    peak_value,
    warmup_steps,
    stable_steps,
    decay_steps,
    init_value=0.0,
    end_value=0.0,
    decay_type="linear",
):
    W, S, D = float(warmup_steps), float(stable_steps), float(decay_steps)
    warm = init_value + (peak_value - init_value) * (t / W if W > 0 else 1.0)
    if D > 0:
        f = np.clip((t - W - S) / D, 0, 1)
    else:
        f = np.ones_like(t)
    if decay_type == "linear":
        g = 1 - f
    elif decay_type == "cosine":
        g = 0.5 * (1 + np.cos(np.pi * f))
    else:
        g = 1 - np.sqrt(f)
    dec = end_value + (peak_value - end_value) * g
    return np.where(t < W, warm, np.where(t < W + S, peak_value, dec))


def _const(t, value):
    return value * np.ones_like(t)


# The migration constructors with formulas of their own (PyTorch's bookkeeping, Keras' boundary).


def _torch_cawr(t, lr, T_0, T_mult=1, eta_min=0.0):
    # PyTorch CosineAnnealingWarmRestarts: cycles T_0 * T_mult**i, cosine from lr to eta_min.
    unit = _cosine_restarts(t, 1.0, T_0, float(T_mult))
    return eta_min + (lr - eta_min) * unit


def _torch_linear(t, lr, start_factor=1 / 3, end_factor=1.0, total_iters=5):
    T = float(total_iters)
    if T == 0:  # PyTorch never leaves the start factor
        return lr * start_factor * np.ones_like(t)
    return lr * (start_factor + (end_factor - start_factor) * np.minimum(t, T) / T)


def _torch_constant(t, lr, factor=1 / 3, total_iters=5):
    T = float(total_iters)
    return np.where((t < T) | (T == 0), lr * factor, lr)


def _torch_polynomial(t, lr, total_iters=5, power=1.0):
    T = float(total_iters)
    if T == 0:
        return lr * np.ones_like(t)
    return lr * (1 - np.minimum(t, T) / T) ** power


def _keras_piecewise(t, boundaries, values):
    # Keras PiecewiseConstantDecay: values[i + 1] once t > boundaries[i].
    index = np.sum(t[..., None] > np.asarray(boundaries, np.float64), axis=-1)
    return np.asarray(values, np.float64)[index]


# ------------------------------------------------------------------------------------------
# The registry.
# ------------------------------------------------------------------------------------------

_FAR = (10**6, 2**31 - 1)

CASES: list[Case] = [
    Case(
        "constant_schedule",
        jd.constant_schedule,
        dict(value=0.3),
        _const,
        sweeps={"value": [0.1, 1.5]},
        grads=("value",),
    ),
    Case(
        "linear_schedule",
        jd.linear_schedule,
        dict(init_value=0.5, end_value=0.01, transition_steps=100, transition_begin=20),
        _linear,
        sweeps={
            "init_value": [0.1, 1.0],
            "end_value": [0.0, 0.9],
            "transition_steps": [7, 300],
            "transition_begin": [0, 5],
        },
        grads=("init_value", "end_value"),
        counts=(19, 20, 21, 70, 119, 120, 121),
        zero_ok=("transition_begin", "transition_steps"),
    ),
    Case(
        "polynomial_schedule",
        jd.polynomial_schedule,
        dict(init_value=1.0, end_value=0.01, power=0.5, transition_steps=60, transition_begin=3),
        _poly,
        sweeps={
            "power": [1.0, 2.0, 0.3],
            "transition_steps": [10, 1000],
            "init_value": [0.2],
            "transition_begin": [0, 11],
        },
        grads=("init_value", "end_value", "power"),
        counts=(2, 3, 4, 30, 62, 63, 64),
        zero_ok=("transition_begin", "transition_steps"),
    ),
    Case(
        "exponential_decay",
        jd.exponential_decay,
        dict(init_value=0.1, transition_steps=100, decay_rate=0.9),
        _expo,
        sweeps={
            "decay_rate": [0.95, 0.99, 0.5],
            "transition_steps": [1, 10, 1000],
            "init_value": [1.0],
        },
        grads=("init_value", "decay_rate"),
        counts=(99, 100, 101, 250),
    ),
    Case(
        "exponential_decay_staircase",
        jd.exponential_decay,
        dict(
            init_value=0.1,
            transition_steps=30,
            decay_rate=0.5,
            transition_begin=10,
            staircase=True,
            end_value=0.001,
        ),
        _expo,
        sweeps={
            "decay_rate": [0.9, 0.1],
            "transition_steps": [7, 3],
            "transition_begin": [0],
            "end_value": [0.0, 0.05],
        },
        grads=("init_value", "end_value"),
        counts=(9, 10, 39, 40, 41, 70, 190, 191),
        zero_ok=("transition_begin",),
    ),
    Case(
        "exponential_decay_growth",
        jd.exponential_decay,
        dict(init_value=0.01, transition_steps=10, decay_rate=1.5, end_value=1.0),
        _expo,
        sweeps={"decay_rate": [2.0, 1.1], "end_value": [0.5, 3.0]},
        grads=("init_value", "decay_rate"),
        counts=(5, 10, 100, 114, 115),
    ),
    Case(
        "cosine_decay_schedule",
        jd.cosine_decay_schedule,
        dict(init_value=0.2, decay_steps=50, alpha=0.1, exponent=2.0),
        _cos_optax,
        sweeps={"decay_steps": [1, 49, 1000], "alpha": [0.0, 0.5], "exponent": [1.0, 0.5]},
        grads=("init_value", "alpha", "exponent"),
        counts=(25, 49, 50, 51),
    ),
    Case(
        "warmup_constant_schedule",
        jd.warmup_constant_schedule,
        dict(init_value=0.0, peak_value=0.3, warmup_steps=10),
        lambda t, init_value, peak_value, warmup_steps: _linear(
            t, init_value, peak_value, warmup_steps
        ),
        sweeps={"warmup_steps": [1, 100], "peak_value": [1.0]},
        grads=("init_value", "peak_value"),
        counts=(9, 10, 11),
        zero_ok=("warmup_steps",),
    ),
    Case(
        "warmup_cosine_decay_schedule",
        jd.warmup_cosine_decay_schedule,
        dict(
            init_value=0.01,
            peak_value=1.0,
            warmup_steps=20,
            decay_steps=120,
            end_value=0.05,
            exponent=1.0,
        ),
        _warmup_cos,
        sweeps={
            "warmup_steps": [1, 50],
            "decay_steps": [21, 500],
            "peak_value": [0.5, 2.0],
            "exponent": [2.0],
        },
        grads=("init_value", "peak_value", "end_value", "exponent"),
        counts=(19, 20, 21, 70, 119, 120, 121),
        zero_ok=("warmup_steps",),
    ),
    Case(
        "warmup_exponential_decay_schedule",
        jd.warmup_exponential_decay_schedule,
        dict(
            init_value=0.0,
            peak_value=0.5,
            warmup_steps=10,
            transition_steps=20,
            decay_rate=0.5,
            transition_begin=5,
            staircase=False,
            end_value=0.01,
        ),
        _warmup_expo,
        sweeps={
            "warmup_steps": [1, 30],
            "transition_steps": [3, 50],
            "decay_rate": [0.9],
            "peak_value": [1.0],
            "transition_begin": [0, 1],
        },
        grads=("init_value", "peak_value", "decay_rate"),
        counts=(9, 10, 11, 14, 15, 16, 35, 200),
        zero_ok=("warmup_steps", "transition_begin"),
    ),
    Case(
        "sgdr_schedule",
        jd.sgdr_schedule,
        dict(
            cosine_kwargs=[
                dict(init_value=0.0, peak_value=1.0, warmup_steps=5, decay_steps=30, end_value=0.0),
                dict(
                    init_value=0.1, peak_value=0.5, warmup_steps=0, decay_steps=50, end_value=0.01
                ),
            ]
        ),
        _sgdr,
        counts=(4, 5, 6, 29, 30, 31, 79, 80, 81),
    ),
    Case(
        "linear_onecycle_schedule",
        jd.linear_onecycle_schedule,
        dict(
            transition_steps=100,
            peak_value=0.4,
            pct_start=0.25,
            pct_final=0.8,
            div_factor=20.0,
            final_div_factor=100.0,
        ),
        _linear_onecycle,
        sweeps={"peak_value": [1.0], "transition_steps": [50, 1000], "div_factor": [10.0]},
        grads=("peak_value", "div_factor"),
        counts=(24, 25, 26, 79, 80, 81, 99, 100, 101),
        rtol=5e-5,
    ),
    Case(
        "cosine_onecycle_schedule",
        jd.cosine_onecycle_schedule,
        dict(
            transition_steps=100,
            peak_value=0.4,
            pct_start=0.3,
            div_factor=25.0,
            final_div_factor=1e4,
        ),
        _cosine_onecycle,
        sweeps={"peak_value": [1.0], "transition_steps": [50, 1000], "pct_start": [0.5]},
        grads=("peak_value", "div_factor", "final_div_factor"),
        counts=(29, 30, 31, 99, 100, 101),
        rtol=5e-5,
    ),
    Case(
        "polynomial_decay",
        jd.polynomial_decay,
        dict(init_value=0.1, decay_steps=100, power=2.0, end_value=0.001),
        _polynomial_decay,
        sweeps={"decay_steps": [1, 10, 1000], "power": [0.5, 1.0], "end_value": [0.0]},
        grads=("init_value", "power", "end_value"),
        counts=(50, 99, 100, 101),
    ),
    Case(
        "polynomial_decay_cycle",
        jd.polynomial_decay,
        dict(init_value=0.1, decay_steps=40, power=1.0, end_value=0.01, cycle=True),
        _polynomial_decay,
        sweeps={"decay_steps": [7, 100], "power": [0.5, 3.0]},
        grads=("init_value", "end_value"),
        counts=(39, 40, 41, 79, 80, 81, 1000, 1001),
    ),
    Case(
        "natural_exp_decay",
        jd.natural_exp_decay,
        dict(init_value=0.1, decay_rate=0.05),
        _natural_exp,
        sweeps={"decay_rate": [0.01, 0.5], "decay_steps": [10, 3]},
        grads=("init_value", "decay_rate"),
        counts=(10, 100),
    ),
    Case(
        "natural_exp_decay_staircase",
        jd.natural_exp_decay,
        dict(init_value=0.1, decay_rate=0.5, decay_steps=7, staircase=True),
        _natural_exp,
        sweeps={"decay_rate": [0.1, 1.0], "decay_steps": [1, 10]},
        grads=("init_value", "decay_rate"),
        counts=(6, 7, 8, 13, 14, 15),
    ),
    Case(
        "inverse_time_decay",
        jd.inverse_time_decay,
        dict(init_value=0.1, decay_rate=0.5, decay_steps=10),
        _inverse_time,
        sweeps={"decay_rate": [0.01, 2.0], "decay_steps": [1, 100]},
        grads=("init_value", "decay_rate"),
        counts=(9, 10, 11, 100),
    ),
    Case(
        "inverse_time_decay_staircase",
        jd.inverse_time_decay,
        dict(init_value=0.1, decay_rate=1.0, decay_steps=10, staircase=True),
        _inverse_time,
        sweeps={"decay_rate": [0.5], "decay_steps": [3, 30]},
        grads=("init_value", "decay_rate"),
        counts=(9, 10, 11, 19, 20),
    ),
    Case(
        "inverse_sqrt_decay",
        jd.inverse_sqrt_decay,
        dict(init_value=0.01, warmup_steps=100),
        _inverse_sqrt,
        sweeps={"warmup_steps": [1, 1000], "init_value": [0.1]},
        grads=("init_value",),
        counts=(50, 99, 100, 101, 400),
        zero_ok=("warmup_steps",),
    ),
    Case(
        "inverse_sqrt_decay_timescale",
        jd.inverse_sqrt_decay,
        dict(init_value=0.01, warmup_steps=10, timescale=50),
        _inverse_sqrt,
        sweeps={"warmup_steps": [1, 100], "timescale": [1, 1000]},
        grads=("init_value", "timescale"),
        counts=(9, 10, 11, 60),
        zero_ok=("warmup_steps",),
    ),
    Case(
        "step_decay",
        jd.step_decay,
        dict(init_value=0.1, step_size=10, gamma=0.5),
        _step_decay,
        sweeps={"step_size": [1, 3, 100], "gamma": [0.1, 0.9], "init_value": [1.0]},
        grads=("init_value", "gamma"),
        counts=(9, 10, 11, 29, 30, 31, 299, 300),
    ),
    Case(
        "cosine_decay",
        jd.cosine_decay,
        dict(init_value=0.1, decay_steps=1000, end_value=0.001, exponent=1.0),
        _cosine_decay,
        sweeps={"decay_steps": [1, 10, 5000], "end_value": [0.0, 0.05], "exponent": [2.0]},
        grads=("init_value", "end_value", "exponent"),
        counts=(500, 999, 1000, 1001),
    ),
    Case(
        "cosine_restarts",
        jd.cosine_restarts,
        dict(init_value=0.1, first_decay_steps=10, t_mul=2.0, m_mul=0.5, alpha=0.01),
        _cosine_restarts,
        sweeps={
            "first_decay_steps": [3, 100],
            "t_mul": [1.0, 1.5, 3.0],
            "m_mul": [1.0, 0.9],
            "alpha": [0.0],
        },
        grads=("init_value", "m_mul", "alpha"),
        counts=(9, 10, 11, 29, 30, 31, 69, 70, 71),
        rtol=1e-4,
    ),
    Case(
        "cosine_restarts_tmul1",
        jd.cosine_restarts,
        dict(init_value=0.1, first_decay_steps=20, t_mul=1.0, m_mul=0.9, alpha=0.0),
        _cosine_restarts,
        sweeps={"first_decay_steps": [7, 100], "m_mul": [1.0]},
        grads=("init_value", "m_mul"),
        counts=(19, 20, 21, 39, 40, 41),
        rtol=1e-4,
    ),
    Case(
        "one_cycle",
        jd.one_cycle,
        dict(max_value=0.1, total_steps=100),
        _one_cycle,
        sweeps={
            "max_value": [1.0],
            "total_steps": [10, 1000],
            "pct_start": [0.5, 0.1],
            "div_factor": [10.0],
            "final_div_factor": [100.0],
        },
        grads=("max_value", "div_factor", "final_div_factor"),
        counts=(28, 29, 30, 98, 99, 100),
        rtol=5e-5,
    ),
    Case(
        "one_cycle_linear_3phase",
        jd.one_cycle,
        dict(
            max_value=0.5,
            total_steps=200,
            pct_start=0.25,
            anneal_strategy="linear",
            three_phase=True,
        ),
        _one_cycle,
        sweeps={"total_steps": [40, 1000], "pct_start": [0.3]},
        grads=("max_value",),
        counts=(48, 49, 50, 97, 98, 99, 198, 199, 200),
        rtol=5e-5,
    ),
    Case(
        "cyclic_triangular",
        jd.cyclic,
        dict(base_value=0.001, max_value=0.1, step_size_up=10),
        _cyclic,
        sweeps={"step_size_up": [1, 100], "max_value": [1.0]},
        grads=("base_value", "max_value"),
        counts=(9, 10, 11, 19, 20, 21),
    ),
    Case(
        "cyclic_triangular2",
        jd.cyclic,
        dict(base_value=0.01, max_value=0.1, step_size_up=5, step_size_down=15, mode="triangular2"),
        _cyclic,
        sweeps={"step_size_up": [2, 20], "step_size_down": [1, 30]},
        grads=("base_value", "max_value"),
        counts=(4, 5, 6, 19, 20, 21, 45),
    ),
    Case(
        "cyclic_exp_range",
        jd.cyclic,
        dict(base_value=0.01, max_value=0.1, step_size_up=8, mode="exp_range", gamma=0.99),
        _cyclic,
        sweeps={"gamma": [0.9, 1.0], "step_size_up": [3]},
        grads=("base_value", "max_value", "gamma"),
        counts=(7, 8, 9, 16, 17),
    ),
    Case(
        "warmup_stable_decay",
        jd.warmup_stable_decay,
        dict(
            peak_value=0.1,
            warmup_steps=10,
            stable_steps=30,
            decay_steps=20,
            init_value=0.001,
            end_value=0.0001,
        ),
        _wsd,
        sweeps={
            "warmup_steps": [1, 50],
            "stable_steps": [1, 100],
            "decay_steps": [1, 200],
            "peak_value": [1.0, 0.01],
        },
        grads=("peak_value", "init_value", "end_value"),
        counts=(9, 10, 11, 39, 40, 41, 59, 60, 61),
        zero_ok=("warmup_steps", "stable_steps", "decay_steps"),
    ),
    Case(
        "warmup_stable_decay_cosine",
        jd.warmup_stable_decay,
        dict(peak_value=1.0, warmup_steps=5, stable_steps=0, decay_steps=40, decay_type="cosine"),
        _wsd,
        sweeps={"stable_steps": [10]},
        grads=("peak_value",),
        counts=(4, 5, 6, 44, 45, 46),
        zero_ok=("warmup_steps", "stable_steps"),
    ),
    Case(
        "warmup_stable_decay_sqrt",
        jd.warmup_stable_decay,
        dict(
            peak_value=1.0,
            warmup_steps=0,
            stable_steps=10,
            decay_steps=40,
            decay_type="sqrt",
            end_value=0.1,
        ),
        _wsd,
        sweeps={"warmup_steps": [5]},
        grads=("peak_value", "end_value"),
        counts=(9, 10, 11, 49, 50, 51),
        zero_ok=("warmup_steps", "stable_steps"),
    ),
    Case(
        "torch.CosineAnnealingWarmRestarts",
        compat_torch.CosineAnnealingWarmRestarts,
        dict(lr=0.1, T_0=10, T_mult=2, eta_min=0.001),
        _torch_cawr,
        sweeps={"T_0": [3, 100], "T_mult": [1, 3], "eta_min": [0.0]},
        grads=("lr", "eta_min"),
        counts=(9, 10, 11, 29, 30, 31, 69, 70, 71),
        rtol=1e-4,
    ),
    Case(
        "torch.LinearLR",
        compat_torch.LinearLR,
        dict(lr=0.1, start_factor=0.25, end_factor=0.5, total_iters=20),
        _torch_linear,
        sweeps={"total_iters": [1, 100], "start_factor": [1.0], "end_factor": [0.0, 1.0]},
        grads=("lr", "start_factor", "end_factor"),
        counts=(19, 20, 21),
        zero_ok=("total_iters",),
    ),
    Case(
        "torch.ConstantLR",
        compat_torch.ConstantLR,
        dict(lr=0.1, factor=0.5, total_iters=10),
        _torch_constant,
        sweeps={"total_iters": [1, 50], "factor": [1.0, 0.0]},
        grads=("lr", "factor"),
        counts=(9, 10, 11),
        zero_ok=("total_iters",),
    ),
    Case(
        "torch.PolynomialLR",
        compat_torch.PolynomialLR,
        dict(lr=0.1, total_iters=40, power=2.0),
        _torch_polynomial,
        sweeps={"total_iters": [1, 100], "power": [0.0, 0.5, 1.0]},
        grads=("lr", "power"),
        counts=(39, 40, 41),
        zero_ok=("total_iters",),
    ),
    Case(
        "keras.PiecewiseConstantDecay",
        compat_keras.PiecewiseConstantDecay,
        dict(boundaries=[10, 40, 100], values=[0.1, 0.05, 0.01, 0.001]),
        _keras_piecewise,
        sweeps={
            "boundaries": [[0, 1, 2], [5, 500, 10**6]],
            "values": [[1.0, 0.5, 0.25, 0.0]],
        },
        counts=(9, 10, 11, 40, 41, 100, 101),
    ),
]

FAR_COUNTS = _FAR

# ------------------------------------------------------------------------------------------
# Argument sets and breakpoints (issue 10): coinciding boundaries, float step arguments, t_mul in
# {1, 1.5, 2, 3, 4, 8, 10}, periods that are not powers of two, phases past 2**24 and near 2**31,
# and the extreme ends of each documented range.
# ------------------------------------------------------------------------------------------

_B = 2**30  # a phase start far past float32's exact integers
_TOP = 2**31 - 1  # the largest valid count and step

CASES.append(
    Case(
        "keras.CosineDecayRestarts",
        compat_keras.CosineDecayRestarts,
        dict(initial_learning_rate=0.1, first_decay_steps=10, t_mul=2.0, m_mul=0.9, alpha=0.01),
        lambda t, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0: (
            _cosine_restarts(t, initial_learning_rate, first_decay_steps, t_mul, m_mul, alpha)
        ),
        sweeps={"t_mul": [1.0, 3.0], "m_mul": [1.0]},
        grads=("initial_learning_rate", "alpha"),
        counts=(9, 10, 11, 29, 30, 31),
        rtol=1e-4,
        variants=tuple(
            Variant(dict(t_mul=m), restarts(10, m)) for m in (1.0, 1.5, 3.0, 4.0, 8.0, 10.0)
        ),
    )
)

VARIANTS: dict[str, tuple[Variant, ...]] = {
    "linear_schedule": (
        Variant(
            dict(init_value=0.0, end_value=0.1, transition_steps=100000, transition_begin=0),
            (1, 100000),
        ),
        Variant(dict(transition_steps=100.0, transition_begin=20.0), (20, 120)),
        Variant(dict(transition_steps=7, transition_begin=_B + 5), (_B + 5, _B + 12)),
        Variant(dict(transition_steps=_TOP, transition_begin=_TOP), (), oracle=False),
    ),
    "polynomial_schedule": (
        Variant(dict(transition_steps=60.0, transition_begin=3.0), (3, 63)),
        Variant(dict(transition_steps=13, transition_begin=_B), (_B, _B + 13)),
        Variant(dict(transition_steps=0, transition_begin=5), (5,)),
    ),
    "exponential_decay": (
        Variant(dict(transition_steps=100.0, decay_rate=0.5), (100,)),
        Variant(dict(init_value=0.0, transition_steps=1, decay_rate=2.0), (128,), oracle=False),
        Variant(dict(transition_steps=1, decay_rate=1e-30), (1, 2), oracle=False),
    ),
    "exponential_decay_staircase": (
        Variant(dict(transition_steps=30.0, transition_begin=10.0), (10, 40, 70)),
        Variant(dict(transition_steps=7, transition_begin=_B), (_B, _B + 7, _B + 14)),
        Variant(dict(transition_steps=7, transition_begin=0, end_value=None), multiples_near(7)),
    ),
    "exponential_decay_growth": (
        Variant(dict(decay_rate=10.0, end_value=None), (10, 400), oracle=False),
    ),
    "cosine_decay_schedule": (Variant(dict(decay_steps=50.0), (50,)),),
    "warmup_constant_schedule": (
        Variant(dict(init_value=0.0, peak_value=0.1, warmup_steps=100000), (1, 100000)),
        Variant(dict(warmup_steps=10.0), (10,)),
        Variant(dict(warmup_steps=_B + 3), (_B + 3,)),
    ),
    "warmup_cosine_decay_schedule": (
        Variant(
            dict(init_value=0.0, peak_value=0.1, warmup_steps=100000, decay_steps=200000),
            (1, 100000, 200000),
        ),
        Variant(dict(warmup_steps=20.0, decay_steps=120.0), (20, 120)),
        Variant(dict(warmup_steps=20, decay_steps=20), (20,)),
        Variant(dict(warmup_steps=_B, decay_steps=_B + 7), (_B, _B + 7)),
    ),
    "warmup_exponential_decay_schedule": (
        Variant(dict(warmup_steps=10.0, transition_begin=5.0, staircase=True), (10, 15, 35)),
        Variant(
            dict(warmup_steps=_B, transition_steps=3, transition_begin=0, staircase=True),
            (_B, _B + 3, _B + 6),
        ),
    ),
    "sgdr_schedule": (
        Variant(
            dict(
                cosine_kwargs=[
                    dict(init_value=0.0, peak_value=1.0, warmup_steps=0, decay_steps=7),
                    dict(init_value=0.0, peak_value=1.0, warmup_steps=0, decay_steps=0),
                    dict(init_value=0.0, peak_value=0.5, warmup_steps=3.0, decay_steps=21.0),
                ]
            ),
            (7, 10, 28),
        ),
    ),
    "linear_onecycle_schedule": (
        Variant(dict(pct_final=1.0), (25, 100)),
        Variant(dict(pct_start=0.5, pct_final=0.5), (50, 100)),
        Variant(dict(pct_start=0.0), (80, 100)),
        Variant(dict(transition_steps=1), (1,)),
        Variant(dict(transition_steps=7), (1, 5, 7)),
        Variant(
            dict(transition_steps=_TOP, pct_start=0.5, pct_final=0.75),
            (_TOP // 2, int(0.75 * _TOP)),
        ),
    ),
    "cosine_onecycle_schedule": (
        Variant(dict(pct_start=1.0), (100,)),
        Variant(dict(transition_steps=10, pct_start=1.0), (10,)),
        Variant(dict(pct_start=0.0), (100,)),
        Variant(dict(transition_steps=7), (2, 7)),
    ),
    "polynomial_decay": (Variant(dict(decay_steps=100.0), (100,)),),
    "polynomial_decay_cycle": (
        Variant(dict(decay_steps=40.0), (40, 80)),
        Variant(dict(decay_steps=7), multiples_near(7) + (7, 14)),
    ),
    "natural_exp_decay_staircase": (
        Variant(dict(decay_steps=7.0), (7, 14)),
        Variant(dict(init_value=0.1, decay_rate=0.0, decay_steps=7), multiples_near(7)),
    ),
    "inverse_time_decay_staircase": (
        Variant(dict(decay_steps=10.0), (10, 20)),
        Variant(dict(decay_steps=7), multiples_near(7)),
    ),
    "inverse_sqrt_decay": (
        Variant(dict(warmup_steps=100.0), (100,)),
        Variant(dict(warmup_steps=_B + 1), (_B + 1,)),
    ),
    "step_decay": (
        Variant(dict(step_size=10.0), (10, 20, 30)),
        Variant(dict(step_size=7, gamma=0.9), multiples_near(7)),
        Variant(dict(step_size=_B, gamma=0.5), (_B,)),
        Variant(dict(step_size=1, gamma=0.0), (1,)),
    ),
    "cosine_decay": (
        Variant(dict(decay_steps=1000.0), (1000,)),
        Variant(dict(decay_steps=_TOP), (_TOP,)),
    ),
    "cosine_restarts": tuple(
        Variant(dict(first_decay_steps=10, t_mul=m), restarts(10, m))
        for m in (1.5, 2.0, 3.0, 4.0, 8.0, 10.0)
    )
    + (
        Variant(dict(first_decay_steps=7, t_mul=2.0, m_mul=1.0), restarts(7, 2.0, n=40)[-8:]),
        Variant(dict(first_decay_steps=10.0, t_mul=3.0), restarts(10, 3.0)),
        Variant(dict(first_decay_steps=10, t_mul=1.0, m_mul=2.0), (1280,), oracle=False),
    ),
    "cosine_restarts_tmul1": (
        Variant(dict(first_decay_steps=100.0), (100, 200) + multiples_near(100)),
        Variant(dict(first_decay_steps=7), multiples_near(7)),
    ),
    "one_cycle": (
        Variant(dict(total_steps=7, pct_start=0.5), (2, 6)),
        Variant(dict(total_steps=100.0), (29, 99)),
    ),
    "cyclic_triangular": (
        Variant(dict(step_size_up=100.0), (100, 200) + multiples_near(100, k=3)),
        Variant(dict(step_size_up=_B, step_size_down=_B), (_B,)),
        Variant(dict(step_size_up=7), (7, 14) + multiples_near(7, k=3)),
    ),
    "cyclic_triangular2": (
        Variant(dict(step_size_up=5.0, step_size_down=15.0), (5, 20, 25, 40)),
        Variant(dict(step_size_up=3, step_size_down=0), (3, 6)),
    ),
    "warmup_stable_decay": (
        Variant(dict(warmup_steps=_B, stable_steps=65, decay_steps=1), (_B, _B + 65, _B + 66)),
        Variant(dict(warmup_steps=10.0, stable_steps=30.0, decay_steps=20.0), (10, 40, 60)),
        Variant(dict(warmup_steps=10, stable_steps=0, decay_steps=0), (10,)),
        Variant(dict(init_value=0.0, peak_value=0.1, warmup_steps=100000), (1, 100000)),
    ),
    "torch.CosineAnnealingWarmRestarts": tuple(
        Variant(dict(T_0=10, T_mult=m), restarts(10, m)) for m in (1, 3, 4, 10)
    ),
}
CASES = [dataclasses.replace(c, variants=c.variants + VARIANTS.get(c.id, ())) for c in CASES]

# Piecewise schedules and combinators (issue 7). Imported last: they import `Case` from here.
from cases_beyond import CASES as _BY  # noqa: E402
from cases_combinators import CASES as _CB  # noqa: E402
from cases_combinators import VARIANTS as _CBV  # noqa: E402
from cases_piecewise import CASES as _PW  # noqa: E402

CASES = (
    CASES
    + _PW
    + [dataclasses.replace(c, variants=c.variants + _CBV.get(c.id, ())) for c in _CB]
    + _BY
)
