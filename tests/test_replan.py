"""`Schedule.horizon` and `jaxdecay.replan`, for every schedule of the registry.

Both are described in docs/guides/beyond_optax.md.

The registry of cases is `tests/cases.py` (every schedule and combinator, with a float64 NumPy
oracle). Every schedule is evaluated on the same 2048 counts, so eager ops compile once.
"""

from __future__ import annotations

import inspect
import math
import pickle

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from cases import CASES, Case

import jaxdecay as jd
from jaxdecay._core import horizon_rules

T = np.arange(2048)
TJ = jnp.asarray(T, jnp.int32)
IDS = [c.id for c in CASES]


def _build(case: Case, **override):
    return case.factory(**{**case.kwargs, **override})


def _values(s, t=TJ) -> np.ndarray:
    return np.asarray(s(t), np.float64)


def test_every_registered_name_has_a_horizon_rule():
    missing = sorted(set(jd.registry()) - set(horizon_rules()))
    assert not missing, f"no horizon rule for {missing}"
    covered = {_build(c).name for c in CASES}
    assert set(jd.registry()) - {"replan"} <= covered


# --------------------------------------------------------------------------------------------
# horizon
# --------------------------------------------------------------------------------------------

# A clip can hold its bound before the wrapped schedule ends: its horizon is an upper bound.
NOT_TIGHT = {"clip"}


_CURVES: dict[str, np.ndarray] = {}


def _curve(case: Case) -> np.ndarray:
    """The case's schedule at the counts `T` (computed once per case for the whole module)."""
    if case.id not in _CURVES:
        _CURVES[case.id] = _values(_build(case))
    return _CURVES[case.id]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_horizon_is_where_the_value_becomes_constant(case):
    s = _build(case)
    h = s.horizon
    f = _curve(case)
    if h is None:
        # Never constant: the value still changes late in the run.
        assert np.ptp(f[100:]) > 0, case.id
        return
    assert isinstance(h, int | float), type(h)
    first = int(math.ceil(h))
    np.testing.assert_allclose(f[first:], f[first], rtol=2e-6, atol=1e-9)
    np.testing.assert_allclose(float(s(2**31 - 1)), f[first], rtol=2e-6, atol=1e-9)
    if h >= 1 and case.id not in NOT_TIGHT:
        # ...and not before: the value one count earlier differs.
        assert not np.isclose(f[first - 1], f[first], rtol=1e-6, atol=1e-9), case.id


def _sweep_params():
    return [pytest.param(c, k, id=f"{c.id}-{k}") for c in CASES for k in sorted(c.sweeps)]


@pytest.mark.parametrize("case,arg", _sweep_params())
def test_horizon_is_traceable(case, arg):
    # vmap over a hyperparameter gives each value's concrete horizon.
    default = case.kwargs.get(arg, inspect.signature(case.factory).parameters[arg].default)
    values = [default, *case.sweeps[arg]]
    if default is None:  # an optional argument left out (cyclic's `step_size_down`)
        values = values[1:]
    want = [_build(case, **{arg: x}).horizon for x in values]
    got = jax.vmap(lambda x: _build(case, **{arg: x}).horizon)(jnp.asarray(values))
    if all(w is None for w in want):
        assert got is None
    else:
        # A traced value for which the schedule never settles gives inf (concrete: None).
        want = [math.inf if w is None else w for w in want]
        np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=1e-6)


def test_horizon_examples():
    assert jd.cosine_decay(0.1, 1000).horizon == 1000
    assert jd.warmup(jd.cosine_decay(0.1, 1000), 100).horizon == 1100
    assert jd.per_epoch(jd.piecewise_constant([3], [1.0, 0.1]), 50).horizon == 150
    assert jd.per_epoch(jd.stretch(jd.linear_schedule(1.0, 0.0, 5), 0.5), 10).horizon == 30
    assert jd.exponential_decay(0.1, 100, 0.5).horizon is None
    assert jd.exponential_decay(0.1, 100, 0.5, end_value=0.0).horizon is None  # never reaches 0
    assert jd.exponential_decay(0.1, 10, 0.5, end_value=0.2).horizon == 0  # clamped from 0
    s = jd.exponential_decay(0.1, 10, 0.5, end_value=0.1 * 0.5**3)
    assert s.horizon == pytest.approx(30)
    assert jd.exponential_decay(0.1, 10, 0.5, staircase=True, end_value=0.011).horizon == 40
    assert jd.cyclic(0.1, 1.0).horizon is None
    assert jd.horizon(optax.cosine_decay_schedule(0.1, 100)) is None  # a plain callable
    # Traced arguments give a traced horizon.
    h = jax.jit(lambda steps: jd.warmup(jd.cosine_decay(0.1, steps), 10).horizon)(90.0)
    assert float(h) == 100.0
    h = jax.jit(lambda e: jd.exponential_decay(1.0, 10, 0.5, end_value=e).horizon)(0.25)
    np.testing.assert_allclose(float(h), 20.0, rtol=1e-6)
    h = jax.jit(lambda e: jd.exponential_decay(1.0, 10, 0.5, end_value=e).horizon)(0.0)
    assert math.isinf(float(h))


# --------------------------------------------------------------------------------------------
# replan: the contract, for every case with a horizon
# --------------------------------------------------------------------------------------------

HORIZON_CASES = [c for c in CASES if _build(c).horizon is not None and _build(c).horizon >= 4]


def _plan(h: float) -> tuple[int, int, int]:
    """A resume point and a longer and a shorter new end for a schedule of horizon `h`."""
    a = int(math.floor(0.4 * h))
    left = h - a
    return a, a + int(math.ceil(2.5 * left)), a + max(1, int(left // 2))


def _largest_step(v: np.ndarray) -> float:
    return float(np.max(np.abs(np.diff(v))))


@pytest.mark.parametrize("case", HORIZON_CASES, ids=[c.id for c in HORIZON_CASES])
def test_replan_is_continuous_and_ends_at_new_end(case):
    s = _build(case)
    h = s.horizon
    a, longer, shorter = _plan(h)
    assert longer + 2 < len(T)
    f = _curve(case)
    end = float(s(jnp.float32(h)))
    own = _largest_step(f[: int(math.ceil(h)) + 2])
    tol = dict(rtol=max(case.rtol, 1e-5), atol=max(case.atol, 1e-7))
    # Both plans at once: vmap over a traced new_end (eager: its ops compile once for all cases).
    batched = jax.vmap(lambda n: jd.replan(s, a, n)(TJ))(jnp.asarray([longer, shorter]))
    eager = _values(jd.replan(s, at_count=a, new_end=longer))
    chex.assert_trees_all_close(np.asarray(batched[0], np.float64), eager, rtol=2e-6, atol=1e-9)
    for i, n in enumerate((longer, shorter)):
        assert jd.replan(s, at_count=a, new_end=n).horizon == n
        g = np.asarray(batched[i], np.float64)
        # The same curve up to and including at_count...
        np.testing.assert_array_equal(g[: a + 1], f[: a + 1])
        # ...continuous there: no step larger than the schedule's own largest step...
        r = (h - a) / (n - a)
        slack = 1 + 1e-3
        assert abs(g[a] - g[a - 1]) <= own * slack + 1e-7
        assert abs(g[a + 1] - g[a]) <= own * max(1.0, math.ceil(r) + 1) * slack + 1e-7
        if n > h:  # a stretched curve changes no faster than the schedule did
            assert _largest_step(g) <= own * slack + 1e-7, (case.id, _largest_step(g), own)
        # ...the end value exactly at new_end, and held after it.
        np.testing.assert_allclose(g[n:], end, **tol)
        # In between: the float64 oracle of the case at the re-timed count (away from exact
        # ties of a staircase with a re-timed integer count).
        mid = np.arange(a + 1, n)
        warped = h - (h - a) * (n - mid) / (n - a)
        keep = np.abs(warped - np.round(warped)) > 1e-3
        with np.errstate(all="ignore"):
            want = case.oracle(warped[keep], **case.kwargs)
        np.testing.assert_allclose(g[mid[keep]], want, **tol)


def test_traced_at_count_and_new_end_under_vmap():
    s = jd.warmup(jd.cosine_decay(1.0, 100, end_value=0.1), 10)
    ats = jnp.asarray([0, 20, 55, 109])
    ends = jnp.asarray([50, 300, 90, 400])
    got = jax.jit(jax.vmap(lambda a, n: jd.replan(s, a, n)(TJ)))(ats, ends)
    for i in range(len(ats)):
        want = _values(jd.replan(s, int(ats[i]), int(ends[i])))
        chex.assert_trees_all_close(np.asarray(got[i], np.float64), want, rtol=2e-6, atol=1e-9)
        np.testing.assert_allclose(want[int(ends[i]) :], 0.1, rtol=1e-6)


def test_resume_a_finished_run_stays_at_its_end_value():
    s = jd.cosine_decay(1.0, 100, end_value=0.05)
    g = jd.replan(s, at_count=100, new_end=300)
    np.testing.assert_allclose(_values(g), _values(s), rtol=1e-6)
    assert g.horizon == 300


def test_replan_twice_and_from_the_start():
    s = jd.linear_schedule(1.0, 0.0, 100)
    once = jd.replan(s, 50, 150)  # 0.5 at 50, then 0.5/100 per step
    twice = jd.replan(once, 100, 300)  # 0.25 at 100, then 0.25/200 per step
    v = _values(twice)[:400]
    np.testing.assert_allclose(
        v[[0, 50, 100, 200, 300, 399]], [1, 0.5, 0.25, 0.125, 0, 0], atol=1e-6
    )
    assert _largest_step(v) <= 0.01 + 1e-7
    start = jd.replan(s, 0, 400)  # = stretch by 4
    np.testing.assert_allclose(_values(start), _values(jd.stretch(s, 4.0)), atol=1e-6)


def test_old_end_for_schedules_without_horizon():
    s = jd.exponential_decay(1.0, 10, 0.5)
    with pytest.raises(ValueError, match="`old_end` is required"):
        jd.replan(s, 10, 100)
    g = jd.replan(s, 10, 100, old_end=40)
    v = _values(g)
    np.testing.assert_allclose(v[:11], _values(s)[:11], rtol=1e-6)
    np.testing.assert_allclose(v[100:], 0.5**4, rtol=1e-6)
    # Any callable works given old_end (an Optax schedule here).
    o = optax.cosine_decay_schedule(1.0, 100)
    g = jd.replan(o, 30, 230, old_end=100)
    np.testing.assert_allclose(float(g(30)), float(o(30)), rtol=1e-6)
    np.testing.assert_allclose(float(g(130)), float(o(65)), rtol=1e-5)
    assert float(g(230)) == pytest.approx(0.0, abs=1e-7)


def test_replan_bad_input():
    s = jd.cosine_decay(1.0, 100)
    with pytest.raises(ValueError, match=r"`new_end` must be > `at_count`, got new_end=50, at_co"):
        jd.replan(s, 50, 50)
    with pytest.raises(ValueError, match="`at_count` must be >= 0, got -1"):
        jd.replan(s, -1, 50)
    with pytest.raises(ValueError, match="`old_end` must be >= 0"):
        jd.replan(s, 1, 50, old_end=-3)
    with pytest.raises(ValueError, match="`new_end` must not be NaN"):
        jd.replan(s, 1, float("nan"))
    with pytest.raises(TypeError, match="`schedule` must be a schedule"):
        jd.replan(0.1, 1, 50)
    # A traced new_end <= at_count ends the schedule at at_count: no NaN.
    v = jax.jit(jax.vmap(lambda n: jd.replan(s, 50, n)(TJ)))(jnp.asarray([50, 10]))
    assert np.all(np.isfinite(np.asarray(v)))
    np.testing.assert_allclose(np.asarray(v)[:, 51:], 0.0, atol=1e-7)


def test_replan_describes_itself_and_is_a_pytree():
    s = jd.replan(jd.warmup(jd.cosine_decay(0.1, 1000), 100), at_count=400, new_end=2000)
    assert repr(s) == (
        "replan(schedule=warmup(schedule=cosine_decay(init_value=0.1, decay_steps=1000), "
        "warmup_steps=100), at_count=400, new_end=2000)"
    )
    want = _values(s)
    for other in (
        jd.parse(repr(s)),
        jd.from_config(jd.to_config(s)),
        pickle.loads(pickle.dumps(s)),
    ):
        np.testing.assert_allclose(_values(other), want, rtol=1e-6)
    chex.clear_trace_counter()

    @jax.jit
    @chex.assert_max_traces(n=1)
    def f(sched, t):
        return sched(t)

    base = jd.cosine_decay(1.0, 100)
    for a, n in ((10, 200), (50, 70), (90, 1000)):
        g = jd.replan(base, jnp.int32(a), jnp.int32(n))
        want = _values(jd.replan(base, a, n))
        np.testing.assert_allclose(np.asarray(f(g, TJ)), want, rtol=1e-5, atol=1e-9)
