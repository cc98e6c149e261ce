"""Counts beyond int32 under ``jax_enable_x64``: the limit on count-valued arguments follows the
count dtype (int32 counts: ``< 2**31``; int64 counts under x64: ``< 2**63``), and every schedule
with a phase length or boundary far beyond ``2**31`` matches its float64 oracle near ``2**40``.

The cases are those of `tests/cases.py`, with every count-valued argument (the ``steps`` a
constructor declares to `jaxdecay._validate.scalar_arguments`) and every boundary list scaled by
``2**33``: the breakpoints move from ``c`` to ``c * 2**33``, which the oracles compute exactly in
float64 (integers up to ``2**53``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from cases import CASES, Case

import jaxdecay as jd
from jaxdecay._core import registered

SCALE = 2**33
BOUNDARY_LISTS = ("boundaries", "milestones")


def _scaled(case: Case) -> tuple[dict, list[str]]:
    """The case's kwargs with its count-valued arguments times `SCALE`, and their names."""
    steps = getattr(registered(case.factory(**case.kwargs).name).builder, "step_arguments", ())
    kwargs, changed = dict(case.kwargs), []
    for k, v in case.kwargs.items():
        if v is None or isinstance(v, bool) or callable(v):
            continue
        if k in steps and np.ndim(v) == 0:
            kwargs[k] = v * SCALE
        elif k in BOUNDARY_LISTS:
            kwargs[k] = [b * SCALE for b in v] if isinstance(v, list) else np.asarray(v) * SCALE
        elif k == "boundaries_and_scales" and v:
            kwargs[k] = {b * SCALE: x for b, x in v.items()}
        else:
            continue
        changed.append(k)
    return kwargs, changed


SCALED = [c for c in CASES if _scaled(c)[1]]


def test_the_scaled_cases_cover_every_family():
    # Every constructor that takes a count-valued argument is among them (combinators of other
    # schedules without one, such as `scale`, have no phase of their own).
    names = {c.factory(**c.kwargs).name for c in SCALED}
    for name in ("cosine_decay", "warmup_stable_decay", "piecewise_constant", "cosine_restarts"):
        assert name in names
    assert len(SCALED) >= 45, len(SCALED)


@pytest.mark.parametrize("case", SCALED, ids=[c.id for c in SCALED])
def test_values_near_2_40_match_the_float64_oracle(case):
    with jax.enable_x64(True):
        kwargs, _ = _scaled(case)
        s = case.factory(**kwargs)
        breaks = [c for c in case.counts if c >= 1] or [1]
        t = np.unique(
            np.concatenate(
                [[0, 1, 2**40, 2**41 + 3], *[[c * SCALE + d for d in (-1, 0, 1)] for c in breaks]]
            )
        )
        t = t[(t >= 0) & (t < 2**53)]
        with np.errstate(divide="ignore", invalid="ignore"):  # branches np.where drops
            want = np.asarray(case.oracle(t.astype(np.float64), **kwargs), np.float64)
        atol = 1e-12 * max(1.0, float(np.max(np.abs(want))))
        for dtype in (jnp.int64, jnp.float64):
            tj = jnp.asarray(t, dtype)
            eager = s(tj)
            assert eager.dtype == jnp.float64
            np.testing.assert_allclose(np.asarray(eager), want, rtol=1e-9, atol=atol)
            np.testing.assert_allclose(np.asarray(jax.jit(s)(tj)), want, rtol=1e-9, atol=atol)


def test_optax_giant_int_steps_under_x64():
    # Optax's own `test_with_giant_int_steps`, against Optax and the formula.
    with jax.enable_x64(True):
        mine = jax.jit(jd.cosine_decay_schedule(1000.0, int(1e10), alpha=0.0, exponent=1))
        theirs = jax.jit(optax.cosine_decay_schedule(1000.0, int(1e10), alpha=0.0, exponent=1))
        for t in (int(1e9), 2**40 // 100, int(1e10) - 1, int(1e10), int(1e10) + 1):
            want = 1000.0 * 0.5 * (1 + np.cos(np.pi * min(t, 1e10) / 1e10))
            np.testing.assert_allclose(float(mine(t)), want, rtol=1e-12, atol=1e-9)
            np.testing.assert_allclose(float(mine(t)), float(theirs(t)), rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(float(mine(int(1e9))), 975.52826, rtol=1e-7)


def test_the_limit_follows_the_count_dtype():
    with pytest.raises(ValueError, match=r"`decay_steps` must be < 2\*\*31 .*int32.*10000000000"):
        jd.cosine_decay(1.0, 10_000_000_000)
    with jax.enable_x64(True):
        assert float(jd.cosine_decay(1.0, 10_000_000_000)(5_000_000_000)) == pytest.approx(0.5)
        with pytest.raises(ValueError, match=r"`decay_steps` must be < 2\*\*63 .*int64"):
            jd.cosine_decay(1.0, 2**63)
        with pytest.raises(ValueError, match=r"`warmup_steps` must be < 2\*\*63"):
            jd.warmup_stable_decay(1.0, warmup_steps=2.0**63, stable_steps=1, decay_steps=1)
        jd.warmup_stable_decay(1.0, warmup_steps=2**62, stable_steps=1, decay_steps=1)


def test_a_long_schedule_built_under_x64_refuses_int32_counts():
    with jax.enable_x64(True):
        s = jd.warmup(jd.cosine_decay(1.0, 2**35), warmup_steps=10)
        short = jd.cosine_decay(1.0, 2**30)
    for call in (s, jax.jit(s)):
        with pytest.raises(ValueError, match=r"`decay_steps`=34359738368 needs int64 counts"):
            call(5)
    # A schedule whose phases fit int32 runs either way.
    np.testing.assert_allclose(float(short(2**29)), 0.5, rtol=1e-6)
