"""What every schedule guarantees (docs/guides/contract.md), for every case in `tests/cases.py`.

Each check runs over every `Case`: values against the float64 NumPy oracle; eager == `jit` ==
`vmap` over counts; `vmap` over each swept hyperparameter == per-value eager; finite gradients
that match finite differences; no retrace when only values change; dtypes; huge, negative and
float counts; traced zero-length phases; and repr/config/pickle round trips.
"""

from __future__ import annotations

import inspect
import json
import pickle

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from cases import CASES, FAR_COUNTS, Case, Variant

import jaxdecay as jd

pytestmark = pytest.mark.usefixtures("strict_promotion")

IDS = [c.id for c in CASES]


N_COUNTS = 32  # every case uses one shape, so eager ops compile once for all cases


def _counts(case: Case) -> np.ndarray:
    t = sorted({0, 1, 2, 3, *case.counts, *FAR_COUNTS})
    assert len(t) <= N_COUNTS, case.id
    t = t[:-2] + [t[-3]] * (N_COUNTS - len(t)) + t[-2:]
    return np.array(t, dtype=np.int64)


def _oracle(case: Case, t: np.ndarray, **override) -> np.ndarray:
    kwargs = {**case.kwargs, **override}
    with np.errstate(all="ignore"):
        return np.asarray(case.oracle(np.asarray(t, np.float64), **kwargs), np.float64)


def _value(case: Case, arg: str):
    if arg in case.kwargs:
        return case.kwargs[arg]
    return inspect.signature(case.factory).parameters[arg].default


def _build(case: Case, **override):
    return case.factory(**{**case.kwargs, **override})


def _sweep_params():
    return [pytest.param(c, k, id=f"{c.id}-{k}") for c in CASES for k in sorted(c.sweeps)]


def _grad_params():
    return [pytest.param(c, k, id=f"{c.id}-{k}") for c in CASES for k in c.grads]


def _zero_params():
    return [pytest.param(c, k, id=f"{c.id}-{k}") for c in CASES for k in c.zero_ok]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_matches_oracle(case):
    s = _build(case)
    t = _counts(case)
    got = np.asarray(s(jnp.asarray(t, jnp.int32)), np.float64)
    np.testing.assert_allclose(got, _oracle(case, t), rtol=case.rtol, atol=case.atol)
    # Python ints as counts give the same values.
    for i in (0, 1, int(t[len(t) // 2])):
        np.testing.assert_allclose(float(s(i)), got[list(t).index(i)], rtol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_eager_jit_vmap_agree(case):
    s = _build(case)
    for dtype in (jnp.int32, jnp.float32):
        t = _counts(case)
        if dtype == jnp.float32:  # float32 holds every integer count only up to 2**24
            t = np.where(t > 2**24, 2**24, t)
        t = jnp.asarray(t, dtype)
        eager = s(t)
        chex.assert_trees_all_close(jax.jit(s)(t), eager, rtol=1e-6)
        chex.assert_trees_all_close(jax.vmap(s)(t), eager, rtol=1e-6)
        scalars = jnp.stack([s(x) for x in t[:6]])
        chex.assert_trees_all_close(scalars, eager[:6], rtol=1e-6)


@pytest.mark.parametrize("case,arg", _sweep_params())
def test_vmap_over_hyperparameter(case, arg):
    values = [_value(case, arg), *case.sweeps[arg]]
    t = jnp.asarray(_counts(case), jnp.int32)
    batched = jax.jit(jax.vmap(lambda x: _build(case, **{arg: x})(t)))(jnp.asarray(values))
    for i, x in enumerate(values):
        eager = _build(case, **{arg: x})(t)
        chex.assert_trees_all_close(batched[i], eager, rtol=2e-6, atol=1e-9)
        np.testing.assert_allclose(
            np.asarray(eager, np.float64),
            _oracle(case, np.asarray(t), **{arg: x}),
            rtol=case.rtol,
            atol=case.atol,
        )


@pytest.mark.parametrize("case,arg", _grad_params())
def test_grad_finite_and_matches_finite_differences(case, arg):
    t = _counts(case)
    x0 = float(_value(case, arg))

    def total(x):
        return jnp.sum(_build(case, **{arg: x})(t))

    g32 = jax.jit(jax.grad(total))(jnp.float32(x0))
    assert np.isfinite(g32), (arg, g32)
    with jax.enable_x64(True):
        eps = 1e-6 * max(1.0, abs(x0))
        xs = jnp.asarray([x0, x0 + eps, x0 - eps], jnp.float64)
        g, plus, minus = jax.jit(lambda x: (jax.grad(total)(x[0]), total(x[1]), total(x[2])))(xs)
        g = float(g)
        fd = (float(plus) - float(minus)) / (2 * eps)
    np.testing.assert_allclose(g, fd, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(float(g32), g, rtol=1e-3, atol=1e-6)


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.sweeps], ids=[c.id for c in CASES if c.sweeps]
)
def test_no_retrace_when_values_change(case):
    arg = sorted(case.sweeps)[0]
    values = jnp.asarray([_value(case, arg), *case.sweeps[arg]])
    chex.clear_trace_counter()

    @jax.jit
    @chex.assert_max_traces(n=1)
    def f(x, t):
        return _build(case, **{arg: x})(t)

    t = jnp.arange(5)
    outs = [f(values[i], t) for i in range(len(values))]
    for i in range(len(values)):
        chex.assert_trees_all_close(outs[i], _build(case, **{arg: values[i]})(t), rtol=2e-6)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_dtypes_and_shapes(case):
    s = _build(case)
    for count in (3, np.int32(3), jnp.int32(3), jnp.float32(3.0)):
        out = s(count)
        assert out.dtype == jnp.float32, (type(count), out.dtype)
        assert out.shape == ()
    out = s(jnp.arange(6, dtype=jnp.int32).reshape(2, 3))
    assert out.shape == (2, 3) and out.dtype == jnp.float32
    with jax.enable_x64(True):
        out64 = s(jnp.arange(4, dtype=jnp.int64))
        assert out64.dtype == jnp.float64
        np.testing.assert_allclose(
            np.asarray(out64), _oracle(case, np.arange(4)), rtol=1e-9, atol=1e-12
        )


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_huge_negative_and_float_counts(case):
    s = _build(case)
    huge = np.array([0, 1, 2**24 + 1, 2**31 - 1], np.int64)
    for dtype in (jnp.int32, jnp.float32):
        for fn in (s, jax.jit(s)):
            out = np.asarray(fn(jnp.asarray(huge, dtype)))
            assert np.issubdtype(out.dtype, np.floating)
            assert np.all(np.isfinite(out)), out
    out = np.asarray(s(jnp.asarray(huge, jnp.int32)), np.float64)
    np.testing.assert_allclose(out, _oracle(case, huge), rtol=case.rtol, atol=case.atol)
    at0 = float(s(0))
    for neg in (-1, -100, jnp.int32(-7), jnp.float32(-0.5)):
        assert float(s(neg)) == at0


@pytest.mark.parametrize("case,arg", _zero_params())
def test_traced_zero_length_phase(case, arg):
    t = jnp.asarray(_counts(case), jnp.int32)
    values = jnp.asarray([0, _value(case, arg)])
    batched = jax.vmap(lambda x: _build(case, **{arg: x})(t))(values)
    assert np.all(np.isfinite(np.asarray(batched)))
    chex.assert_trees_all_close(batched[0], _build(case, **{arg: 0})(t), rtol=1e-6)
    np.testing.assert_allclose(
        np.asarray(batched[0], np.float64),
        _oracle(case, np.asarray(t), **{arg: 0}),
        rtol=case.rtol,
        atol=case.atol,
    )


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_describes_itself(case):
    s = _build(case)
    t = jnp.asarray(_counts(case), jnp.int32)
    want = s(t)
    assert repr(s).startswith(s.name + "(")
    chex.assert_trees_all_close(jd.parse(repr(s))(t), want, rtol=1e-6)
    cfg = json.loads(json.dumps(jd.to_config(s)))
    chex.assert_trees_all_close(jd.from_config(cfg)(t), want, rtol=1e-6)
    chex.assert_trees_all_close(pickle.loads(pickle.dumps(s))(t), want, rtol=1e-6)


def _float_args(case: Case) -> dict:
    return {
        k: jnp.asarray(v, jnp.float32)
        for k, v in case.kwargs.items()
        if isinstance(v, float) and k in case.grads
    }


PYTREE_CASES = [c for c in CASES if _float_args(c)]


@pytest.mark.parametrize("case", PYTREE_CASES, ids=[c.id for c in PYTREE_CASES])
def test_schedule_is_a_pytree(case):
    # A schedule passed into jit as an argument: array hyperparameters are leaves, so new values
    # re-use the compiled program.
    arrays = _float_args(case)
    s = _build(case, **arrays)
    t = jnp.arange(8)
    chex.clear_trace_counter()

    @jax.jit
    @chex.assert_max_traces(n=1)
    def f(sched, t):
        return sched(t)

    chex.assert_trees_all_close(f(s, t), s(t), rtol=1e-6)
    s2 = _build(case, **{k: v * 0.5 for k, v in arrays.items()})
    chex.assert_trees_all_close(f(s2, t), s2(t), rtol=1e-6)


def test_every_registered_constructor_has_a_case():
    covered = {_build(c).name for c in CASES}
    missing = sorted(set(jd.registry()) - covered)
    assert not missing, f"constructors without a contract Case: {missing}"


SWEPT = ("transition_steps", "decay_steps", "warmup_steps", "peak_value", "decay_rate")


@pytest.mark.parametrize("name", sorted(jd.registry()))
def test_named_hyperparameters_are_swept(name):
    # The issue's acceptance list: vmap over these works wherever a schedule has them.
    params = inspect.signature(jd.registry()[name]).parameters
    wanted = {p for p in SWEPT if p in params}
    swept = {k for c in CASES if _build(c).name == name for k in c.sweeps}
    assert wanted <= swept, f"{name}: not swept {sorted(wanted - swept)}"


# --------------------------------------------------------------------------------------------
# Breakpoints in every count dtype (issue 10): each case's breakpoints (and those of each of its
# `Variant`s) and their neighbours, counts above 2**24 and near 2**31, as int32, float32,
# bfloat16 and float16 counts; eager == jit == vmap == the float64 oracle evaluated on the count
# as rounded into that dtype; finite everywhere.
# --------------------------------------------------------------------------------------------

COUNT_DTYPES = (jnp.int32, jnp.float32, jnp.bfloat16, jnp.float16)
N_BREAK = 64  # one shape for every case: eager ops compile once per count dtype
_F16_MAX = 65504


def _break_counts(breaks) -> np.ndarray:
    t = {0, 1, 2, 2**24 + 1, 2**24 + 3, 2**31 - 2, 2**31 - 1}
    for b in breaks:
        t |= {b - 1, b, b + 1}
    t = sorted(x for x in t if 0 <= x <= 2**31 - 1)
    assert len(t) <= N_BREAK, t
    return np.array(t + [t[0]] * (N_BREAK - len(t)), np.int64)


def _in_dtype(t: np.ndarray, dtype) -> jax.Array:
    if dtype == jnp.float16:
        t = np.minimum(t, _F16_MAX)  # larger counts would be inf
    return jnp.asarray(t.astype(np.float64) if dtype != jnp.int32 else t, dtype)


# One jitted evaluator shared by every case: the schedule is a pytree argument (Python-number
# hyperparameters are static, array ones are leaves), all count dtypes and the vmap in one call.
@jax.jit
def _jit_and_vmap(schedule, counts):
    return [(schedule(t), jax.vmap(schedule)(t)) for t in counts]


def _variant_params():
    out = []
    for c in CASES:
        out.append(pytest.param(c, None, id=f"{c.id}-base"))
        out += [pytest.param(c, v, id=f"{c.id}-{i}") for i, v in enumerate(c.variants)]
    return out


@pytest.mark.parametrize("case,variant", _variant_params())
def test_breakpoints_in_every_count_dtype(case: Case, variant: Variant | None):
    override = {} if variant is None else variant.kwargs
    breaks = case.counts if variant is None else variant.breaks
    check_oracle = variant is None or variant.oracle
    s = _build(case, **override)
    t = _break_counts(breaks)
    counts = [_in_dtype(t, d) for d in COUNT_DTYPES]
    traced = _jit_and_vmap(s, counts)
    for dtype, tc, (jitted, vmapped) in zip(COUNT_DTYPES, counts, traced, strict=True):
        where = f"{case.id} {override} count dtype {jnp.dtype(dtype).name}"
        eager = s(tc)
        assert np.issubdtype(eager.dtype, np.floating), where
        assert np.all(np.isfinite(np.asarray(eager, np.float64))), (where, eager)
        chex.assert_trees_all_close(jitted, eager, rtol=1e-6, atol=1e-9, custom_message=where)
        chex.assert_trees_all_close(vmapped, eager, rtol=1e-6, atol=1e-9, custom_message=where)
        if check_oracle:
            rounded = np.asarray(tc, np.float64)  # the oracle sees the count the dtype holds
            np.testing.assert_allclose(
                np.asarray(eager, np.float64),
                _oracle(case, rounded, **override),
                rtol=case.rtol,
                atol=case.atol,
                err_msg=where,
            )


def test_variants_cover_the_issue_10_classes():
    # The argument sets the contract test must hold: t_mul in {1, 1.5, 2, 3, 4, 8, 10}, float
    # step arguments, coinciding one-cycle boundaries, phases past 2**30.
    by_id = {c.id: c for c in CASES}
    t_muls = {
        float(v.kwargs["t_mul"]) for v in by_id["cosine_restarts"].variants if "t_mul" in v.kwargs
    } | {1.0 for v in by_id["cosine_restarts_tmul1"].variants}
    assert {1.0, 1.5, 2.0, 3.0, 4.0, 8.0, 10.0} <= t_muls
    floats = {
        c.id
        for c in CASES
        for v in c.variants
        if any(
            isinstance(x, float) and x.is_integer()
            for k, x in v.kwargs.items()
            if "step" in k or k in ("period", "first_decay_steps")
        )
    }
    for wanted in (
        "cyclic_triangular",
        "repeat",
        "step_decay",
        "cosine_restarts_tmul1",
        "linear_schedule",
    ):
        assert wanted in floats, wanted
    assert any(v.kwargs.get("pct_final") == 1.0 for v in by_id["linear_onecycle_schedule"].variants)
    assert any(max(v.breaks, default=0) > 2**30 for v in by_id["warmup_stable_decay"].variants)
