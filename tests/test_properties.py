"""Property tests (hypothesis): random valid hyperparameters and counts.

Every schedule stays finite and inside the range its formula allows, decays monotonically where
it should, and agrees with its float64 NumPy oracle (from `tests/cases.py`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from cases import (
    _cosine_decay,
    _cyclic,
    _expo,
    _one_cycle,
    _polynomial_decay,
    _step_decay,
    _wsd,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jaxdecay as jd

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
counts = st.lists(st.integers(0, 2**31 - 1), min_size=16, max_size=16)
small_counts = st.lists(st.integers(0, 5000), min_size=16, max_size=16)
value = st.floats(1e-4, 10.0)
frac = st.floats(0.0, 1.0)
steps = st.integers(1, 2000)


def _eval(s, t):
    out = np.asarray(s(jnp.asarray(sorted(t), jnp.int32)), np.float64)
    assert np.all(np.isfinite(out))
    return out


def _check_oracle(s, fn, t, **kw):
    """float64 evaluation (x64) against the float64 oracle: no float32 rounding of parameters."""
    with jax.enable_x64(True):
        got = np.asarray(s(jnp.asarray(sorted(t), jnp.int64)))
    assert got.dtype == np.float64
    with np.errstate(all="ignore"):
        want = fn(np.asarray(sorted(t), np.float64), **kw)
    scale = max(np.max(np.abs(want)), 1e-300)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12 * scale)


@SETTINGS
@given(value, steps, st.floats(0.01, 0.999), st.booleans(), counts)
def test_exponential_decay_decreases_within_bounds(init, n, rate, staircase, t):
    s = jd.exponential_decay(init, n, rate, staircase=staircase)
    out = _eval(s, t)
    assert np.all(np.diff(out) <= 1e-7 * init)
    assert np.all((out >= 0) & (out <= init * (1 + 1e-6)))
    _check_oracle(
        s, _expo, t, init_value=init, transition_steps=n, decay_rate=rate, staircase=staircase
    )


@SETTINGS
@given(value, steps, frac, st.floats(0.1, 3.0), counts)
def test_cosine_decay_decreases_from_init_to_end(init, n, end_frac, exponent, t):
    end = init * end_frac
    s = jd.cosine_decay(init, n, end, exponent)
    out = _eval(s, t)
    assert np.all(np.diff(out) <= 1e-6 * init)
    assert np.all((out >= end - 1e-6 * init) & (out <= init * (1 + 1e-6)))
    _check_oracle(
        s, _cosine_decay, t, init_value=init, decay_steps=n, end_value=end, exponent=exponent
    )


@SETTINGS
@given(value, steps, frac, counts)
def test_step_decay_is_exact_staircase(init, size, gamma, t):
    s = jd.step_decay(init, size, gamma)
    _eval(s, t)
    _check_oracle(s, _step_decay, t, init_value=init, step_size=size, gamma=gamma)


@SETTINGS
@given(value, steps, st.floats(0.1, 3.0), frac, small_counts)
def test_polynomial_decay_cycle_stays_between_end_and_init(init, n, power, end_frac, t):
    end = init * end_frac
    s = jd.polynomial_decay(init, n, power, end, cycle=True)
    out = _eval(s, t)
    assert np.all((out >= end - 1e-6 * init) & (out <= init * (1 + 1e-6)))
    _check_oracle(
        s,
        _polynomial_decay,
        t,
        init_value=init,
        decay_steps=n,
        power=power,
        end_value=end,
        cycle=True,
    )


@SETTINGS
@given(
    value,
    value,
    st.integers(1, 500),
    st.integers(0, 500),
    st.sampled_from(["triangular", "triangular2", "exp_range"]),
    st.floats(0.9, 1.0),
    small_counts,
)
def test_cyclic_stays_between_base_and_max(base, peak, up, down, mode, gamma, t):
    s = jd.cyclic(base, peak, up, down, mode=mode, gamma=gamma)
    out = _eval(s, t)
    lo, hi = min(base, peak), max(base, peak)
    assert np.all((out >= lo * (1 - 1e-6)) & (out <= hi * (1 + 1e-6)))
    _check_oracle(
        s,
        _cyclic,
        t,
        base_value=base,
        max_value=peak,
        step_size_up=up,
        step_size_down=down,
        mode=mode,
        gamma=gamma,
    )


@SETTINGS
@given(
    value,
    st.integers(10, 3000),
    st.floats(0.05, 0.45),
    st.booleans(),
    st.sampled_from(["cos", "linear"]),
    small_counts,
)
def test_one_cycle_within_final_and_max(peak, n, pct, three, strategy, t):
    s = jd.one_cycle(peak, n, pct_start=pct, anneal_strategy=strategy, three_phase=three)
    out = _eval(s, t)
    assert np.all((out >= 0) & (out <= peak * (1 + 1e-6)))
    _check_oracle(
        s,
        _one_cycle,
        t,
        max_value=peak,
        total_steps=n,
        pct_start=pct,
        anneal_strategy=strategy,
        three_phase=three,
    )


@SETTINGS
@given(
    value,
    st.integers(0, 300),
    st.integers(0, 300),
    st.integers(0, 300),
    st.sampled_from(["linear", "cosine", "sqrt"]),
    small_counts,
)
def test_warmup_stable_decay_within_bounds(peak, w, s_, d, kind, t):
    s = jd.warmup_stable_decay(peak, w, s_, d, decay_type=kind)
    out = _eval(s, t)
    assert np.all((out >= 0) & (out <= peak * (1 + 1e-6)))
    _check_oracle(
        s, _wsd, t, peak_value=peak, warmup_steps=w, stable_steps=s_, decay_steps=d, decay_type=kind
    )
