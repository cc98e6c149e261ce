"""Contract-test cases for `jaxdecay.replan`, in the format of `cases.py`.

`replan` is described in docs/guides/beyond_optax.md.

To join the contract tests, `cases.py` imports this module at its end, like the other case
modules (`from cases_beyond import CASES as _BY`; `CASES = CASES + _PW + _CB + _BY`).
"""

from __future__ import annotations

import numpy as np
from cases import Case

import jaxdecay as jd

COS = jd.cosine_decay(1.0, 100, end_value=0.1)
PIECES = jd.piecewise_constant([10, 25, 100], [1.0, 0.5, 0.2, 0.01])
EXPO = jd.exponential_decay(1.0, 10, 0.5)


def _cos(t):
    return 0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * np.minimum(t, 100) / 100))


def _pieces(t):
    return np.asarray([1.0, 0.5, 0.2, 0.01])[np.searchsorted([10, 25, 100], t, side="right")]


def _expo(t):
    return 0.5 ** (t / 10)


def _warp(f, horizon):
    """The float64 oracle of `replan(f, a, N, old_end=H)` (docs/guides/beyond_optax.md)."""

    def oracle(t, schedule, at_count, new_end, old_end=None):
        a, n = float(at_count), float(new_end)
        h = max(float(horizon if old_end is None else old_end), a)
        left = np.clip((n - t) / (n - a), 0, 1) if n > a else np.zeros_like(t)
        return np.where(t <= a, f(t), f(h - left * (h - a)))

    return oracle


CASES: list[Case] = [
    Case(
        "replan_longer",
        jd.replan,
        dict(schedule=COS, at_count=40, new_end=160),
        _warp(_cos, 100),
        sweeps={"at_count": [0, 10, 100, 150], "new_end": [41, 70, 1000]},
        counts=(39, 40, 41, 100, 159, 160, 161),
        zero_ok=("at_count",),
    ),
    Case(
        "replan_shorter_staircase",
        jd.replan,
        dict(schedule=PIECES, at_count=30, new_end=60),
        _warp(_pieces, 100),
        sweeps={"at_count": [5, 25], "new_end": [31, 500]},
        counts=(29, 30, 31, 44, 45, 46, 59, 60, 61),
        zero_ok=("at_count",),
    ),
    Case(
        "replan_old_end",
        jd.replan,
        dict(schedule=EXPO, at_count=20, new_end=100, old_end=50),
        _warp(_expo, None),
        sweeps={"old_end": [20, 80], "new_end": [30, 200]},
        counts=(19, 20, 21, 99, 100, 101),
        zero_ok=("at_count",),
    ),
]
