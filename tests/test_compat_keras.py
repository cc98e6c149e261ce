"""`jaxdecay.compat.keras` against Keras 3's own `keras.optimizers.schedules` (JAX backend).

The value at count ``t`` must be ``keras.optimizers.schedules.X(...)(t)`` at every count of a few
hundred steps, within ``rtol = 1e-6`` in float64: Keras computes in the dtype of
``initial_learning_rate`` (of ``values`` for ``PiecewiseConstantDecay``), so the tests give it
float64 NumPy scalars under ``jax.enable_x64`` and check that its results are float64. Both sides
are evaluated once on ``arange(N_EVAL)`` (Keras through ``jax.vmap``: its ``CosineDecay`` warmup
branches with ``ops.cond``, which needs a scalar step). Keras' cosine is float32 whatever the
dtype (see `keras_lrs`): the float64 comparison runs Keras' code with a float64 ``cos``, and
`test_unpatched_keras_cosines_agree_to_float32` bounds the difference to Keras as shipped.
"""

from __future__ import annotations

import contextlib
import json
import pickle

import chex
import jax
import jax.numpy as jnp
import keras
import numpy as np
import pytest
from keras.src.backend.jax import numpy as keras_jax_numpy

import jaxdecay
from jaxdecay.compat import keras as kc

schedules = keras.optimizers.schedules
SEEDS = range(4)
N_EVAL = 320  # one shape for every evaluation: eager ops compile once for the whole file


def f64(x: float) -> np.float64:
    return np.float64(x)


def _cos_in_input_dtype(x):
    return jnp.cos(jnp.asarray(x))


def keras_lrs(schedule, *, integer_steps: bool = False, float32_cos: bool = False) -> np.ndarray:
    """A Keras schedule at counts ``0 .. N_EVAL - 1``, in float64.

    Keras 3 computes ``keras.ops.cos`` in float32 even for a float64 tensor (its ``result_type``
    maps every 64-bit result to 32 bits), so ``CosineDecay``/``CosineDecayRestarts`` are only
    float32-accurate. For the float64 comparison the JAX backend's ``cos`` is replaced, while the
    schedule runs, by ``jnp.cos`` in the input's dtype: Keras' own formula, in float64. Nothing
    else in these schedules leaves float64. ``float32_cos=True`` runs Keras unpatched.
    """
    with contextlib.ExitStack() as stack:
        if not float32_cos:
            mp = stack.enter_context(pytest.MonkeyPatch.context())
            mp.setattr(keras_jax_numpy, "cos", _cos_in_input_dtype)
        stack.enter_context(jax.enable_x64(True))
        steps = jnp.arange(N_EVAL) if integer_steps else jnp.arange(N_EVAL, dtype=jnp.float64)
        out = jax.vmap(schedule)(steps)
        assert out.dtype == jnp.float64
        return np.asarray(out)


def jd_lrs(schedule) -> np.ndarray:
    """A jaxdecay schedule at counts ``0 .. N_EVAL - 1``, evaluated once, in float64."""
    with jax.enable_x64(True):
        out = schedule(jnp.arange(N_EVAL))
        assert out.dtype == jnp.float64
        return np.asarray(out)


def assert_match(got: np.ndarray, want: np.ndarray) -> None:
    atol = 1e-13 * float(np.max(np.abs(want)))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=atol)


def _lr(rng) -> float:
    return float(10 ** rng.uniform(-4, 0))


# --------------------------------------------------------------------------------------------
# Parity with the real schedules on seeded random configurations.
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("staircase", [False, True])
@pytest.mark.parametrize("seed", range(4))
def test_exponential_decay(seed, staircase):
    rng = np.random.default_rng(seed)
    lr = _lr(rng)
    decay_steps = [int(rng.integers(1, 60)), float(rng.uniform(0.5, 60))][seed % 2]
    rate = float(rng.uniform(0.05, 1.1))
    want = keras_lrs(schedules.ExponentialDecay(f64(lr), decay_steps, rate, staircase=staircase))
    assert_match(jd_lrs(kc.ExponentialDecay(lr, decay_steps, rate, staircase=staircase)), want)


@pytest.mark.parametrize("seed", SEEDS)
def test_piecewise_constant_decay(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, 7))
    boundaries = sorted(int(b) for b in rng.choice(300, size=k, replace=False))
    if seed == 0:
        boundaries[0] = 0  # switches after count 0
    values = [float(x) for x in 10 ** rng.uniform(-4, 0, size=k + 1)]
    ks = schedules.PiecewiseConstantDecay(boundaries, [f64(x) for x in values])
    want = keras_lrs(ks, integer_steps=True)
    got = jd_lrs(kc.PiecewiseConstantDecay(boundaries, values))
    assert_match(got, want)
    # One count later than jaxdecay.piecewise_constant (and Optax): the value at a boundary is
    # still the previous one.
    for i, b in enumerate(boundaries):
        assert got[b] == pytest.approx(values[i]) and got[b + 1] == pytest.approx(values[i + 1])


@pytest.mark.parametrize("cycle", [False, True])
@pytest.mark.parametrize("seed", range(4))
def test_polynomial_decay(seed, cycle):
    rng = np.random.default_rng(seed)
    lr = _lr(rng)
    decay_steps = int(rng.integers(1, 120))
    end = [0.0, 0.0001, lr * float(rng.uniform(0, 0.5)), lr * 2][seed]  # the last one rises
    power = [1.0, 0.5, 2.0, float(rng.uniform(0, 3))][seed]
    ks = schedules.PolynomialDecay(f64(lr), decay_steps, end, power=power, cycle=cycle)
    got = jd_lrs(kc.PolynomialDecay(lr, decay_steps, end, power=power, cycle=cycle))
    assert_match(got, keras_lrs(ks))


@pytest.mark.parametrize("staircase", [False, True])
@pytest.mark.parametrize("seed", range(4))
def test_inverse_time_decay(seed, staircase):
    rng = np.random.default_rng(seed)
    lr = _lr(rng)
    decay_steps = [int(rng.integers(1, 60)), float(rng.uniform(0.5, 60))][seed % 2]
    rate = float(rng.uniform(0, 3))
    ks = schedules.InverseTimeDecay(f64(lr), decay_steps, rate, staircase=staircase)
    got = jd_lrs(kc.InverseTimeDecay(lr, decay_steps, rate, staircase=staircase))
    assert_match(got, keras_lrs(ks))


@pytest.mark.parametrize("warmup", [False, True])
@pytest.mark.parametrize("seed", range(4))
def test_cosine_decay(seed, warmup):
    rng = np.random.default_rng(seed)
    lr = [0.0, _lr(rng)][min(seed, 1)] if warmup else _lr(rng)
    decay_steps = int(rng.integers(1, 250))
    alpha = [0.0, float(rng.uniform(0, 0.5))][seed % 2]
    kw = {}
    if warmup:
        kw = dict(
            warmup_target=float(10 ** rng.uniform(-3, 0)), warmup_steps=int(rng.integers(0, 60))
        )
        if seed == 3:
            kw["warmup_steps"] = 0  # starts at warmup_target
    keras_kw = {k: (f64(x) if k == "warmup_target" else x) for k, x in kw.items()}
    ks = schedules.CosineDecay(f64(lr), decay_steps, alpha=alpha, **keras_kw)
    got = jd_lrs(kc.CosineDecay(lr, decay_steps, alpha=alpha, **kw))
    assert_match(got, keras_lrs(ks))


@pytest.mark.parametrize("t_mul", [1.0, 2.0, 1.5, 3.0])
@pytest.mark.parametrize("seed", range(3))
def test_cosine_decay_restarts(seed, t_mul):
    rng = np.random.default_rng(seed)
    lr = _lr(rng)
    first = int(rng.integers(1, 40))
    m_mul = [1.0, float(rng.uniform(0.3, 1.0)), float(rng.uniform(0.3, 1.0))][seed]
    alpha = [0.0, 0.0, float(rng.uniform(0, 0.3))][seed]
    ks = schedules.CosineDecayRestarts(f64(lr), first, t_mul=t_mul, m_mul=m_mul, alpha=alpha)
    got = jd_lrs(kc.CosineDecayRestarts(lr, first, t_mul=t_mul, m_mul=m_mul, alpha=alpha))
    assert_match(got, keras_lrs(ks))


UNPATCHED = [
    (kc.CosineDecay(0.1, 250, alpha=0.01), schedules.CosineDecay(f64(0.1), 250, alpha=0.01), 0.1),
    (kc.CosineDecay(0.0, 200, warmup_target=0.5, warmup_steps=50),
     schedules.CosineDecay(f64(0.0), 200, warmup_target=f64(0.5), warmup_steps=50), 0.5),
    (kc.CosineDecayRestarts(0.1, 10, t_mul=2.0, m_mul=0.8, alpha=0.05),
     schedules.CosineDecayRestarts(f64(0.1), 10, t_mul=2.0, m_mul=0.8, alpha=0.05), 0.1),
]  # fmt: skip


@pytest.mark.parametrize("ours, theirs, peak", UNPATCHED, ids=["cos", "warmup", "restarts"])
def test_unpatched_keras_cosines_agree_to_float32(ours, theirs, peak):
    # Keras as shipped: its float32 cosine is off by at most ~2**-23 of the cosine's height.
    want = keras_lrs(theirs, float32_cos=True)
    np.testing.assert_allclose(jd_lrs(ours), want, rtol=1e-6, atol=2e-7 * peak)


def test_defaults_match_keras():
    pairs = [
        (kc.ExponentialDecay(0.1, 10, 0.5), schedules.ExponentialDecay(f64(0.1), 10, 0.5)),
        (kc.PolynomialDecay(0.1, 100), schedules.PolynomialDecay(f64(0.1), 100)),
        (kc.InverseTimeDecay(0.1, 10, 0.5), schedules.InverseTimeDecay(f64(0.1), 10, 0.5)),
        (kc.CosineDecay(0.1, 100), schedules.CosineDecay(f64(0.1), 100)),
        (kc.CosineDecayRestarts(0.1, 20), schedules.CosineDecayRestarts(f64(0.1), 20)),
    ]
    for ours, theirs in pairs:
        assert_match(jd_lrs(ours), keras_lrs(theirs))


# --------------------------------------------------------------------------------------------
# Traceable arguments, invalid arguments.
# --------------------------------------------------------------------------------------------

VMAP_CASES = [
    (kc.ExponentialDecay, dict(initial_learning_rate=0.1, decay_steps=10, decay_rate=0.5),
     "decay_rate", [0.1, 0.5, 1.0]),
    (kc.ExponentialDecay, dict(initial_learning_rate=0.1, decay_steps=10, decay_rate=0.5,
                               staircase=True), "decay_steps", [1, 10, 33]),
    (kc.PiecewiseConstantDecay, dict(boundaries=[5, 20], values=[1.0, 0.5, 0.1]),
     "boundaries", [[0, 1], [5, 20], [100, 300]]),
    (kc.PiecewiseConstantDecay, dict(boundaries=[5, 20], values=[1.0, 0.5, 0.1]),
     "values", [[1.0, 0.5, 0.1], [0.3, 0.2, 0.0]]),
    (kc.PolynomialDecay, dict(initial_learning_rate=0.1, decay_steps=50, cycle=True),
     "decay_steps", [1, 7, 50]),
    (kc.PolynomialDecay, dict(initial_learning_rate=0.1, decay_steps=50), "power", [0.0, 2.0]),
    (kc.InverseTimeDecay, dict(initial_learning_rate=0.1, decay_steps=10, decay_rate=0.5),
     "decay_rate", [0.0, 0.5, 2.0]),
    (kc.CosineDecay, dict(initial_learning_rate=0.1, decay_steps=50), "decay_steps", [1, 50]),
    (kc.CosineDecay, dict(initial_learning_rate=0.0, decay_steps=50, warmup_target=0.1,
                          warmup_steps=10), "warmup_steps", [0, 1, 10, 60]),
    (kc.CosineDecay, dict(initial_learning_rate=0.0, decay_steps=50, warmup_target=0.1,
                          warmup_steps=10), "alpha", [0.0, 0.5]),
    (kc.CosineDecayRestarts, dict(initial_learning_rate=0.1, first_decay_steps=5), "t_mul",
     [1.0, 1.5, 2.0]),
    (kc.CosineDecayRestarts, dict(initial_learning_rate=0.1, first_decay_steps=5), "m_mul",
     [0.5, 1.0]),
]  # fmt: skip


@pytest.mark.parametrize(
    "factory, kwargs, arg, values",
    VMAP_CASES,
    ids=[f"{c[0].__name__}-{c[2]}" for c in VMAP_CASES],
)
def test_vmap_over_argument(factory, kwargs, arg, values):
    t = jnp.arange(N_EVAL)
    with jax.enable_x64(True):
        want = np.stack([factory(**{**kwargs, arg: x})(t) for x in values])
        got = jax.jit(jax.vmap(lambda x: factory(**{**kwargs, arg: x})(t)))(jnp.asarray(values))
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12, atol=1e-18)


BAD = [
    (kc.ExponentialDecay, dict(initial_learning_rate=0.1, decay_steps=0, decay_rate=0.5),
     "decay_steps"),  # the user's name (issue 10, defect 11), not exponential_decay's
    (kc.ExponentialDecay, dict(initial_learning_rate=0.1, decay_steps=10, decay_rate=-1.0),
     "decay_rate"),
    (kc.PiecewiseConstantDecay, dict(boundaries=[5, 5], values=[1.0, 0.5, 0.1]), "boundaries"),
    (kc.PiecewiseConstantDecay, dict(boundaries=[5, 9], values=[1.0, 0.5]), "values"),
    (kc.PiecewiseConstantDecay, dict(boundaries=[], values=[1.0]), "boundaries"),
    (kc.PiecewiseConstantDecay, dict(boundaries=[5], values=[1.0, float("nan")]), "values"),
    (kc.PolynomialDecay, dict(initial_learning_rate=0.1, decay_steps=0), "decay_steps"),
    (kc.PolynomialDecay, dict(initial_learning_rate=0.1, decay_steps=9, power=-1.0), "power"),
    (kc.InverseTimeDecay, dict(initial_learning_rate=0.1, decay_steps=0, decay_rate=1.0),
     "decay_steps"),
    (kc.CosineDecay, dict(initial_learning_rate=0.1, decay_steps=0), "decay_steps"),
    (kc.CosineDecay, dict(initial_learning_rate=0.1, decay_steps=0, warmup_target=1.0),
     "decay_steps"),
    (kc.CosineDecay, dict(initial_learning_rate=0.1, decay_steps=9, warmup_target=1.0,
                          warmup_steps=-1), "warmup_steps"),
    (kc.CosineDecayRestarts, dict(initial_learning_rate=0.1, first_decay_steps=0),
     "first_decay_steps"),
    (kc.CosineDecayRestarts, dict(initial_learning_rate=0.1, first_decay_steps=5, t_mul=0.5),
     "t_mul"),
]  # fmt: skip


@pytest.mark.parametrize(
    "factory, kwargs, arg", BAD, ids=[f"{c[0].__name__}-{c[2]}-{i}" for i, c in enumerate(BAD)]
)
def test_invalid_argument_raises_naming_it(factory, kwargs, arg):
    with pytest.raises(ValueError, match=rf"`{arg}(\[\d+\])?` must"):
        factory(**kwargs)


# --------------------------------------------------------------------------------------------
# What the constructors return.
# --------------------------------------------------------------------------------------------


def test_exact_matches_return_core_schedules():
    s = kc.ExponentialDecay(0.1, 100, 0.96, staircase=True)
    assert repr(s) == (
        "exponential_decay(init_value=0.1, transition_steps=100, decay_rate=0.96, staircase=True)"
    )
    assert kc.PolynomialDecay(0.1, 100).name == "polynomial_decay"
    assert kc.InverseTimeDecay(0.1, 100, 0.5).name == "inverse_time_decay"
    assert kc.CosineDecay(0.1, 100).name == "cosine_decay_schedule"
    assert kc.CosineDecay(0.0, 100, warmup_target=0.1).name == "warmup_cosine_decay_schedule"
    assert kc.CosineDecayRestarts(0.1, 100).name == "cosine_restarts"


def test_piecewise_constant_decay_describes_itself():
    schedule = kc.PiecewiseConstantDecay([3, 10, 40], [1.0, 0.5, 0.25, 0.125])
    name = schedule.name
    assert name == "keras.PiecewiseConstantDecay" and name in jaxdecay.registry()
    assert repr(schedule) == (
        "keras.PiecewiseConstantDecay(boundaries=[3, 10, 40], values=[1.0, 0.5, 0.25, 0.125])"
    )
    value = jax.jit(lambda s, t: s(t))
    t = jnp.arange(-2, 62)
    want = value(schedule, t)
    assert want.dtype == jnp.float32
    chex.assert_trees_all_close(schedule(t), want)
    chex.assert_trees_all_close(schedule(t.astype(jnp.float32) + 0.5)[5:6], jnp.asarray([0.5]))
    chex.assert_trees_all_close(value(jaxdecay.parse(repr(schedule)), t), want)
    cfg = json.loads(json.dumps(jaxdecay.to_config(schedule)))
    chex.assert_trees_all_close(value(jaxdecay.from_config(cfg), t), want)
    chex.assert_trees_all_close(value(pickle.loads(pickle.dumps(schedule)), t), want)
    far = value(schedule, jnp.asarray([0, 2**31 - 1], jnp.int32))
    chex.assert_trees_all_close(far, jnp.asarray([1.0, 0.125]))
    # Counts -2 .. 3 take values[0], 4 .. 10 take values[1].
    g = jax.grad(lambda v: kc.PiecewiseConstantDecay([3, 10], [v, 0.5 * v, 0.1])(t).sum())(1.0)
    assert g == pytest.approx(6 + 0.5 * 7)
