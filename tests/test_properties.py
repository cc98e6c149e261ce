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
# No fractions near the subnormal range (of float32 or float64): XLA flushes subnormal results to
# zero on some paths and not on others, so an end value of 6e-39 comes back as 0 or 6e-39 (not a
# property of the schedules).
frac = st.one_of(st.just(0.0), st.floats(1e-30, 1.0))
steps = st.integers(1, 2000)


count_dtypes = st.sampled_from([jnp.int32, jnp.float32, jnp.bfloat16, jnp.float16])


def _eval(s, t, count_dtype=jnp.int32, scale=None):
    """Values at the sorted counts ``t`` (int32), finite; for another drawn count dtype, also
    finite there and equal (eager and jit) to the int32 values at the counts that dtype holds.

    ``scale``: the schedule's scale (its peak), for the absolute tolerance (float32 parity to
    1e-6 of the scale, docs/guides/differences.md); by default 1e-7 of the largest value
    compared."""
    t = np.asarray(sorted(t), np.int64)
    out = np.asarray(s(jnp.asarray(t, jnp.int32)), np.float64)
    assert np.all(np.isfinite(out))
    if count_dtype != jnp.int32:
        held = np.minimum(t, 65504) if count_dtype == jnp.float16 else t
        tc = jnp.asarray(held.astype(np.float64), count_dtype)
        rounded = np.asarray(tc, np.float64)
        # The same counts as int32 (2**31 itself, float32's rounding of 2**31 - 1, as 2**31 - 1).
        as_int = jnp.asarray(np.minimum(rounded, 2**31 - 1).astype(np.int64), jnp.int32)
        want = np.asarray(s(as_int), np.float64)
        exact = rounded <= 2**31 - 1
        for got in (s(tc), jax.jit(s)(tc)):
            got = np.asarray(got, np.float64)
            assert np.all(np.isfinite(got))
            # atol at least float32's smallest normal: a product of normal values can still
            # underflow to a subnormal, which XLA flushes to zero on some paths only.
            atol = 1e-7 * np.max(np.abs(want)) if scale is None else 1e-6 * abs(scale)
            atol = max(atol, float(np.finfo(np.float32).tiny))
            np.testing.assert_allclose(got[exact], want[exact], rtol=2e-5, atol=atol)
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
@given(value, steps, st.floats(0.01, 0.999), st.booleans(), counts, count_dtypes)
def test_exponential_decay_decreases_within_bounds(init, n, rate, staircase, t, cdt):
    s = jd.exponential_decay(init, n, rate, staircase=staircase)
    out = _eval(s, t, cdt)
    assert np.all(np.diff(out) <= 1e-7 * init)
    assert np.all((out >= 0) & (out <= init * (1 + 1e-6)))
    _check_oracle(
        s, _expo, t, init_value=init, transition_steps=n, decay_rate=rate, staircase=staircase
    )


@SETTINGS
@given(value, steps, frac, st.floats(0.1, 3.0), counts, count_dtypes)
def test_cosine_decay_decreases_from_init_to_end(init, n, end_frac, exponent, t, cdt):
    end = init * end_frac
    s = jd.cosine_decay(init, n, end, exponent)
    out = _eval(s, t, cdt)
    assert np.all(np.diff(out) <= 1e-6 * init)
    assert np.all((out >= end - 1e-6 * init) & (out <= init * (1 + 1e-6)))
    _check_oracle(
        s, _cosine_decay, t, init_value=init, decay_steps=n, end_value=end, exponent=exponent
    )


@SETTINGS
@given(value, steps, frac, counts, count_dtypes)
def test_step_decay_is_exact_staircase(init, size, gamma, t, cdt):
    s = jd.step_decay(init, size, gamma)
    _eval(s, t, cdt)
    _check_oracle(s, _step_decay, t, init_value=init, step_size=size, gamma=gamma)


@SETTINGS
@given(value, steps, st.floats(0.1, 3.0), frac, small_counts, count_dtypes)
def test_polynomial_decay_cycle_stays_between_end_and_init(init, n, power, end_frac, t, cdt):
    end = init * end_frac
    s = jd.polynomial_decay(init, n, power, end, cycle=True)
    out = _eval(s, t, cdt)
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
    count_dtypes,
)
def test_cyclic_stays_between_base_and_max(base, peak, up, down, mode, gamma, t, cdt):
    s = jd.cyclic(base, peak, up, down, mode=mode, gamma=gamma)
    out = _eval(s, t, cdt)
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
    count_dtypes,
)
def test_one_cycle_within_final_and_max(peak, n, pct, three, strategy, t, cdt):
    s = jd.one_cycle(peak, n, pct_start=pct, anneal_strategy=strategy, three_phase=three)
    out = _eval(s, t, cdt)
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
    count_dtypes,
)
def test_warmup_stable_decay_within_bounds(peak, w, s_, d, kind, t, cdt):
    s = jd.warmup_stable_decay(peak, w, s_, d, decay_type=kind)
    out = _eval(s, t, cdt, scale=peak)
    assert np.all((out >= 0) & (out <= peak * (1 + 1e-6)))
    _check_oracle(
        s, _wsd, t, peak_value=peak, warmup_steps=w, stable_steps=s_, decay_steps=d, decay_type=kind
    )


hp_dtypes = st.sampled_from([float, np.float32, np.float16])


@SETTINGS
@given(
    st.sampled_from(["cosine_decay", "exponential_decay", "warmup_stable_decay", "cyclic"]),
    hp_dtypes,
    st.floats(1e-3, 1.0),
    st.integers(1, 2000),
    count_dtypes,
    counts,
)
def test_hyperparameter_dtype_sets_the_result_dtype_not_the_precision(name, hp, value, n, cdt, t):
    # docs/guides/dtypes.md: the result has the hyperparameters' floating dtype, the
    # counts and step arithmetic run in at least float32; so a float16 value gives the float32
    # result rounded to float16.
    build = {
        "cosine_decay": lambda v: jd.cosine_decay(v, n),
        "exponential_decay": lambda v: jd.exponential_decay(v, n, 0.9),
        "warmup_stable_decay": lambda v: jd.warmup_stable_decay(v, n, n, n),
        "cyclic": lambda v: jd.cyclic(0.0, v, n),
    }[name]
    v = hp(value)
    s = build(v)
    ref = build(float(v))  # the same value as a Python float: float32 throughout
    tc = jnp.asarray(
        np.minimum(np.asarray(sorted(t), np.float64), 65504 if cdt == jnp.float16 else 2**31), cdt
    )
    got = s(tc)
    want_dtype = jnp.float16 if hp is np.float16 else jnp.float32
    assert got.dtype == want_dtype
    want = np.asarray(ref(tc).astype(want_dtype), np.float64)
    for out in (got, jax.jit(s)(tc)):
        np.testing.assert_array_equal(np.asarray(out, np.float64), want)
