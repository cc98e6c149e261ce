"""Contract-test cases for the combinators (joined into `cases.CASES` at the end of `cases.py`;
import `cases` first, never this module alone). Their formulas: docs/guides/schedules.md.

The wrapped schedules are fixed per case, each paired with its own float64 NumPy formula; the
sweeps cover the combinator's numeric arguments.
"""

from __future__ import annotations

import numpy as np
from cases import Case, Variant, multiples_near

import jaxdecay as jd


def _cos(t, init=1.0, steps=100, end=0.1):
    return end + (init - end) * 0.5 * (1 + np.cos(np.pi * np.minimum(t, steps) / steps))


def _lin(t, a=1.0, b=0.1, n=10):
    return a + (b - a) * np.clip(t, 0, n) / n


def _step(t, init=1.0, size=10, gamma=0.5):
    return init * gamma ** np.floor(t / size)


COS = jd.cosine_decay(1.0, 100, end_value=0.1)
LIN = jd.linear_schedule(1.0, 0.1, 10)
STEP = jd.step_decay(1.0, 10, 0.5)


def _warmup(t, schedule, warmup_steps, init_value=0.0, kind="linear"):
    w = float(warmup_steps)
    peak = _cos(0.0)
    p = np.clip(t / w, 0, 1) if w > 0 else np.ones_like(t)
    if kind == "linear":
        ramp = init_value + (peak - init_value) * p
    elif kind == "cosine":
        ramp = init_value + (peak - init_value) * 0.5 * (1 - np.cos(np.pi * p))
    else:
        ramp = init_value * (peak / init_value) ** p
    return np.where(t < w, ramp, _cos(np.maximum(t - w, 0)))


def _multiply(schedules):
    return jd.multiply(*schedules)


def _add(schedules):
    return jd.add(*schedules)


CASES: list[Case] = [
    Case(
        "warmup_linear",
        jd.warmup,
        dict(schedule=COS, warmup_steps=10, init_value=0.01),
        _warmup,
        sweeps={"warmup_steps": [1, 50], "init_value": [0.0, 0.5]},
        grads=("init_value",),
        counts=(5, 9, 10, 11, 109, 110, 111),
        zero_ok=("warmup_steps",),
    ),
    Case(
        "warmup_cosine",
        jd.warmup,
        dict(schedule=COS, warmup_steps=20, init_value=0.1, kind="cosine"),
        _warmup,
        sweeps={"warmup_steps": [3, 7]},
        grads=("init_value",),
        counts=(10, 19, 20, 21, 119, 120, 121),
        zero_ok=("warmup_steps",),
    ),
    Case(
        "warmup_exponential",
        jd.warmup,
        dict(schedule=COS, warmup_steps=10, init_value=0.001, kind="exponential"),
        _warmup,
        sweeps={"warmup_steps": [1, 30], "init_value": [0.1]},
        grads=("init_value",),
        counts=(5, 9, 10, 11, 109, 110, 111),
        zero_ok=("warmup_steps",),
    ),
    Case(
        "scale",
        jd.scale,
        dict(schedule=STEP, factor=3.0),
        lambda t, schedule, factor: factor * _step(t),
        sweeps={"factor": [0.5, -1.0]},
        grads=("factor",),
        counts=(9, 10, 11),
    ),
    Case(
        "multiply",
        _multiply,
        dict(schedules=[COS, LIN, STEP]),
        lambda t, schedules: _cos(t) * _lin(t) * _step(t),
        counts=(9, 10, 11, 99, 100, 101),
    ),
    Case(
        "add",
        _add,
        dict(schedules=[COS, STEP]),
        lambda t, schedules: _cos(t) + _step(t),
        counts=(9, 10, 11, 99, 100, 101),
    ),
    Case(
        "clip",
        jd.clip,
        dict(schedule=jd.linear_schedule(1.0, 0.0, 100), min_value=0.215, max_value=0.805),
        lambda t, schedule, min_value=None, max_value=None: np.clip(
            1.0 - np.clip(t, 0, 100) / 100, min_value, max_value
        ),
        sweeps={"min_value": [0.0, 0.5], "max_value": [0.9, 1.0]},
        grads=("min_value", "max_value"),
        counts=(19, 20, 21, 78, 79, 80, 81),
    ),
    Case(
        "shift",
        jd.shift,
        dict(schedule=COS, steps=20),
        lambda t, schedule, steps: _cos(np.maximum(t - steps, 0)),
        sweeps={"steps": [0, 5, -10]},
        counts=(19, 20, 21, 119, 120, 121),
        zero_ok=("steps",),
    ),
    Case(
        "repeat",
        jd.repeat,
        dict(schedule=LIN, period=15),
        lambda t, schedule, period: _lin(np.mod(t, period)),
        sweeps={"period": [1, 7, 100]},
        counts=(14, 15, 16, 29, 30, 31),
    ),
    Case(
        "per_epoch",
        jd.per_epoch,
        dict(schedule=STEP, steps_per_epoch=100),
        lambda t, schedule, steps_per_epoch: _step(np.floor(t / steps_per_epoch)),
        sweeps={"steps_per_epoch": [1, 7, 1000]},
        counts=(99, 100, 101, 999, 1000, 1001),
    ),
    Case(
        "stretch_staircase",
        jd.stretch,
        dict(schedule=STEP, factor=3.0),
        lambda t, schedule, factor: _step(t / factor),
        sweeps={"factor": [0.5, 1.0, 7.0]},
        counts=(29, 30, 31, 59, 60, 61, 209, 210, 211),
    ),
    Case(
        "stretch_smooth",
        jd.stretch,
        dict(schedule=COS, factor=2.5),
        lambda t, schedule, factor: _cos(t / factor),
        sweeps={"factor": [0.3, 10.0]},
        grads=("factor",),
        counts=(100, 249, 250, 251),
    ),
]


# Argument sets and breakpoints (issue 10): float step arguments, periods that are not powers of
# two, phases past 2**24 and near 2**31.
_B = 2**30
VARIANTS: dict[str, tuple[Variant, ...]] = {
    "warmup_linear": (
        Variant(dict(warmup_steps=10.0), (10, 110)),
        Variant(dict(warmup_steps=_B + 7), (_B + 7, _B + 107)),
        Variant(dict(warmup_steps=100000, init_value=0.0), (1, 100000)),
    ),
    "shift": (
        Variant(dict(steps=20.0), (20, 120)),
        Variant(dict(steps=_B + 7), (_B + 7, _B + 107)),
        Variant(dict(steps=-(2**31 - 1)), (), oracle=False),
    ),
    "repeat": (
        Variant(dict(period=7.0), (7, 14) + multiples_near(7, k=3)),
        Variant(dict(period=15), multiples_near(15, k=3)),
        Variant(dict(period=_B + 3), (_B + 3,)),
    ),
    "per_epoch": (
        Variant(dict(steps_per_epoch=100.0), (100, 1000)),
        Variant(dict(steps_per_epoch=7), multiples_near(7, k=3)),
    ),
    "stretch_staircase": (Variant(dict(factor=7.0), (70, 140)),),
}
