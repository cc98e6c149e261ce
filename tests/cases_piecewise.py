"""Contract-test cases for the piecewise schedules and `join_schedules` (joined into
`cases.CASES` at the end of `cases.py`; import `cases` first, never this module alone).

Oracles are float64 NumPy, written from docs/guides/schedules.md and Optax/PyTorch semantics.
"""

from __future__ import annotations

import numpy as np
from cases import Case

import jaxdecay as jd


def _pc(t, boundaries, values):
    b = np.asarray(boundaries, np.float64)
    return np.asarray(values, np.float64)[np.searchsorted(b, t, side="right")]


def _pl(t, boundaries, values):
    return np.interp(t, np.asarray(boundaries, np.float64), np.asarray(values, np.float64))


def _multistep(t, init_value, milestones, gamma=0.1):
    m = np.asarray(milestones, np.float64)
    k = (m[None, :] <= np.asarray(t)[..., None]).sum(-1)
    return init_value * float(gamma) ** k


def _pcs(t, init_value, boundaries_and_scales=None):
    v = np.full(np.shape(t), float(init_value))
    for b, s in sorted((float(k), s) for k, s in (boundaries_and_scales or {}).items()):
        v = np.where(t >= b, v * s, v)
    return v


def _pis(t, interpolate_type, init_value, boundaries_and_scales=None):
    # optax.piecewise_interpolate_schedule, float64.
    items = sorted((float(k), s) for k, s in (boundaries_and_scales or {}).items())
    bounds = np.asarray([0.0] + [b for b, _ in items])
    values = np.cumprod([float(init_value)] + [s for _, s in items])
    out = np.full(np.shape(t), values[-1])
    for i in range(len(bounds) - 1):
        size = max(bounds[i + 1] - bounds[i], 1.0)
        pct = (t - bounds[i]) / size
        a, b = values[i], values[i + 1]
        if interpolate_type == "linear":
            v = a + (b - a) * pct
        else:
            v = b + (a - b) / 2 * (np.cos(np.pi * pct) + 1)
        out = np.where((t >= bounds[i]) & (t < bounds[i + 1]), v, out)
    return out


# Pieces of the join case, each with its float64 oracle.
def _lin(t, a, b, n):
    return a + (b - a) * np.clip(t, 0, n) / n


def _cos(t, init, steps, end):
    return end + (init - end) * 0.5 * (1 + np.cos(np.pi * np.minimum(t, steps) / steps))


_JOIN_PIECES = [
    (jd.linear_schedule(0.0, 1.0, 10), lambda t: _lin(t, 0.0, 1.0, 10)),
    (jd.cosine_decay(1.0, 50, end_value=0.1), lambda t: _cos(t, 1.0, 50, 0.1)),
    (jd.constant_schedule(0.05), lambda t: np.full(np.shape(t), 0.05)),
]


def _join(t, schedules, boundaries):
    fns = [f for _, f in _JOIN_PIECES]
    b = [0.0, *np.asarray(boundaries, np.float64)]
    out = fns[0](t)
    for i in range(1, len(fns)):
        out = np.where(t >= b[i], fns[i](t - b[i]), out)
    return out


_MANY = list(range(7, 200, 6))  # 33 milestones: the bucket-index path

CASES: list[Case] = [
    Case(
        "piecewise_constant",
        jd.piecewise_constant,
        dict(boundaries=[10, 25, 100], values=[1.0, 0.5, 0.2, 0.01]),
        _pc,
        sweeps={"boundaries": [[5, 30, 31], [0, 1, 2]], "values": [[2.0, 1.0, 0.5, 0.1]]},
        counts=(9, 10, 11, 24, 25, 26, 99, 100, 101),
    ),
    Case(
        "piecewise_constant_many",
        jd.piecewise_constant,
        dict(boundaries=_MANY, values=[0.99**i for i in range(len(_MANY) + 1)]),
        _pc,
        sweeps={"boundaries": [[b + 1 for b in _MANY]]},
        counts=(6, 7, 8, 100, 102, 103, 193, 194, 195),
    ),
    Case(
        "piecewise_linear",
        jd.piecewise_linear,
        dict(boundaries=[0, 10, 50], values=[0.0, 1.0, 0.1]),
        _pl,
        sweeps={"boundaries": [[0, 5, 100], [2, 3, 4]], "values": [[1.0, 0.5, 0.0]]},
        counts=(5, 9, 10, 11, 30, 49, 50, 51),
    ),
    Case(
        "piecewise_linear_many",
        jd.piecewise_linear,
        dict(boundaries=_MANY, values=[np.sin(i / 3.0) + 1.5 for i in range(len(_MANY))]),
        _pl,
        counts=(6, 7, 8, 10, 100, 101, 193, 194, 195),
    ),
    Case(
        "multistep_decay",
        jd.multistep_decay,
        dict(init_value=0.5, milestones=[30, 10, 30, 60], gamma=0.5),
        _multistep,
        sweeps={
            "gamma": [0.1, 0.9],
            "init_value": [1.0],
            "milestones": [[1, 2, 3, 3], [100, 0, 50, 20]],
        },
        grads=("init_value", "gamma"),
        counts=(9, 10, 11, 29, 30, 31, 59, 60, 61),
    ),
    Case(
        "multistep_decay_many",
        jd.multistep_decay,
        dict(init_value=0.5, milestones=_MANY[::-1], gamma=0.95),
        _multistep,
        sweeps={"gamma": [0.5]},
        grads=("init_value", "gamma"),
        counts=(6, 7, 8, 100, 102, 103, 193, 194, 195),
    ),
    Case(
        "piecewise_constant_schedule",
        jd.piecewise_constant_schedule,
        dict(init_value=0.1, boundaries_and_scales={20: 0.5, 5: 2.0, 60: 0.1}),
        _pcs,
        sweeps={"init_value": [1.0, 0.0]},
        grads=("init_value",),
        counts=(4, 5, 6, 19, 20, 21, 59, 60, 61),
    ),
    Case(
        "piecewise_interpolate_linear",
        jd.piecewise_interpolate_schedule,
        dict(
            interpolate_type="linear",
            init_value=1.0,
            boundaries_and_scales={10: 0.5, 30: 0.1, 31: 2.0},
        ),
        _pis,
        sweeps={"init_value": [0.1]},
        grads=("init_value",),
        counts=(5, 9, 10, 11, 20, 29, 30, 31, 32),
    ),
    Case(
        "piecewise_interpolate_cosine",
        jd.piecewise_interpolate_schedule,
        dict(interpolate_type="cosine", init_value=0.5, boundaries_and_scales={0: 2.0, 40: 0.01}),
        _pis,
        sweeps={"init_value": [1.0]},
        grads=("init_value",),
        counts=(1, 10, 20, 39, 40, 41),
    ),
    Case(
        "join_schedules",
        jd.join_schedules,
        dict(schedules=[s for s, _ in _JOIN_PIECES], boundaries=[10, 60]),
        _join,
        sweeps={"boundaries": [[5, 100], [0, 1], [20, 21]]},
        counts=(9, 10, 11, 35, 59, 60, 61),
    ),
]
