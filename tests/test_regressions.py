"""Regression tests for issue 10: one test per reproducer, each failing before the fix.

Each expected value comes from the formula (or PyTorch/Keras/Optax semantics) written out here,
eager and under ``jit``. The contract test (`test_contract.py`) checks the classes these belong
to over the whole registry.
"""

from __future__ import annotations

import decimal
import fractions
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxdecay as jd
from jaxdecay.compat import keras as kc
from jaxdecay.compat import torch as tc

# One jitted evaluator for every schedule: the schedule is a pytree argument.
_JIT = jax.jit(lambda s, t: s(t))


def both(s, t):
    """``(eager, jit)`` values of ``s`` at ``t``, as floats."""
    return float(s(t)), float(_JIT(s, t))


def assert_both(s, t, want, rtol=1e-6, atol=0.0):
    eager, jitted = both(s, t)
    np.testing.assert_allclose([eager, jitted], [want, want], rtol=rtol, atol=atol)


# 1. Restarts under jit ----------------------------------------------------------------------


def test_restarts_start_at_the_peak_under_jit():
    # Every integer restart of T0 * t_mul**i cycles, for t_mul whose 1 / (t_mul - 1) is inexact
    # in float32 (4, 8, 10) and others: the value there is the peak, eager and under jit.
    T0 = 10
    for t_mul in (1.5, 3.0, 4.0, 8.0, 10.0):
        starts = [0.0]
        for i in range(4):
            starts.append(starts[-1] + T0 * t_mul**i)
        for s in (
            jd.cosine_restarts(1.0, T0, t_mul=t_mul),
            kc.CosineDecayRestarts(1.0, T0, t_mul=t_mul),
            tc.CosineAnnealingWarmRestarts(1.0, T0, T_mult=t_mul),
        ):
            for start in starts[1:]:
                if float(start).is_integer():
                    assert_both(s, int(start), 1.0)


def test_restart_in_a_jitted_inject_hyperparams_update():
    # The rate used at update 50 of SGD with cosine_restarts(0.05, 10, t_mul=4): a restart.
    opt = optax.inject_hyperparams(optax.sgd)(learning_rate=jd.cosine_restarts(0.05, 10, 4.0))
    params = jnp.zeros(())
    state = opt.init(params)
    step = jax.jit(lambda st: opt.update(jnp.ones(()), st, params))
    rates = []
    for _ in range(51):
        _, state = step(state)
        rates.append(float(state.hyperparams["learning_rate"]))
    np.testing.assert_allclose(rates[50], 0.05, rtol=1e-6)


# 2. One-cycle with coinciding phase boundaries ----------------------------------------------


def _optax_linear_onecycle(t, n, peak, pct_start=0.3, pct_final=0.85, div=25.0, final=1e4):
    return float(optax.linear_onecycle_schedule(n, peak, pct_start, pct_final, div, final)(t))


@pytest.mark.parametrize(
    "n, t, kwargs",
    [
        (100, 99, dict(pct_final=1.0)),
        (1, 0, {}),
        (100, 40, dict(pct_start=0.5, pct_final=0.5)),
        (100, 60, dict(pct_start=0.5, pct_final=0.5)),
    ],
)
def test_linear_onecycle_coinciding_boundaries_under_jit(n, t, kwargs):
    want = _optax_linear_onecycle(t, n, 1.0, **kwargs)
    assert_both(jd.linear_onecycle_schedule(n, 1.0, **kwargs), t, want, rtol=1e-5)


def test_cosine_onecycle_pct_start_one_under_jit():
    want = float(optax.cosine_onecycle_schedule(10, 1.0, pct_start=1.0)(5))
    assert_both(jd.cosine_onecycle_schedule(10, 1.0, pct_start=1.0), 5, want, rtol=1e-5)


# 3. bfloat16 counts in the piecewise family (already fixed on main when this file was written) ---


@pytest.mark.parametrize(
    "build, want",
    [
        (lambda: jd.piecewise_constant([10], [1.0, 0.5]), 0.5),
        (lambda: jd.piecewise_linear([0, 20], [1.0, 0.0]), 0.4),
        (lambda: jd.multistep_decay(1.0, [10], 0.5), 0.5),
        (lambda: jd.piecewise_constant_schedule(1.0, {10: 0.5}), 0.5),
        (lambda: jd.piecewise_interpolate_schedule("linear", 1.0, {20: 0.0}), 0.4),
        (
            lambda: jd.join_schedules([jd.constant_schedule(1.0), jd.constant_schedule(0.5)], [10]),
            0.5,
        ),
        (lambda: kc.PiecewiseConstantDecay([10], [1.0, 0.5]), 0.5),
        (lambda: tc.MultiStepLR(1.0, [10], 0.5), 0.5),
    ],
)
def test_bfloat16_counts_in_the_piecewise_family(build, want):
    with jax.numpy_dtype_promotion("strict"):
        assert_both(build(), jnp.asarray(12, jnp.bfloat16), want)


# 4. eager != jit above 2**24 with float step arguments ----------------------------------------

BIG = 2038070693


def test_cyclic_float_step_at_a_large_count():
    # triangular: position BIG mod 200 = 93 of a 100-up/100-down cycle: 0.93.
    assert_both(jd.cyclic(0.0, 1.0, 100.0), jnp.int32(BIG), (BIG % 200) / 100)


def test_cosine_restarts_tmul1_float_step_at_a_large_count():
    frac = (BIG % 100) / 100
    assert_both(
        jd.cosine_restarts(1.0, 100.0, t_mul=1.0),
        jnp.int32(BIG),
        0.5 * (1 + math.cos(math.pi * frac)),
        rtol=1e-5,
    )


def test_repeat_float_period_at_a_large_count():
    s = jd.repeat(jd.linear_schedule(1.0, 0.0, 7), 7.0)
    assert_both(s, jnp.int32(BIG), 1.0 - (BIG % 7) / 7)


def test_warmup_stable_decay_at_the_decay_start_past_2_24():
    s = jd.warmup_stable_decay(1.0, 2**30, 65, 1)
    assert_both(s, jnp.int32(2**30 + 65), 1.0)
    assert_both(s, jnp.int32(2**30 + 66), 0.0)


# 5. int32 overflow ------------------------------------------------------------------------


def test_cyclic_step_sizes_summed_without_overflow():
    assert_both(jd.cyclic(0.0, 1.0, 2**30, 2**30), jnp.int32(2**30), 1.0)


# 6. inf/NaN with arguments that pass validation --------------------------------------------

FMAX = float(np.finfo(np.float32).max)


def test_cosine_restarts_growing_heights_saturate():
    out = both(jd.cosine_restarts(1.0, 10, t_mul=1.0, m_mul=2.0), 1280)
    assert all(math.isfinite(x) and x == FMAX for x in out), out


def test_multistep_decay_growth_saturates():
    out = both(jd.multistep_decay(1.0, [10] * 40, gamma=10.0), 20)
    assert all(math.isfinite(x) for x in out), out


def test_piecewise_constant_schedule_growth_saturates():
    out = both(jd.piecewise_constant_schedule(1.0, {i: 10.0 for i in range(1, 41)}), 45)
    assert all(math.isfinite(x) for x in out), out


def test_exponential_growth_from_zero_is_zero():
    assert_both(jd.exponential_decay(0.0, 1, 2.0), 128, 0.0)


def test_transition_steps_beyond_the_count_range_are_refused():
    with pytest.raises(ValueError, match=r"`transition_steps` must be < 2\*\*31"):
        jd.linear_schedule(0.1, 0.0, 1e39)


# 7. float16 hyperparameters: counts and steps in at least float32 ------------------------------


def test_float16_init_value_keeps_count_precision():
    s = jd.cosine_decay(np.float16(0.1), 100000)
    want = float(np.float16(0.1)) * 0.5 * (1 + math.cos(math.pi * 2048 / 100000))
    assert_both(s, 2048, float(np.float16(want)), rtol=1e-3)
    assert s(2048).dtype == jnp.float16


def test_float16_natural_exp_decay_is_finite():
    s = jd.natural_exp_decay(np.float16(0.1), 0.0)
    assert_both(s, 70000, float(np.float16(0.1)))


# 8. steps >= 2**31: refused at construction with the argument's name ----------------------------


@pytest.mark.parametrize(
    "build, arg",
    [
        (lambda n: jd.step_decay(0.1, n), "step_size"),
        (lambda n: jd.warmup(jd.constant_schedule(0.1), n), "warmup_steps"),
        (lambda n: jd.shift(jd.constant_schedule(0.1), n), "steps"),
        (lambda n: jd.repeat(jd.constant_schedule(0.1), n), "period"),
        (lambda n: jd.per_epoch(jd.constant_schedule(0.1), n), "steps_per_epoch"),
        (lambda n: jd.cyclic(0.0, 1.0, n), "step_size_up"),
        (lambda n: jd.exponential_decay(0.1, n, 0.5, staircase=True), "transition_steps"),
        (lambda n: jd.cosine_restarts(0.1, n, t_mul=1.0), "first_decay_steps"),
        (lambda n: jd.polynomial_decay(0.1, n, cycle=True), "decay_steps"),
    ],
)
def test_steps_of_2_31_are_refused_naming_the_argument(build, arg):
    with pytest.raises(ValueError, match=rf"`{arg}` must be < 2\*\*31"):
        build(2**31)
    assert np.isfinite(float(build(2**31 - 1)(5)))  # the largest valid count still works


# 9. errors of the wrong kind ----------------------------------------------------------------


def test_huge_integer_is_a_value_error_everywhere():
    with pytest.raises(ValueError, match="`decay_steps`"):
        jd.cosine_decay(0.1, 10**400)
    with pytest.raises(jd.ParseError, match="`decay_steps`"):
        jd.parse(f"cosine_decay(0.1, {10**400})")
    with pytest.raises(ValueError, match="`decay_steps`"):
        jd.from_config({"name": "cosine_decay", "init_value": 0.1, "decay_steps": 10**400})


@pytest.mark.parametrize(
    "text", ["cosine_decay(" + "-" * 1000 + "0.1, 10)", "cosine_decay(" + "+" * 100000 + "0.1, 10)"]
)
def test_deep_parse_input_is_a_parse_error(text):
    with pytest.raises(jd.ParseError, match="nest"):
        jd.parse(text)


def test_deep_config_is_a_config_error():
    cfg = {"name": "constant_schedule", "value": 0.1}
    for _ in range(600):
        cfg = {"name": "scale", "schedule": cfg, "factor": 1.0}
    with pytest.raises(jd.ConfigError, match="nest at most 100"):
        jd.from_config(cfg)


def test_unhashable_config_name_is_a_config_error():
    with pytest.raises(jd.ConfigError, match="'name' must be a string"):
        jd.from_config({"name": ["x"]})


@pytest.mark.parametrize("x", [decimal.Decimal("0.1"), fractions.Fraction(1, 10)])
def test_decimal_and_fraction_are_refused_at_construction(x):
    with pytest.raises(TypeError, match="`init_value`"):
        jd.cosine_decay(x, 10)


# 10. concrete bfloat16 hyperparameters ------------------------------------


def test_concrete_bfloat16_hyperparameters_are_accepted():
    s = jd.cosine_decay(jnp.asarray(0.5, jnp.bfloat16), 10)
    assert s(0).dtype == jnp.bfloat16
    assert_both(s, 5, 0.25)


# 11. errors name the argument the user wrote --------------------------------------------------


@pytest.mark.parametrize(
    "build, arg",
    [
        (lambda: tc.StepLR(float("nan"), 10), "lr"),
        (lambda: tc.CosineAnnealingLR(0.1, 0), "T_max"),
        (lambda: kc.ExponentialDecay(0.1, 0, 0.5), "decay_steps"),
    ],
)
def test_migration_errors_name_the_users_argument(build, arg):
    with pytest.raises(ValueError, match=rf"^`{arg}` must"):
        build()


def test_sgdr_errors_name_the_cycle():
    ok = dict(init_value=0.0, peak_value=1.0, warmup_steps=0, decay_steps=10)
    with pytest.raises(ValueError, match=r"`cosine_kwargs\[2\]\['decay_steps'\]` must be >= 0"):
        jd.sgdr_schedule([ok, ok, dict(ok, decay_steps=-1)])


# 12. long linear ramps ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "s, t, want",
    [
        (jd.linear_schedule(0.0, 0.1, 100000), 1, 1e-6),
        (jd.warmup_constant_schedule(0.0, 0.1, 100000), 1, 1e-6),
        (jd.warmup_cosine_decay_schedule(0.0, 0.1, 100000, 200000), 1, 1e-6),
        (jd.warmup_exponential_decay_schedule(0.0, 0.1, 100000, 10, 0.5), 1, 1e-6),
        (jd.warmup_stable_decay(0.1, 100000, 0, 10), 1, 1e-6),
        (
            jd.one_cycle(0.1, 1000000, pct_start=0.3, anneal_strategy="linear", div_factor=1e9),
            1,
            0.1 / 1e9 + (0.1 - 0.1 / 1e9) / 299999,
        ),
    ],
)
def test_long_linear_ramps_are_accurate(s, t, want):
    assert_both(s, t, want, rtol=2e-7)


# 13. float16 round trips and strict promotion ---------------------------------------------------


def test_float16_hyperparameters_round_trip_through_config():
    s = jd.cosine_decay(np.float16(0.1), 100)
    back = jd.from_config(jd.to_config(s))
    assert back(3).dtype == jnp.float16
    assert float(back(3)) == float(s(3))
    assert jd.parse("cosine_decay(float16(0.1), 100)")(3).dtype == jnp.float16


def test_repeat_with_float16_counts_under_strict_promotion():
    s = jd.repeat(jd.linear_schedule(1.0, 0.0, 7), 7)
    with jax.numpy_dtype_promotion("strict"):
        assert_both(s, jnp.asarray(9, jnp.float16), 1.0 - 2 / 7)


@pytest.mark.parametrize("value", [np.float16(0.1), jnp.bfloat16(0.1)], ids=["float16", "bfloat16"])
def test_repr_of_a_low_precision_value_parses_back_in_its_dtype(value):
    # Issue 10, defect 13: parse(repr(s)) gave float32 back for a float16 hyperparameter.
    s = jd.cosine_decay(value, 1000)
    back = jd.parse(repr(s))
    assert back.arguments["init_value"].dtype == np.asarray(value).dtype
    t = np.asarray([0, 10, 999, 1000])
    np.testing.assert_array_equal(np.asarray(back(t)), np.asarray(s(t)))


@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16], ids=["float16", "bfloat16"])
def test_growth_saturates_at_a_narrow_result_dtypes_largest_value(dtype):
    # The value is computed in float32 and was rounded to float16/bfloat16 without clamping
    # again: growth beyond that dtype's range became inf.
    big = float(jnp.finfo(dtype).max)
    one = jnp.asarray(1.0, dtype)
    schedules = {
        "exponential_decay": jd.exponential_decay(one * 0.1, 1, 2.0),
        "staircase": jd.exponential_decay(one * 0.1, 1, 2.0, staircase=True),
        "cosine_restarts": jd.cosine_restarts(one, 10, t_mul=1.0, m_mul=2.0),
        "cosine_restarts_geometric": jd.cosine_restarts(one, 10, t_mul=2.0, m_mul=1e6),
        "warmup_exponential": jd.warmup_exponential_decay_schedule(0.0, one, 2, 1, 2.0),
        "multistep_decay": jd.multistep_decay(one * 0.1, list(range(1, 40)), gamma=10.0),
    }
    t = jnp.asarray([0, 1, 200, 10_000, 2**31 - 1], jnp.int32)
    for name, s in schedules.items():
        for values in (s(t), jax.jit(s)(t)):
            assert values.dtype == dtype, name
            v = np.asarray(values, np.float64)
            assert np.all(np.isfinite(v)), (name, v)
            assert v.max() <= big, name
        if dtype == jnp.float16 and not name.startswith("cosine_restarts"):
            # Far out, growth has reached float16's largest value (bfloat16 spans float32's
            # range: there the value stops at init_value times float32's largest value).
            assert float(s(jnp.int32(10_000))) == big, name
