"""Gradients with respect to a schedule, and `jaxdecay.unconstrained`.

Both are described in docs/guides/hypergradients.md.

For every case of the contract registry (`tests/cases.py`, which covers every name in
`jaxdecay.registry()`), every numeric argument -- values, rates, powers, and also the count-valued
ones (steps, boundaries, milestones) -- is given as a float64 array, and `jax.grad` with respect to
the schedule itself (a pytree) is compared with central finite differences of the same schedule,
count by count:

- *away from breakpoints*: non-integer counts (``k + 0.5``) and count-valued arguments moved off
  the integers (``+ 0.37``), so that no finite difference crosses a phase boundary or a floor;
- *on breakpoints*: the integer counts and arguments of the case (phase boundaries included):
  every gradient is finite (no NaN/inf), and it equals the finite difference wherever the two
  one-sided differences agree (the schedule is differentiable there).

`ZERO_GRADIENT` below is the documented list of arguments whose gradient is zero (piecewise
constant in the argument, or unused); the same table is in docs/guides/hypergradients.md. The
tests check it both ways: zero exactly where it says zero (and the value does not move under a
small perturbation there), and a gradient that is not identically zero everywhere else.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import cases
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from cases import CASES, Case

import jaxdecay as jd
from jaxdecay import _unconstrained as U
from jaxdecay.compat import torch as compat_torch

# --------------------------------------------------------------------------------------------
# The documented list: (constructor, argument) -> (when, why). The gradient is exactly zero for
# every count when `when(arguments of that constructor call)` holds.
# --------------------------------------------------------------------------------------------

_ALWAYS: Callable[[dict[str, Any]], bool] = lambda a: True  # noqa: E731


def _staircase(a: dict[str, Any]) -> bool:
    return bool(a["staircase"])


def _no_warmup(a: dict[str, Any]) -> bool:
    return bool(np.all(np.asarray(a["warmup_steps"]) == 0))


def _not_exp_range(a: dict[str, Any]) -> bool:
    return a["mode"] != "exp_range"


def _piecewise_constant_inner(a: dict[str, Any]) -> bool:
    # stretch/scale of a schedule that is piecewise constant in the count (a staircase).
    inner = a["schedule"]
    return isinstance(inner, jd.Schedule) and inner.name in {
        "step_decay",
        "multistep_decay",
        "piecewise_constant",
    }


ZERO_GRADIENT: dict[tuple[str, str], tuple[Callable[[dict[str, Any]], bool], str]] = {
    ("exponential_decay", "transition_steps"): (_staircase, "staircase: floor((t - B) / T)"),
    ("exponential_decay", "transition_begin"): (_staircase, "staircase: floor((t - B) / T)"),
    ("warmup_exponential_decay_schedule", "transition_steps"): (_staircase, "staircase"),
    ("warmup_exponential_decay_schedule", "transition_begin"): (_staircase, "staircase"),
    ("natural_exp_decay", "decay_steps"): (_staircase, "staircase: floor(t / decay_steps)"),
    ("inverse_time_decay", "decay_steps"): (_staircase, "staircase: floor(t / decay_steps)"),
    ("step_decay", "step_size"): (_ALWAYS, "floor(t / step_size)"),
    ("multistep_decay", "milestones"): (_ALWAYS, "counts the milestones <= t"),
    ("piecewise_constant", "boundaries"): (_ALWAYS, "a lookup: which interval holds t"),
    ("keras.PiecewiseConstantDecay", "boundaries"): (_ALWAYS, "a lookup"),
    ("torch.ConstantLR", "total_iters"): (_ALWAYS, "a switch at t = total_iters"),
    ("linear_onecycle_schedule", "pct_start"): (_ALWAYS, "boundary int(pct_start * T)"),
    ("linear_onecycle_schedule", "pct_final"): (_ALWAYS, "boundary int(pct_final * T)"),
    ("cosine_onecycle_schedule", "pct_start"): (_ALWAYS, "boundary int(pct_start * T)"),
    ("per_epoch", "steps_per_epoch"): (_ALWAYS, "the epoch floor(t / steps_per_epoch)"),
    ("stretch", "factor"): (_piecewise_constant_inner, "a staircase of t / factor"),
    ("replan", "at_count"): (_piecewise_constant_inner, "a time-warp of a staircase"),
    ("replan", "new_end"): (_piecewise_constant_inner, "a time-warp of a staircase"),
    ("cyclic", "gamma"): (_not_exp_range, "only mode='exp_range' uses gamma"),
    ("warmup_stable_decay", "init_value"): (_no_warmup, "no warmup phase uses it"),
    ("sgdr_schedule", "init_value"): (_no_warmup, "a piece without warmup ignores it"),
}

# Arguments on the edge of their domain (t_mul == 1: a central difference steps outside it),
# checked against a one-sided difference by their own test below: (case id, path) -> why.
ONE_SIDED: dict[tuple[str, str], str] = {
    ("cosine_restarts_tmul1", "t_mul"): "t_mul == 1: equal cycles, the edge of t_mul >= 1",
    ("torch.CosineAnnealingWarmRestarts_tmult1", "T_mult"): "T_mult == 1, the edge of T_mult >= 1",
}

# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------

N_COUNTS = 32  # one shape for every case and both count sets: one compile per case
FAR = (10**6, 2**31 - 1)  # checked for finite gradients only (a finite difference there crosses
# many floors or a triangle's corners: d(t / T)/dT grows like t)


def _counts(case: Case) -> np.ndarray:
    t = sorted({0, 1, 2, 3, 7, 13, 37, 55, 150, 333, 999, 2500, *case.counts})
    assert len(t) <= N_COUNTS - len(FAR), case.id
    pad = [t[len(t) // 2]] * (N_COUNTS - len(FAR) - len(t))
    return np.asarray(t + pad + list(FAR), np.float64)


def _owner(schedule: jd.Schedule, path: str) -> tuple[Any, str]:
    """The schedule whose argument `path` is (for `sgdr_schedule`'s pieces, a stand-in holding
    the piece's keyword arguments), and the argument's name there."""
    parts = path.split(".")
    v: Any = schedule
    owner, arg = schedule, parts[0]
    for i, part in enumerate(parts):
        if isinstance(v, jd.Schedule):
            owner, arg = v, part
        v = dict(U._children(v))[part]
        if isinstance(v, dict) and owner.name == "sgdr_schedule" and i == len(parts) - 2:
            return _SgdrPiece(v), parts[-1]
    return owner, arg


class _SgdrPiece:
    name = "sgdr_schedule"

    def __init__(self, kwargs: dict[str, Any]):
        self.arguments = kwargs


def expected_zero(schedule: jd.Schedule, path: str) -> str | None:
    """The documented reason why `path`'s gradient is zero, or None."""
    owner, arg = _owner(schedule, path)
    entry = ZERO_GRADIENT.get((owner.name, arg))
    if entry is not None and entry[0](owner.arguments):
        return entry[1]
    return None


def _get(tree: Any, path: str) -> Any:
    for part in path.split("."):
        tree = dict(U._children(tree))[part]
    return tree


def _as_float64(case: Case, shift: float) -> jd.Schedule:
    """The case's schedule with every numeric argument a float64 array; count-valued ones (given
    as nonzero Python ints) are moved by `shift`, so that no breakpoint sits on an integer."""
    s = case.factory(**case.kwargs)
    new = {}
    for path, v in U.numeric_arguments(s).items():
        a = np.asarray(v, np.float64)
        is_count = isinstance(v, int) or (isinstance(v, list | tuple) and isinstance(v[0], int))
        new[path] = jnp.asarray(np.where(is_count & (a != 0), a + shift, a), jnp.float64)
    return U.with_arguments(s, new)


def _leaf_index(schedule: jd.Schedule) -> dict[str, int]:
    """path -> index of its leaf in `jax.tree.leaves(schedule)`."""
    leaves, treedef = jax.tree.flatten(schedule)
    marked = jax.tree.unflatten(treedef, [np.full(np.shape(x), i) for i, x in enumerate(leaves)])
    return {p: int(np.ravel(_get(marked, p))[0]) for p in U.numeric_arguments(schedule)}


@jax.jit
def _values_and_grads(schedules, t):
    """`jax.value_and_grad` of `s(t)` with respect to the schedule `s`, for every count and every
    schedule of a batch (leaves with a leading axis): values (B, N), schedule-shaped grads."""
    per_count = jax.vmap(jax.value_and_grad(lambda s, t: s(t)), in_axes=(None, 0))
    return jax.vmap(per_count, in_axes=(0, None))(schedules, t)


def _per_path(schedule: jd.Schedule, t: np.ndarray):
    """path -> (grad, f(x), f(x + eps), f(x - eps), eps), each (size of the argument, counts).

    One program per case: the schedule and its 2n perturbations (each scalar of each leaf moved
    by +-eps) are evaluated as one batch."""
    leaves, treedef = jax.tree.flatten(schedule)
    theta = np.concatenate([np.ravel(np.asarray(x)) for x in leaves])
    n = theta.size
    eps = 1e-6 * np.maximum(1.0, np.abs(theta))
    thetas = np.concatenate([theta[None], theta + np.diag(eps), theta - np.diag(eps)])
    sizes = [int(np.size(x)) for x in leaves]
    start = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
    batched = jax.tree.unflatten(
        treedef,
        [
            jnp.asarray(thetas[:, start[i] : start[i + 1]].reshape(-1, *np.shape(x)))
            for i, x in enumerate(leaves)
        ],
    )
    values, grads = jax.device_get(_values_and_grads(batched, jnp.asarray(t)))
    assert isinstance(grads, jd.Schedule) and grads.name == schedule.name
    assert jax.tree.structure(grads) == treedef
    g_leaves = jax.tree.leaves(grads)
    out = {}
    for path, i in _leaf_index(schedule).items():
        sl = slice(start[i], start[i + 1])
        g = np.asarray(g_leaves[i])[0].reshape(len(t), -1).T
        plus, minus = values[1 : n + 1][sl], values[n + 1 :][sl]
        out[path] = (g, values[:1], plus, minus, eps[sl, None])
    return out


# Cases of this file only, for the conditions of ZERO_GRADIENT that the registry's cases do not
# reach (the oracles are those of tests/cases.py; the contract tests do not run these).
EXTRA_CASES = [
    dataclasses.replace(
        next(c for c in CASES if c.id == "warmup_exponential_decay_schedule"),
        id="warmup_exponential_decay_schedule_staircase",
        kwargs={
            **next(c for c in CASES if c.id == "warmup_exponential_decay_schedule").kwargs,
            "staircase": True,
        },
        counts=(9, 10, 11, 14, 15, 16, 34, 35, 36, 200),
        variants=(),
    ),
    Case(
        "torch.CosineAnnealingWarmRestarts_tmult1",
        compat_torch.CosineAnnealingWarmRestarts,
        dict(lr=0.1, T_0=10, T_mult=1.0, eta_min=0.001),
        cases._torch_cawr,
        counts=(9, 10, 11, 19, 20, 21),
    ),
]
ALL_CASES = [*CASES, *EXTRA_CASES]


def _params():
    return [pytest.param(c, id=c.id) for c in ALL_CASES]


# --------------------------------------------------------------------------------------------
# Schedule-shaped gradients
# --------------------------------------------------------------------------------------------


def test_every_registered_constructor_is_differentiated():
    built = {c.factory(**c.kwargs).name for c in CASES}
    missing = [name for name in jd.registry() if name not in built]
    assert not missing, f"no gradient case for {missing}"


def test_grad_with_respect_to_a_schedule_is_schedule_shaped():
    with jax.enable_x64(True):
        f64 = lambda x: jnp.asarray(x, jnp.float64)  # noqa: E731
        s = jd.warmup(
            jd.exponential_decay(f64(0.1), 100, f64(0.9)), warmup_steps=f64(20.0), init_value=0.0
        )
        t = jnp.arange(0, 300, 7)

        def loss(s):
            return jnp.sum(s(t) ** 2)

        value, g = jax.jit(jax.value_and_grad(loss))(s)
        assert isinstance(g, jd.Schedule) and g.name == "warmup"
        assert jax.tree.structure(g) == jax.tree.structure(s)
        inner = g.arguments["schedule"]
        assert inner.name == "exponential_decay"
        # Closed form: after the warmup v = a r**((t - W) / T); during it v = a t / W.
        a, r, W, T = 0.1, 0.9, 20.0, 100.0
        tt = np.asarray(t, np.float64)
        after = tt >= W
        p = np.maximum(tt - W, 0) / T
        v = np.where(after, a * r**p, a * tt / W)
        np.testing.assert_allclose(float(value), np.sum(v**2), rtol=1e-12)
        dv_da = np.where(after, r**p, tt / W)
        dv_dr = np.where(after, a * p * r ** (p - 1), 0.0)
        dv_dw = np.where(after, -a * r**p * np.log(r) / T, -a * tt / W**2)
        np.testing.assert_allclose(float(inner.arguments["init_value"]), np.sum(2 * v * dv_da))
        np.testing.assert_allclose(float(inner.arguments["decay_rate"]), np.sum(2 * v * dv_dr))
        np.testing.assert_allclose(float(g.arguments["warmup_steps"]), np.sum(2 * v * dv_dw))
        # Static arguments stay static: no gradient leaf for them.
        assert inner.arguments["transition_steps"] == 100
        assert len(jax.tree.leaves(g)) == 3


def test_an_optimiser_steps_a_schedule_like_parameters():
    # optax updates a schedule pytree directly; the stepped schedule is a working schedule.
    import optax

    s = jd.warmup_stable_decay(jnp.float32(0.5), 10, 20, 30, end_value=jnp.float32(0.1))
    target = jd.warmup_stable_decay(0.2, 10, 20, 30, end_value=0.05)
    t = jnp.arange(70)

    def loss(s):
        return jnp.mean((s(t) - target(t)) ** 2)

    opt = optax.adam(0.02)
    state = opt.init(s)

    @jax.jit
    def step(s, state):
        g = jax.grad(loss)(s)
        updates, state = opt.update(g, state)
        return optax.apply_updates(s, updates), state

    start = float(loss(s))
    for _ in range(200):
        s, state = step(s, state)
    assert isinstance(s, jd.Schedule)
    assert float(loss(s)) < 1e-3 * start
    np.testing.assert_allclose(float(s.arguments["peak_value"]), 0.2, atol=2e-3)
    np.testing.assert_allclose(float(s.arguments["end_value"]), 0.05, atol=2e-3)


# --------------------------------------------------------------------------------------------
# Every case against finite differences (float64)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", _params())
def test_gradients_match_finite_differences_away_from_breakpoints(case):
    with jax.enable_x64(True):
        s = _as_float64(case, shift=0.37)
        t = _counts(case) + 0.5
        near = t < FAR[0]
        for path, (g, _f0, plus, minus, eps) in _per_path(s, t).items():
            if (case.id, path) in ONE_SIDED:
                continue
            assert np.all(np.isfinite(g)), (path, g)
            g, plus, minus = g[:, near], plus[:, near], minus[:, near]
            fd = (plus - minus) / (2 * eps)
            reason = expected_zero(s, path)
            if reason is not None:
                # Piecewise constant: the value does not move under the perturbation, except
                # where it jumps (a floor or lookup threshold crossed).
                assert np.all(g == 0), (path, reason, g)
                moved = plus != minus
                assert np.mean(moved) < 0.25, (path, "the value moves at most counts", t)
            else:
                np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-9, err_msg=path)
                assert np.any(g != 0), (path, "zero gradient, not in ZERO_GRADIENT")


@pytest.mark.parametrize("case", _params())
def test_gradients_finite_at_breakpoints(case):
    with jax.enable_x64(True):
        s = _as_float64(case, shift=0.0)
        t = _counts(case)
        near = t < FAR[0]
        for path, (g, f0, plus, minus, eps) in _per_path(s, t).items():
            assert np.all(np.isfinite(g)), (path, g)
            g, f0, plus, minus = g[:, near], f0[:, near], plus[:, near], minus[:, near]
            if (case.id, path) in ONE_SIDED:
                continue
            if expected_zero(s, path) is not None:
                assert np.all(g == 0), path
                continue
            forward, backward = (plus - f0) / eps, (f0 - minus) / eps
            smooth = np.abs(forward - backward) <= 1e-4 * (1 + np.abs(forward))
            assert np.any(smooth), path
            fd = (plus - minus) / (2 * eps)
            # Next to a kink the central difference is only O(eps) accurate.
            np.testing.assert_allclose(g[smooth], fd[smooth], rtol=1e-5, atol=1e-5, err_msg=path)


@pytest.mark.parametrize("case_id,path", [pytest.param(*k, id=f"{k[0]}-{k[1]}") for k in ONE_SIDED])
def test_gradient_on_the_edge_of_the_domain_is_the_one_sided_derivative(case_id, path):
    # At t_mul == 1 the cycles are equal and computed by their own exact branch; its gradient
    # is the derivative of the geometric cycles there (it was 0 before).
    case = next(c for c in ALL_CASES if c.id == case_id)
    with jax.enable_x64(True):
        s = _as_float64(case, shift=0.37)
        t = _counts(case) + 0.5
        g, f0, plus, _, eps = _per_path(s, t)[path]
        near = t < 1000  # past that, hundreds of cycles: a forward difference is too coarse
        # The argument sits on the edge of its domain: compare with the one-sided difference.
        one_sided = (plus - f0) / eps
        # (A forward difference is only O(eps) accurate: 5% is loose for it, and the bug is 100%.)
        np.testing.assert_allclose(g[:, near], one_sided[:, near], rtol=5e-2, atol=1e-6)


def test_jacfwd_and_hessian_with_respect_to_a_schedule():
    s = jd.exponential_decay(jnp.float32(0.1), 100, jnp.float32(0.9))
    t = jnp.arange(0.0, 300.0, 30.0)
    rev = jax.jacrev(lambda s: s(t))(s)
    fwd = jax.jacfwd(lambda s: s(t))(s)
    np.testing.assert_allclose(fwd.arguments["decay_rate"], rev.arguments["decay_rate"], 1e-6)
    h = jax.hessian(lambda s: jnp.sum(s(t)))(s)
    k = np.arange(0.0, 300.0, 30.0) / 100
    want = np.sum(0.1 * k * (k - 1) * 0.9 ** (k - 2))  # d^2/dr^2 of sum(0.1 * r ** (t / 100))
    got = h.arguments["decay_rate"].arguments["decay_rate"]
    np.testing.assert_allclose(float(got), want, rtol=1e-5)


def test_zero_gradient_table_entries_are_all_used():
    # Every documented entry is exercised by some case (no stale rows).
    used = set()
    for case in ALL_CASES:
        s = case.factory(**case.kwargs)
        for path in U.numeric_arguments(s):
            owner, arg = _owner(s, path)
            if (owner.name, arg) in ZERO_GRADIENT and expected_zero(s, path):
                used.add((owner.name, arg))
    assert used == set(ZERO_GRADIENT), sorted(set(ZERO_GRADIENT) - used)


# --------------------------------------------------------------------------------------------
# jaxdecay.unconstrained
# --------------------------------------------------------------------------------------------

_SOFTPLUS_INV = lambda x: np.log(np.expm1(x))  # noqa: E731
_LOGIT = lambda p: np.log(p / (1 - p))  # noqa: E731


def _wsd_warmup_exp():
    return jd.warmup(jd.exponential_decay(0.3, 50, 0.8), warmup_steps=25, init_value=0.01)


def test_unconstrained_parameters_follow_the_formulas():
    s = _wsd_warmup_exp()
    params, constrain = jd.unconstrained(
        s,
        {
            "schedule.init_value": "softplus",
            "schedule.decay_rate": "sigmoid",
            "warmup_steps": (0.0, 200.0),
            "init_value": "exp",
        },
    )
    assert sorted(params) == sorted(
        ["schedule.init_value", "schedule.decay_rate", "warmup_steps", "init_value"]
    )
    np.testing.assert_allclose(float(params["schedule.init_value"]), _SOFTPLUS_INV(0.3), 1e-6)
    np.testing.assert_allclose(float(params["schedule.decay_rate"]), _LOGIT(0.8), rtol=1e-6)
    np.testing.assert_allclose(float(params["warmup_steps"]), _LOGIT(25 / 200), rtol=1e-6)
    np.testing.assert_allclose(float(params["init_value"]), np.log(0.01), rtol=1e-6)
    for v in params.values():
        assert v.dtype == jnp.float32 and v.shape == ()
    rebuilt = constrain(params)
    assert rebuilt.name == "warmup" and rebuilt.arguments["schedule"].name == "exponential_decay"
    t = jnp.arange(0, 400, 3)
    np.testing.assert_allclose(rebuilt(t), s(t), rtol=2e-6, atol=1e-9)
    # Moved parameters give the constrained values.
    moved = {k: v + 1.0 for k, v in params.items()}
    new = constrain(moved)
    sp = lambda u: np.log1p(np.exp(u))  # noqa: E731
    sig = lambda u: 1 / (1 + np.exp(-u))  # noqa: E731
    inner = new.arguments["schedule"].arguments
    np.testing.assert_allclose(float(inner["init_value"]), sp(_SOFTPLUS_INV(0.3) + 1), 1e-6)
    np.testing.assert_allclose(float(inner["decay_rate"]), sig(_LOGIT(0.8) + 1), 1e-6)
    np.testing.assert_allclose(
        float(new.arguments["warmup_steps"]), 200 * sig(_LOGIT(0.125) + 1), 1e-6
    )
    np.testing.assert_allclose(float(new.arguments["init_value"]), 0.01 * np.e, 1e-6)


def test_unconstrained_gradients_are_the_chain_rule():
    with jax.enable_x64(True):
        s = jd.warmup_stable_decay(
            jnp.float64(0.1), 10, 30, 20, init_value=0.0, end_value=jnp.float64(0.001)
        )
        spec = {"peak_value": "exp", "warmup_steps": (0.0, 60.0), "end_value": "softplus"}
        params, constrain = jd.unconstrained(s, spec)
        assert params["peak_value"].dtype == jnp.float64
        t = jnp.arange(0.5, 70.0, 1.0)

        def loss(p):
            return jnp.sum(jnp.sin(3 * constrain(p)(t)) * t)

        value, g = jax.jit(jax.value_and_grad(loss))(params)
        assert sorted(g) == sorted(spec)
        for k in spec:
            eps = 1e-6
            up = {**params, k: params[k] + eps}
            down = {**params, k: params[k] - eps}
            fd = (float(loss(up)) - float(loss(down))) / (2 * eps)
            np.testing.assert_allclose(float(g[k]), fd, rtol=1e-6, atol=1e-10, err_msg=k)
        np.testing.assert_allclose(float(value), float(jnp.sum(jnp.sin(3 * s(t)) * t)), 1e-12)


def test_unconstrained_list_argument_and_vmap():
    s = jd.piecewise_linear([0, 10, 50], [0.0, 1.0, 0.1])
    with pytest.raises(ValueError, match=r"`values` must lie in \(0, inf\).*0\.0"):
        jd.unconstrained(s, {"values": "softplus"})
    s = jd.piecewise_linear([0, 10, 50], [0.02, 1.0, 0.1])
    params, constrain = jd.unconstrained(s, {"values": "exp", "boundaries": "identity"})
    assert params["values"].shape == (3,)
    np.testing.assert_allclose(params["values"], np.log([0.02, 1.0, 0.1]), rtol=1e-6)
    # vmap over a batch of parameters: a batch of schedules in one program.
    batch = {
        "values": params["values"] + jnp.asarray([[0.0], [np.log(2.0)]]),
        "boundaries": jnp.stack([params["boundaries"]] * 2),
    }
    out = jax.vmap(lambda p: constrain(p)(jnp.asarray([0, 10, 30, 50])))(batch)
    np.testing.assert_allclose(out[0], [0.02, 1.0, 0.55, 0.1], rtol=1e-5)
    np.testing.assert_allclose(out[1], [0.04, 2.0, 1.1, 0.2], rtol=1e-5)


def test_unconstrained_nested_lists_of_schedules():
    s = jd.multiply(jd.constant_schedule(2.0), jd.cosine_decay(1.0, 100, end_value=0.1))
    params, constrain = jd.unconstrained(
        s, {"schedules.0.value": "softplus", "schedules.1.end_value": "sigmoid"}
    )
    t = jnp.arange(0, 150, 10)
    np.testing.assert_allclose(constrain(params)(t), s(t), rtol=2e-6)
    g = jax.grad(lambda p: constrain(p)(120))(params)
    # At t = 120 the value is value * end_value: d/du = end_value * softplus'(u) = 0.1 * sig(u).
    sig = 1 / (1 + np.exp(-float(params["schedules.0.value"])))
    np.testing.assert_allclose(float(g["schedules.0.value"]), 0.1 * sig, rtol=1e-5)


def test_unconstrained_errors():
    s = _wsd_warmup_exp()
    with pytest.raises(
        ValueError,
        match=r"`schedule\.decay_rat` is not a numeric argument.*"
        r"schedule\.decay_rate",
    ):
        jd.unconstrained(s, {"schedule.decay_rat": "sigmoid"})
    with pytest.raises(ValueError, match=r"constraint for `warmup_steps` must be one of"):
        jd.unconstrained(s, {"warmup_steps": "positive"})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match=r"low < high"):
        jd.unconstrained(s, {"warmup_steps": (10.0, 0.0)})
    with pytest.raises(TypeError, match=r"constraint for `warmup_steps`"):
        jd.unconstrained(s, {"warmup_steps": 3})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match=r"`schedule\.decay_rate` must lie in \(0, 1\).*1\.0"):
        jd.unconstrained(
            jd.warmup(jd.exponential_decay(0.3, 50, 1.0), 5), {"schedule.decay_rate": "sigmoid"}
        )
    with pytest.raises(ValueError, match=r"`warmup_steps` must lie in \(0\.0, 20\.0\).*25"):
        jd.unconstrained(s, {"warmup_steps": (0.0, 20.0)})
    with pytest.raises(TypeError, match="needs a jaxdecay schedule"):
        jd.unconstrained(lambda t: t, {})  # type: ignore[arg-type]
    params, constrain = jd.unconstrained(s, {"warmup_steps": "softplus"})
    with pytest.raises(ValueError, match=r"`params` must have the keys \['warmup_steps'\]"):
        constrain({})
    # A constructor's own check still runs when the constrained value is concrete.
    params, constrain = jd.unconstrained(s, {"warmup_steps": "identity"})
    with pytest.raises(ValueError, match="warmup_steps"):
        constrain({"warmup_steps": jnp.float32(-3.0)})
