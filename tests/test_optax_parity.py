"""jaxdecay is a drop-in for `optax.schedules`: same names, parameters and values.

Every Optax-compatible constructor is compared with the real Optax on seeded random valid
configurations, in float64 (rtol 1e-6) and in float32. In float32 jaxdecay is sometimes the more
accurate of the two (near the end of a cosine decay, Optax's ``1 + cos`` cancels); there the
comparison allows an absolute error of 1e-6 of the schedule's scale.
"""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxdecay as jd

SEEDS = range(6)


def _u(rng, lo, hi):
    return float(rng.uniform(lo, hi))


def _i(rng, lo, hi):
    return int(rng.integers(lo, hi))


def _warmup_cosine_kwargs(rng):
    w = _i(rng, 0, 60)
    return dict(
        init_value=_u(rng, 0, 0.1),
        peak_value=_u(rng, 0.2, 1.0),
        warmup_steps=w,
        decay_steps=w + _i(rng, 1, 400),
        end_value=_u(rng, 0, 0.1),
        exponent=_u(rng, 0.5, 2.5),
    )


def _exp_kwargs(rng):
    growth = rng.random() < 0.25
    end = None
    if growth:
        rate = _u(rng, 1.01, 1.5)
        end = _u(rng, 1.0, 5.0)
    else:
        rate = _u(rng, 0.05, 0.99)
        if rng.random() < 0.5:
            end = _u(rng, 0.0, 0.01)
    return dict(
        transition_steps=_i(rng, 1, 100),
        decay_rate=rate,
        transition_begin=_i(rng, 0, 50),
        staircase=bool(rng.random() < 0.5),
        end_value=end,
    )


GENERATORS = {
    "constant_schedule": lambda rng: dict(value=_u(rng, -1, 1)),
    "linear_schedule": lambda rng: dict(
        init_value=_u(rng, 0, 1),
        end_value=_u(rng, 0, 1),
        transition_steps=_i(rng, 1, 400),
        transition_begin=_i(rng, 0, 100),
    ),
    "polynomial_schedule": lambda rng: dict(
        init_value=_u(rng, 0, 1),
        end_value=_u(rng, 0, 0.1),
        power=_u(rng, 0.2, 3.0),
        transition_steps=_i(rng, 1, 400),
        transition_begin=_i(rng, 0, 100),
    ),
    "exponential_decay": lambda rng: dict(init_value=_u(rng, 0.01, 1), **_exp_kwargs(rng)),
    "cosine_decay_schedule": lambda rng: dict(
        init_value=_u(rng, 0.01, 1),
        decay_steps=_i(rng, 1, 800),
        alpha=_u(rng, 0, 0.5),
        exponent=_u(rng, 0.5, 3.0),
    ),
    "warmup_constant_schedule": lambda rng: dict(
        init_value=_u(rng, 0, 0.1), peak_value=_u(rng, 0.1, 1), warmup_steps=_i(rng, 1, 200)
    ),
    "warmup_cosine_decay_schedule": _warmup_cosine_kwargs,
    "warmup_exponential_decay_schedule": lambda rng: dict(
        init_value=_u(rng, 0, 0.1),
        peak_value=_u(rng, 0.1, 1),
        warmup_steps=_i(rng, 0, 60),
        **_exp_kwargs(rng),
    ),
    "sgdr_schedule": lambda rng: dict(
        cosine_kwargs=[_warmup_cosine_kwargs(rng) for _ in range(_i(rng, 1, 4))]
    ),
    "linear_onecycle_schedule": lambda rng: dict(
        transition_steps=_i(rng, 20, 800),
        peak_value=_u(rng, 0.1, 2),
        pct_start=_u(rng, 0.1, 0.45),
        pct_final=_u(rng, 0.55, 0.95),
        div_factor=_u(rng, 2, 50),
        final_div_factor=_u(rng, 10, 1e4),
    ),
    "cosine_onecycle_schedule": lambda rng: dict(
        transition_steps=_i(rng, 20, 800),
        peak_value=_u(rng, 0.1, 2),
        pct_start=_u(rng, 0.1, 0.9),
        div_factor=_u(rng, 2, 50),
        final_div_factor=_u(rng, 10, 1e4),
    ),
}


def _counts(rng, kwargs):
    # One fixed shape for every configuration: eager ops compile once for the whole module.
    return np.concatenate([np.arange(0, 2000), rng.integers(2000, 10**6, 48)])


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_same_signature_as_optax(name):
    ours = inspect.signature(getattr(jd, name)).parameters
    theirs = inspect.signature(getattr(optax.schedules, name)).parameters
    assert list(ours) == list(theirs)
    for p in theirs:
        assert ours[p].default == theirs[p].default, p


@pytest.mark.parametrize("name", sorted(GENERATORS))
@pytest.mark.parametrize("seed", SEEDS)
def test_same_values_as_optax(name, seed):
    rng = np.random.default_rng(1000 * seed + sorted(GENERATORS).index(name))
    kwargs = GENERATORS[name](rng)
    t = _counts(rng, kwargs)
    ours_fn = getattr(jd, name)(**kwargs)
    theirs_fn = getattr(optax.schedules, name)(**kwargs)
    with jax.enable_x64(True):
        ours = np.asarray(ours_fn(jnp.asarray(t, jnp.int64)))
        # Optax's interpolating schedules only take scalar counts: vmap them.
        theirs = np.asarray(jax.vmap(theirs_fn)(jnp.asarray(t, jnp.int64)), np.float64)
        theirs = np.broadcast_to(theirs, ours.shape)
    assert ours.dtype == np.float64
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-12, err_msg=str(kwargs))
    ours32 = np.asarray(ours_fn(jnp.asarray(t, jnp.int32)), np.float64)
    theirs32 = np.broadcast_to(
        np.asarray(jax.vmap(theirs_fn)(jnp.asarray(t, jnp.int32)), np.float64), t.shape
    )
    scale = np.max(np.abs(theirs)) + 1e-30
    np.testing.assert_allclose(ours32, theirs32, rtol=1e-5, atol=1e-6 * scale, err_msg=str(kwargs))


def test_where_optax_is_wrong_jaxdecay_is_finite():
    # Optax 0.2.8: NaN under jit past the end of a fractional-power polynomial.
    ours = jax.jit(jd.polynomial_schedule(1.0, 0.01, 0.5, 60))(jnp.arange(55, 70))
    assert np.all(np.isfinite(np.asarray(ours)))
    np.testing.assert_allclose(np.asarray(ours)[5:], 0.01, rtol=1e-6)


@pytest.mark.parametrize(
    "build",
    [
        lambda r: jd.exponential_decay(0.1, 100, r),
        lambda r: jd.cosine_decay_schedule(0.1, 100, alpha=r * 0.1),
        lambda r: jd.polynomial_schedule(1.0, 0.01, r, 60),
        lambda r: jd.warmup_cosine_decay_schedule(0.0, r, 10, 100),
        lambda r: jd.warmup_exponential_decay_schedule(0.0, r, 10, 100, 0.9),
    ],
)
def test_vmap_over_what_optax_refuses(build):
    # Each of these fails in Optax 0.2.8 (Python control flow on a hyperparameter).
    rates = jnp.array([0.9, 0.95, 0.99])
    got = jax.jit(jax.vmap(lambda r: build(r)(250)))(rates)
    want = np.array([float(build(float(r))(250)) for r in rates])
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-6)


def test_vmap_over_step_counts_optax_refuses():
    t = 250
    steps = jnp.array([10, 100, 1000])
    for build in (
        lambda n: jd.exponential_decay(0.1, n, 0.9),
        lambda n: jd.cosine_decay_schedule(0.1, n),
        lambda n: jd.polynomial_schedule(0.1, 0.0, 2.0, n),
        lambda n: jd.warmup_cosine_decay_schedule(0.0, 0.1, n, 2000),
        lambda n: jd.warmup_constant_schedule(0.0, 0.1, n),
    ):
        got = jax.jit(jax.vmap(lambda n, build=build: build(n)(t)))(steps)
        want = np.array([float(build(int(n))(t)) for n in steps])
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-6)
