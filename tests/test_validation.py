"""Bad concrete input raises at construction, naming the argument and value.

The rule is in docs/guides/contract.md ("Bad input raises, naming the argument and the value").

Tracers are never checked (a sweep may pass any value through `jit`/`vmap`).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxdecay as jd

NAN = math.nan
SGDR = dict(cosine_kwargs=[dict(init_value=0.0, peak_value=1.0, warmup_steps=0, decay_steps=9)])

# (constructor, valid kwargs, argument, bad value, exception type)
BAD = [
    (jd.constant_schedule, dict(value=0.1), "value", NAN, ValueError),
    (jd.constant_schedule, dict(value=0.1), "value", "0.1", TypeError),
    (jd.constant_schedule, dict(value=0.1), "value", math.inf, ValueError),
    (
        jd.linear_schedule,
        dict(init_value=1.0, end_value=0.0, transition_steps=10),
        "transition_steps",
        -1,
        ValueError,
    ),
    (
        jd.linear_schedule,
        dict(init_value=1.0, end_value=0.0, transition_steps=10),
        "transition_begin",
        -5,
        ValueError,
    ),
    (
        jd.linear_schedule,
        dict(init_value=1.0, end_value=0.0, transition_steps=10),
        "end_value",
        NAN,
        ValueError,
    ),
    (
        jd.polynomial_schedule,
        dict(init_value=1.0, end_value=0.0, power=2, transition_steps=10),
        "power",
        -1.0,
        ValueError,
    ),
    (
        jd.exponential_decay,
        dict(init_value=0.1, transition_steps=10, decay_rate=0.9),
        "transition_steps",
        0,
        ValueError,
    ),
    (
        jd.exponential_decay,
        dict(init_value=0.1, transition_steps=10, decay_rate=0.9),
        "decay_rate",
        0.0,
        ValueError,
    ),
    (
        jd.exponential_decay,
        dict(init_value=0.1, transition_steps=10, decay_rate=0.9),
        "decay_rate",
        -0.5,
        ValueError,
    ),
    (
        jd.exponential_decay,
        dict(init_value=0.1, transition_steps=10, decay_rate=0.9),
        "staircase",
        "yes",
        TypeError,
    ),
    (
        jd.exponential_decay,
        dict(init_value=0.1, transition_steps=10, decay_rate=0.9),
        "end_value",
        NAN,
        ValueError,
    ),
    (jd.cosine_decay_schedule, dict(init_value=0.1, decay_steps=10), "decay_steps", 0, ValueError),
    (jd.cosine_decay_schedule, dict(init_value=0.1, decay_steps=10), "exponent", -1.0, ValueError),
    (jd.cosine_decay, dict(init_value=0.1, decay_steps=10), "decay_steps", -3, ValueError),
    (jd.cosine_decay, dict(init_value=0.1, decay_steps=10), "init_value", NAN, ValueError),
    (
        jd.warmup_constant_schedule,
        dict(init_value=0.0, peak_value=0.1, warmup_steps=5),
        "warmup_steps",
        -1,
        ValueError,
    ),
    (
        jd.warmup_cosine_decay_schedule,
        dict(init_value=0.0, peak_value=0.1, warmup_steps=5, decay_steps=100),
        "decay_steps",
        4,
        ValueError,
    ),
    (
        jd.warmup_cosine_decay_schedule,
        dict(init_value=0.0, peak_value=0.1, warmup_steps=5, decay_steps=100),
        "peak_value",
        NAN,
        ValueError,
    ),
    (
        jd.warmup_exponential_decay_schedule,
        dict(init_value=0.0, peak_value=0.1, warmup_steps=5, transition_steps=10, decay_rate=0.9),
        "transition_steps",
        0,
        ValueError,
    ),
    (jd.sgdr_schedule, SGDR, "cosine_kwargs", [], ValueError),
    (
        jd.sgdr_schedule,
        SGDR,
        "cosine_kwargs",
        [dict(init_value=0.0, peak_value=1.0, warmup_steps=0, decay_step=10)],
        ValueError,
    ),
    (jd.sgdr_schedule, SGDR, "cosine_kwargs", dict(a=1), TypeError),
    (
        jd.linear_onecycle_schedule,
        dict(transition_steps=100, peak_value=0.1),
        "transition_steps",
        0,
        ValueError,
    ),
    (
        jd.linear_onecycle_schedule,
        dict(transition_steps=100, peak_value=0.1),
        "pct_start",
        1.5,
        ValueError,
    ),
    (
        jd.linear_onecycle_schedule,
        dict(transition_steps=100, peak_value=0.1, pct_start=0.5),
        "pct_final",
        0.4,
        ValueError,
    ),
    (
        jd.cosine_onecycle_schedule,
        dict(transition_steps=100, peak_value=0.1),
        "div_factor",
        0.0,
        ValueError,
    ),
    (jd.polynomial_decay, dict(init_value=0.1, decay_steps=10), "decay_steps", 0, ValueError),
    (jd.polynomial_decay, dict(init_value=0.1, decay_steps=10), "cycle", 1, TypeError),
    (jd.natural_exp_decay, dict(init_value=0.1, decay_rate=0.5), "decay_rate", -0.1, ValueError),
    (jd.natural_exp_decay, dict(init_value=0.1, decay_rate=0.5), "decay_steps", 0, ValueError),
    (jd.inverse_time_decay, dict(init_value=0.1, decay_rate=0.5), "decay_rate", -1.0, ValueError),
    (jd.inverse_time_decay, dict(init_value=0.1, decay_rate=0.5), "decay_steps", -2, ValueError),
    (jd.inverse_sqrt_decay, dict(init_value=0.1, warmup_steps=10), "warmup_steps", -1, ValueError),
    (jd.inverse_sqrt_decay, dict(init_value=0.1, warmup_steps=10), "timescale", 0, ValueError),
    (jd.step_decay, dict(init_value=0.1, step_size=10), "step_size", 0, ValueError),
    (jd.step_decay, dict(init_value=0.1, step_size=10), "gamma", 1.5, ValueError),
    (jd.step_decay, dict(init_value=0.1, step_size=10), "gamma", -0.1, ValueError),
    (jd.step_decay, dict(init_value=0.1, step_size=10), "init_value", None, TypeError),
    (
        jd.cosine_restarts,
        dict(init_value=0.1, first_decay_steps=10),
        "first_decay_steps",
        0,
        ValueError,
    ),
    (jd.cosine_restarts, dict(init_value=0.1, first_decay_steps=10), "t_mul", 0.5, ValueError),
    (jd.cosine_restarts, dict(init_value=0.1, first_decay_steps=10), "m_mul", -1.0, ValueError),
    (jd.one_cycle, dict(max_value=0.1, total_steps=100), "total_steps", 0, ValueError),
    (jd.one_cycle, dict(max_value=0.1, total_steps=100), "pct_start", 1.0, ValueError),
    (jd.one_cycle, dict(max_value=0.1, total_steps=100), "anneal_strategy", "cosine", ValueError),
    (jd.one_cycle, dict(max_value=0.1, total_steps=100), "three_phase", "no", TypeError),
    (jd.cyclic, dict(base_value=0.01, max_value=0.1), "step_size_up", 0, ValueError),
    (jd.cyclic, dict(base_value=0.01, max_value=0.1), "step_size_down", -1, ValueError),
    (jd.cyclic, dict(base_value=0.01, max_value=0.1), "mode", "triangle", ValueError),
    (jd.cyclic, dict(base_value=0.01, max_value=0.1), "gamma", 0.0, ValueError),
    (
        jd.warmup_stable_decay,
        dict(peak_value=0.1, warmup_steps=1, stable_steps=1, decay_steps=1),
        "stable_steps",
        -1,
        ValueError,
    ),
    (
        jd.warmup_stable_decay,
        dict(peak_value=0.1, warmup_steps=1, stable_steps=1, decay_steps=1),
        "decay_type",
        "exp",
        ValueError,
    ),
    (
        jd.warmup_stable_decay,
        dict(peak_value=0.1, warmup_steps=1, stable_steps=1, decay_steps=1),
        "peak_value",
        np.array(NAN),
        ValueError,
    ),
]


@pytest.mark.parametrize(
    "factory,kwargs,arg,bad,exc",
    [pytest.param(*b, id=f"{b[0].__name__}-{b[2]}-{b[3]!r}") for b in BAD],
)
def test_bad_concrete_input_raises_naming_the_argument(factory, kwargs, arg, bad, exc):
    factory(**kwargs)  # the valid configuration builds
    with pytest.raises(exc) as info:
        factory(**{**kwargs, arg: bad})
    assert f"`{arg}`" in str(info.value) or f"`{arg}[" in str(info.value)


def test_error_message_shape():
    with pytest.raises(ValueError, match=r"^`decay_steps` must be > 0, got 0$"):
        jd.cosine_decay(0.1, 0)
    with pytest.raises(ValueError, match=r"`gamma` must be in \[0, 1\], got 1.5"):
        jd.step_decay(0.1, 10, 1.5)


@pytest.mark.parametrize("bad", [np.float32(-1.0), jnp.asarray(-1.0), np.array([5, -1])])
def test_numpy_and_jax_values_are_checked(bad):
    with pytest.raises(ValueError, match="`decay_steps`"):
        jd.cosine_decay(0.1, bad)


def test_tracers_are_not_checked():
    # Inside jit nothing is known about the value; the constructor must not raise.
    out = jax.jit(lambda n: jd.cosine_decay(0.1, n)(5))(jnp.asarray(-1.0))
    assert out.shape == ()


def test_unknown_argument_lists_the_parameters():
    with pytest.raises(TypeError, match="decay_steps"):
        jd.cosine_decay(0.1, decay_step=10)
