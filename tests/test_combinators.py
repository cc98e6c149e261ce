"""Combinators: NumPy oracles, warmup continuity, exact floors, plain callables, named errors.

The generic checks of docs/guides/contract.md (eager == jit == vmap, vmap over every numeric
argument, grads, traced zero-length warmup, round trips) run over `cases_combinators.py` in
`test_contract.py`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxdecay as jd

COS = jd.cosine_decay(1.0, 100, end_value=0.1)
T = np.arange(0, 300, dtype=np.int32)


def _cos(t):
    return 0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * np.minimum(t, 100) / 100))


@pytest.mark.parametrize("kind", ["linear", "cosine", "exponential"])
def test_warmup_is_continuous_and_starts_the_schedule_at_its_step_0(kind):
    w = 25
    s = jd.warmup(COS, w, init_value=0.01, kind=kind)
    for fn in (s, jax.jit(s)):
        v = np.asarray(fn(T))
        assert v[0] == pytest.approx(0.01, rel=1e-6)
        # The warmup ends exactly at schedule(0), and the schedule then runs from its step 0.
        assert v[w] == pytest.approx(float(COS(0)), rel=1e-7)
        np.testing.assert_allclose(v[w:], np.asarray(COS(T[w:] - w)), rtol=1e-6)
        # The ramp rises monotonically towards schedule(0): no jump at the end.
        ramp = v[: w + 1]
        assert np.all(np.diff(ramp) > 0)
        if kind == "linear":  # the last ramp step is one ordinary step
            assert v[w] - v[w - 1] == pytest.approx((1.0 - 0.01) / w, rel=1e-5)
    if kind == "exponential":  # geometric: constant ratio between steps
        r = np.asarray(s(T[: w + 1]), np.float64)
        np.testing.assert_allclose(r[1:] / r[:-1], (1.0 / 0.01) ** (1 / w), rtol=1e-4)


def test_warmup_zero_is_no_warmup_and_traced_zero_has_no_nan():
    t = jnp.asarray(T)
    np.testing.assert_allclose(jd.warmup(COS, 0)(t), COS(t), rtol=1e-6)
    f = jax.jit(jax.vmap(lambda w: jd.warmup(COS, w, 0.001, kind="exponential")(t)))
    out = np.asarray(f(jnp.asarray([0, 10])))
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out[0], COS(t), rtol=1e-6)
    g = jax.grad(lambda w: jnp.sum(jd.warmup(COS, w, 0.0)(t.astype(jnp.float32))))
    assert np.isfinite(g(0.0)) and np.isfinite(g(10.0))


def test_warmup_lengths_do_not_include_the_warmup():
    # A 100-step decay after 10 warmup steps ends at count 110 (not 100).
    s = jd.warmup(jd.linear_schedule(1.0, 0.0, 100), 10)
    assert float(s(109)) > 0 and float(s(110)) == 0.0


def test_pointwise_combinators_against_numpy():
    lin = jd.linear_schedule(1.0, 0.0, 200)
    lin_np = 1.0 - np.minimum(T, 200) / 200
    step = jd.step_decay(1.0, 50, 0.5)
    step_np = 0.5 ** np.floor(T / 50)
    checks = [
        (jd.scale(lin, -2.0), -2.0 * lin_np),
        (jd.multiply(lin, step, COS), lin_np * step_np * _cos(T)),
        (jd.add(lin, step), lin_np + step_np),
        (jd.add(lin), lin_np),
        (jd.clip(lin, min_value=0.2), np.maximum(lin_np, 0.2)),
        (jd.clip(lin, max_value=0.7), np.minimum(lin_np, 0.7)),
        (jd.clip(lin, 0.2, 0.7), np.clip(lin_np, 0.2, 0.7)),
        (jd.clip(lin), lin_np),
        (jd.shift(COS, 30), _cos(np.maximum(T - 30, 0))),
        (jd.shift(COS, -30), _cos(T + 30)),
        (jd.repeat(COS, 70), _cos(T % 70)),
        (jd.per_epoch(step, 3), 0.5 ** np.floor(np.floor(T / 3) / 50)),
        (jd.stretch(COS, 2.5), _cos(T / 2.5)),
        (jd.stretch(COS, 0.5), _cos(T / 0.5)),
    ]
    for s, want in checks:
        np.testing.assert_allclose(s(T), want, rtol=2e-6, atol=1e-7, err_msg=repr(s))
        np.testing.assert_allclose(jax.jit(s)(T), want, rtol=2e-6, atol=1e-7, err_msg=repr(s))


def test_floors_are_exact_at_every_boundary_under_jit():
    inner = jd.step_decay(1.0, 1, 0.5)  # halves at every count: exposes any off-by-one
    for s, p in ((jd.per_epoch(inner, 7), 7), (jd.stretch(inner, 7.0), 7)):
        t = jnp.asarray([p * k + d for k in (1, 3, 100, 10**4) for d in (-1, 0, 1)])
        got = np.asarray(jax.jit(s)(t.astype(jnp.float32)))
        want = 0.5 ** np.floor(np.asarray(t) / p)
        np.testing.assert_array_equal(got, want.astype(np.float32))
    r = jd.repeat(jd.piecewise_constant(list(range(1, 7)), [float(i) for i in range(7)]), 7)
    big = jnp.asarray([10**9 - 1, 10**9, 2**31 - 1], jnp.int32)
    np.testing.assert_array_equal(jax.jit(r)(big), np.asarray(big) % 7)


def test_traced_numeric_arguments():
    t = jnp.arange(50)
    for make, xs in (
        (lambda x: jd.repeat(COS, x), [5, 13]),
        (lambda x: jd.per_epoch(COS, x), [1, 4]),
        (lambda x: jd.stretch(COS, x), [0.5, 2.0]),
        (lambda x: jd.scale(COS, x), [0.5, 2.0]),
        (lambda x: jd.shift(COS, x), [0, 7]),
        (lambda x: jd.clip(COS, min_value=x), [0.2, 0.9]),
        (lambda x: jd.warmup(COS, x), [0, 9]),
    ):
        batched = jax.jit(jax.vmap(lambda x, make=make: make(x)(t)))(jnp.asarray(xs))
        for i, x in enumerate(xs):
            np.testing.assert_allclose(batched[i], make(x)(t), rtol=2e-6)


def test_plain_callables_are_accepted_but_have_no_config():
    s = jd.warmup(optax.cosine_decay_schedule(0.1, 100), 10)
    np.testing.assert_allclose(
        s(jnp.arange(10, 20)), optax.cosine_decay_schedule(0.1, 100)(jnp.arange(10)), rtol=1e-6
    )
    np.testing.assert_allclose(
        jd.multiply(lambda t: 2.0 * jnp.ones_like(t), COS)(T), 2 * _cos(T), rtol=2e-6
    )
    with pytest.raises(TypeError, match="plain function"):
        jd.to_config(s)
    assert "<schedule>" in repr(s)


BAD = [
    (lambda: jd.warmup(COS, -1), ValueError, "`warmup_steps` must be >= 0, got -1"),
    (lambda: jd.warmup(COS, float("nan")), ValueError, "`warmup_steps` must not be NaN"),
    (lambda: jd.warmup(COS, 10, kind="quadratic"), ValueError, "`kind` must be one of"),
    (lambda: jd.warmup(COS, 10, kind="exponential"), ValueError, "`init_value` must be > 0"),
    (
        lambda: jd.warmup(jd.linear_schedule(0.0, 1.0, 10), 10, 0.1, kind="exponential"),
        ValueError,
        "`schedule\\(0\\)` > 0",
    ),
    (lambda: jd.warmup(0.1, 10), TypeError, "`schedule` must be a schedule"),
    (lambda: jd.scale(COS, float("inf")), ValueError, "`factor` must be finite"),
    (lambda: jd.scale(COS, "2"), TypeError, "`factor`"),
    (lambda: jd.multiply(), ValueError, "`schedules` must hold at least 1"),
    (lambda: jd.add(COS, 0.1), TypeError, "`schedules\\[1\\]` must be a schedule"),
    (lambda: jd.clip(COS, 0.5, 0.1), ValueError, "`min_value` must be <= `max_value`"),
    (lambda: jd.clip(COS, min_value=float("nan")), ValueError, "`min_value` must not be NaN"),
    (lambda: jd.shift(COS, float("nan")), ValueError, "`steps` must not be NaN"),
    (lambda: jd.repeat(COS, 0), ValueError, "`period` must be > 0, got 0"),
    (lambda: jd.per_epoch(COS, -5), ValueError, "`steps_per_epoch` must be > 0, got -5"),
    (lambda: jd.stretch(COS, 0.0), ValueError, "`factor` must be > 0, got 0.0"),
]


@pytest.mark.parametrize("make,exc,match", BAD, ids=[str(i) for i in range(len(BAD))])
def test_invalid_arguments_are_named(make, exc, match):
    with pytest.raises(exc, match=match):
        make()
