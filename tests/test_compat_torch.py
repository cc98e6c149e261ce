"""`jaxdecay.compat.torch` against PyTorch 2.13's own schedulers, stepped for real.

The value at count ``t`` must be the learning rate after ``t`` calls of ``scheduler.step()`` on a
real ``torch.optim.SGD``, at every count of the documented domain, within ``rtol = 1e-6`` in
float64 (jaxdecay evaluated once on ``arange(n)`` under x64). PyTorch updates most learning rates
recursively (one factor per step) and jaxdecay in closed form, so the two differ by rounding:
where the exact value is 0 one of them may hold rounding noise (~1e-17), hence a tiny ``atol``
relative to the largest value.
"""

from __future__ import annotations

import json
import pickle

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import jaxdecay
from jaxdecay.compat import torch as tc

lr_scheduler = torch.optim.lr_scheduler
SEEDS = range(4)


def torch_lrs(cls, lr: float, n: int, **kwargs) -> np.ndarray:
    """The learning rate of a fresh scheduler, then after each of ``n`` ``step()`` calls."""
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=lr)
    sched = cls(opt, **kwargs)
    out = [opt.param_groups[0]["lr"]]
    for _ in range(n):
        opt.step()  # before sched.step(), as PyTorch expects (no warning)
        sched.step()
        out.append(opt.param_groups[0]["lr"])
    return np.asarray(out, np.float64)


N_EVAL = 320  # one shape for every evaluation: eager ops compile once for the whole file


def jd_lrs(schedule, n: int, *, jit: bool = False) -> np.ndarray:
    """The schedule at counts ``0 .. n``, evaluated once, in float64."""
    assert n < N_EVAL
    with jax.enable_x64(True):
        out = (jax.jit(schedule) if jit else schedule)(jnp.arange(N_EVAL))
        assert out.dtype == jnp.float64
        return np.asarray(out)[: n + 1]


def assert_match(got: np.ndarray, want: np.ndarray) -> None:
    atol = 1e-13 * float(np.max(np.abs(want)))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=atol)


def _lr(rng) -> float:
    return float(10 ** rng.uniform(-4, 0))


# --------------------------------------------------------------------------------------------
# Parity with the real schedulers on seeded random configurations.
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_step_lr(seed):
    rng = np.random.default_rng(seed)
    lr, step_size, gamma = _lr(rng), int(rng.integers(1, 40)), float(rng.uniform(0.3, 1.0))
    n = 300
    want = torch_lrs(lr_scheduler.StepLR, lr, n, step_size=step_size, gamma=gamma)
    assert_match(jd_lrs(tc.StepLR(lr, step_size, gamma), n), want)


@pytest.mark.parametrize("seed", SEEDS)
def test_multistep_lr(seed):
    rng = np.random.default_rng(seed)
    lr, gamma = _lr(rng), float(rng.uniform(0.1, 1.0))
    # A multiset in any order, sometimes with a repeat or a milestone at 0.
    milestones = [int(m) for m in rng.integers(0, 200, size=int(rng.integers(0, 6)))]
    if seed % 2 and milestones:
        milestones.append(milestones[0])
    if seed == 2:
        milestones.append(0)
    n = 220
    want = torch_lrs(lr_scheduler.MultiStepLR, lr, n, milestones=milestones, gamma=gamma)
    assert_match(jd_lrs(tc.MultiStepLR(lr, milestones, gamma), n), want)


@pytest.mark.parametrize("seed", SEEDS)
def test_exponential_lr(seed):
    rng = np.random.default_rng(seed)
    lr, gamma = _lr(rng), float(rng.uniform(0.9, 1.01))
    n = 300
    want = torch_lrs(lr_scheduler.ExponentialLR, lr, n, gamma=gamma)
    assert_match(jd_lrs(tc.ExponentialLR(lr, gamma), n), want)


@pytest.mark.parametrize("seed", SEEDS)
def test_cosine_annealing_lr(seed):
    rng = np.random.default_rng(seed)
    lr, T_max = _lr(rng), int(rng.integers(1, 300))
    eta_min = 0.0 if seed % 3 == 0 else float(lr * rng.uniform(0, 0.5))
    want = torch_lrs(lr_scheduler.CosineAnnealingLR, lr, T_max, T_max=T_max, eta_min=eta_min)
    assert_match(jd_lrs(tc.CosineAnnealingLR(lr, T_max, eta_min), T_max), want)


def test_cosine_annealing_lr_holds_eta_min_where_pytorch_rises_again():
    lr, T_max, eta_min = 0.1, 20, 0.001
    want = torch_lrs(lr_scheduler.CosineAnnealingLR, lr, 2 * T_max, T_max=T_max, eta_min=eta_min)
    got = jd_lrs(tc.CosineAnnealingLR(lr, T_max, eta_min), 2 * T_max)
    assert_match(got[: T_max + 1], want[: T_max + 1])
    np.testing.assert_allclose(got[T_max:], eta_min, rtol=1e-12)
    assert want[2 * T_max] == pytest.approx(lr)  # PyTorch is back at the top


@pytest.mark.parametrize("T_mult", [1, 2, 3])
@pytest.mark.parametrize("seed", range(3))
def test_cosine_annealing_warm_restarts(seed, T_mult):
    rng = np.random.default_rng(seed)
    lr, T_0 = _lr(rng), int(rng.integers(1, 30))
    eta_min = 0.0 if seed == 0 else float(lr * rng.uniform(0, 0.5))
    n = 300
    want = torch_lrs(
        lr_scheduler.CosineAnnealingWarmRestarts, lr, n, T_0=T_0, T_mult=T_mult, eta_min=eta_min
    )
    assert_match(jd_lrs(tc.CosineAnnealingWarmRestarts(lr, T_0, T_mult, eta_min), n), want)


@pytest.mark.parametrize("three_phase", [False, True])
@pytest.mark.parametrize("anneal_strategy", ["cos", "linear"])
@pytest.mark.parametrize("seed", range(3))
def test_one_cycle_lr(seed, anneal_strategy, three_phase):
    rng = np.random.default_rng(seed)
    max_lr, total_steps = _lr(rng), int(rng.integers(20, 300))
    kw = dict(
        pct_start=float(rng.uniform(0.1, 0.45)),
        anneal_strategy=anneal_strategy,
        div_factor=float(rng.uniform(2, 50)),
        final_div_factor=float(10 ** rng.uniform(1, 4)),
        three_phase=three_phase,
    )
    n = total_steps - 1  # the documented domain: 0 .. total_steps - 1
    want = torch_lrs(
        lr_scheduler.OneCycleLR,
        max_lr,
        n,
        max_lr=max_lr,
        total_steps=total_steps,
        cycle_momentum=False,
        **kw,
    )
    got = jd_lrs(tc.OneCycleLR(max_lr, total_steps, **kw), n + 10)
    assert_match(got[: n + 1], want)
    np.testing.assert_allclose(got[n:], want[n], rtol=1e-12)  # held after the cycle


@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
@pytest.mark.parametrize("seed", range(3))
def test_cyclic_lr(seed, mode):
    rng = np.random.default_rng(seed)
    base_lr = _lr(rng)
    max_lr = base_lr * float(rng.uniform(1.5, 20))
    up = int(rng.integers(1, 50))
    down = [None, int(rng.integers(1, 50)), 0][seed]
    gamma = float(rng.uniform(0.98, 1.0)) if mode == "exp_range" else 1.0
    n = 300
    kw = dict(step_size_up=up, step_size_down=down, mode=mode, gamma=gamma)
    want = torch_lrs(
        lr_scheduler.CyclicLR,
        base_lr,
        n,
        base_lr=base_lr,
        max_lr=max_lr,
        cycle_momentum=False,
        **kw,
    )
    assert_match(jd_lrs(tc.CyclicLR(base_lr, max_lr, **kw), n), want)


@pytest.mark.parametrize("seed", SEEDS)
def test_linear_lr(seed):
    rng = np.random.default_rng(seed)
    lr = _lr(rng)
    start = float(rng.uniform(0.01, 1.0))
    end = [0.0, 1.0, float(rng.uniform(0, 1))][seed % 3]
    total_iters = [0, 1, int(rng.integers(2, 60))][min(seed, 2)]
    n = 100
    want = torch_lrs(
        lr_scheduler.LinearLR,
        lr,
        n,
        start_factor=start,
        end_factor=end,
        total_iters=total_iters,
    )
    assert_match(jd_lrs(tc.LinearLR(lr, start, end, total_iters), n), want)


@pytest.mark.parametrize("seed", SEEDS)
def test_constant_lr(seed):
    rng = np.random.default_rng(seed)
    lr, factor = _lr(rng), float(rng.uniform(0.01, 1.0))
    total_iters = [0, 1, int(rng.integers(2, 60))][min(seed, 2)]
    n = 100
    want = torch_lrs(lr_scheduler.ConstantLR, lr, n, factor=factor, total_iters=total_iters)
    assert_match(jd_lrs(tc.ConstantLR(lr, factor, total_iters), n), want)


@pytest.mark.parametrize("seed", SEEDS)
def test_polynomial_lr(seed):
    rng = np.random.default_rng(seed)
    lr = _lr(rng)
    total_iters = [0, 1, int(rng.integers(2, 120))][min(seed, 2)]
    power = [0.0, 1.0, float(rng.uniform(0.1, 3))][seed % 3]
    n = 150
    want = torch_lrs(lr_scheduler.PolynomialLR, lr, n, total_iters=total_iters, power=power)
    assert_match(jd_lrs(tc.PolynomialLR(lr, total_iters, power), n), want)


def test_defaults_match_pytorch():
    n = 40
    cases = [
        (tc.LinearLR(0.1), lr_scheduler.LinearLR, {}),
        (tc.ConstantLR(0.1), lr_scheduler.ConstantLR, {}),
        (tc.PolynomialLR(0.1), lr_scheduler.PolynomialLR, {}),
        (tc.StepLR(0.1, 7), lr_scheduler.StepLR, dict(step_size=7)),
        (tc.MultiStepLR(0.1, [3, 9]), lr_scheduler.MultiStepLR, dict(milestones=[3, 9])),
        (tc.CosineAnnealingWarmRestarts(0.1, 6), lr_scheduler.CosineAnnealingWarmRestarts,
         dict(T_0=6)),
    ]  # fmt: skip
    for schedule, cls, kw in cases:
        assert_match(jd_lrs(schedule, n), torch_lrs(cls, 0.1, n, **kw))
    want = torch_lrs(lr_scheduler.CyclicLR, 0.01, n, base_lr=0.01, max_lr=0.1, cycle_momentum=False)
    assert_match(jd_lrs(tc.CyclicLR(0.01, 0.1), n), want)
    want = torch_lrs(lr_scheduler.OneCycleLR, 0.1, 99, max_lr=0.1, total_steps=100)
    assert_match(jd_lrs(tc.OneCycleLR(0.1, 100), 99), want)


# --------------------------------------------------------------------------------------------
# Traceable arguments: vmap over a numeric argument equals the per-value schedules.
# --------------------------------------------------------------------------------------------

VMAP_CASES = [
    (tc.StepLR, dict(lr=0.1, step_size=5, gamma=0.5), "gamma", [0.1, 0.5, 0.9]),
    (tc.StepLR, dict(lr=0.1, step_size=5, gamma=0.5), "step_size", [1, 3, 7]),
    (tc.MultiStepLR, dict(lr=0.1, milestones=[3, 9], gamma=0.5), "gamma", [0.1, 0.9]),
    (tc.MultiStepLR, dict(lr=0.1, milestones=[3, 9], gamma=0.5), "milestones", [[1, 2], [5, 30]]),
    (tc.ExponentialLR, dict(lr=0.1, gamma=0.9), "gamma", [0.5, 0.9, 1.0]),
    (tc.CosineAnnealingLR, dict(lr=0.1, T_max=20, eta_min=0.0), "T_max", [1, 10, 40]),
    (tc.CosineAnnealingLR, dict(lr=0.1, T_max=20, eta_min=0.0), "eta_min", [0.0, 0.01]),
    (tc.CosineAnnealingWarmRestarts, dict(lr=0.1, T_0=4, T_mult=2), "T_0", [1, 4, 9]),
    (tc.CosineAnnealingWarmRestarts, dict(lr=0.1, T_0=4, T_mult=2), "T_mult", [1, 2, 3]),
    (tc.CosineAnnealingWarmRestarts, dict(lr=0.1, T_0=4, eta_min=0.0), "eta_min", [0.0, 0.05]),
    (tc.OneCycleLR, dict(max_lr=0.1, total_steps=50), "total_steps", [20, 50, 60]),
    (tc.OneCycleLR, dict(max_lr=0.1, total_steps=50), "pct_start", [0.1, 0.3, 0.45]),
    (tc.OneCycleLR, dict(max_lr=0.1, total_steps=50), "max_lr", [0.01, 1.0]),
    (tc.CyclicLR, dict(base_lr=0.01, max_lr=0.1, step_size_up=5), "step_size_up", [1, 5, 8]),
    (tc.CyclicLR, dict(base_lr=0.01, max_lr=0.1, mode="exp_range"), "gamma", [0.9, 1.0]),
    (tc.LinearLR, dict(lr=0.1, start_factor=0.2, total_iters=10), "start_factor", [0.1, 1.0]),
    (tc.LinearLR, dict(lr=0.1, start_factor=0.2, total_iters=10), "total_iters", [0, 1, 30]),
    (tc.ConstantLR, dict(lr=0.1, factor=0.5, total_iters=10), "factor", [0.1, 1.0]),
    (tc.ConstantLR, dict(lr=0.1, factor=0.5, total_iters=10), "total_iters", [0, 1, 30]),
    (tc.PolynomialLR, dict(lr=0.1, total_iters=10, power=2.0), "power", [0.0, 0.5, 2.0]),
    (tc.PolynomialLR, dict(lr=0.1, total_iters=10, power=2.0), "total_iters", [0, 1, 30]),
]


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


# --------------------------------------------------------------------------------------------
# Invalid arguments raise, naming the argument.
# --------------------------------------------------------------------------------------------

BAD = [
    (tc.StepLR, dict(lr=0.1, step_size=0), "step_size"),
    (tc.StepLR, dict(lr=0.1, step_size=5, gamma=1.5), "gamma"),
    (tc.MultiStepLR, dict(lr=0.1, milestones=[-1, 4]), "milestones"),
    # Errors name the argument the user wrote (issue 10, defect 11), not the core one.
    (tc.ExponentialLR, dict(lr=0.1, gamma=0.0), "gamma"),
    (tc.CosineAnnealingLR, dict(lr=0.1, T_max=0), "T_max"),
    (tc.CosineAnnealingWarmRestarts, dict(lr=0.1, T_0=0), "T_0"),
    (tc.CosineAnnealingWarmRestarts, dict(lr=0.1, T_0=5, T_mult=0.5), "T_mult"),
    (tc.CosineAnnealingWarmRestarts, dict(lr=float("nan"), T_0=5), "lr"),
    (tc.OneCycleLR, dict(max_lr=0.1, total_steps=0), "total_steps"),
    (tc.OneCycleLR, dict(max_lr=0.1, total_steps=10, pct_start=1.5), "pct_start"),
    (tc.OneCycleLR, dict(max_lr=0.1, total_steps=10, anneal_strategy="cosine"), "anneal_strategy"),
    (tc.CyclicLR, dict(base_lr=0.01, max_lr=0.1, step_size_up=0), "step_size_up"),
    (tc.CyclicLR, dict(base_lr=0.01, max_lr=0.1, mode="triangle"), "mode"),
    (tc.LinearLR, dict(lr=0.1, start_factor=0.0), "start_factor"),
    (tc.LinearLR, dict(lr=0.1, end_factor=1.5), "end_factor"),
    (tc.LinearLR, dict(lr=0.1, total_iters=-1), "total_iters"),
    (tc.ConstantLR, dict(lr=0.1, factor=1.5), "factor"),
    (tc.ConstantLR, dict(lr=0.1, total_iters=-2), "total_iters"),
    (tc.PolynomialLR, dict(lr=0.1, total_iters=-1), "total_iters"),
    (tc.PolynomialLR, dict(lr=0.1, power=-1.0), "power"),
]


@pytest.mark.parametrize("factory, kwargs, arg", BAD, ids=[f"{c[0].__name__}-{c[2]}" for c in BAD])
def test_invalid_argument_raises_naming_it(factory, kwargs, arg):
    with pytest.raises(ValueError, match=rf"`{arg}(\[\d+\])?` must"):
        factory(**kwargs)


# --------------------------------------------------------------------------------------------
# What the constructors return: core schedules where they match, registered names otherwise.
# --------------------------------------------------------------------------------------------


def test_exact_matches_return_core_schedules():
    assert repr(tc.StepLR(0.1, 30)) == "step_decay(init_value=0.1, step_size=30, gamma=0.1)"
    assert tc.CosineAnnealingLR(0.1, 100).name == "cosine_decay"
    assert tc.ExponentialLR(0.1, 0.9).name == "exponential_decay"
    assert tc.OneCycleLR(0.1, 100).name == "one_cycle"
    assert tc.CyclicLR(0.01, 0.1).name == "cyclic"
    assert tc.MultiStepLR(0.1, [10]).name == "multistep_decay"


OWN = [
    tc.CosineAnnealingWarmRestarts(0.1, T_0=5, T_mult=2, eta_min=0.001),
    tc.LinearLR(0.1, start_factor=0.25, end_factor=0.5, total_iters=7),
    tc.ConstantLR(0.1, factor=0.5, total_iters=4),
    tc.PolynomialLR(0.1, total_iters=9, power=2.0),
]


@pytest.mark.parametrize("schedule", OWN, ids=[s.name for s in OWN])
def test_registered_schedules_describe_themselves(schedule):
    name = schedule.name
    assert name.startswith("torch.") and name in jaxdecay.registry()
    assert repr(schedule).startswith(name + "(")
    # One compiled program per schedule: the rebuilt schedules have the same pytree structure.
    value = jax.jit(lambda s, t: s(t))
    t = jnp.arange(-2, 62)
    want = value(schedule, t)
    assert want.dtype == jnp.float32
    assert np.all(np.isfinite(want))
    chex.assert_trees_all_close(want[:3], jnp.full(3, want[2]))  # negative counts act like 0
    chex.assert_trees_all_close(value(jaxdecay.parse(repr(schedule)), t), want, rtol=1e-6)
    cfg = json.loads(json.dumps(jaxdecay.to_config(schedule)))
    assert cfg["name"] == name
    chex.assert_trees_all_close(value(jaxdecay.from_config(cfg), t), want, rtol=1e-6)
    chex.assert_trees_all_close(value(pickle.loads(pickle.dumps(schedule)), t), want, rtol=1e-6)
    far = value(schedule, jnp.asarray(np.arange(2**31 - 64, 2**31), jnp.int32))
    assert np.all(np.isfinite(far))


def test_registered_schedules_have_finite_gradients():
    t = jnp.arange(30.0)

    def total(lr, eta_min, start, factor, power):
        return (
            tc.CosineAnnealingWarmRestarts(lr, 4, 2, eta_min)(t).sum()
            + tc.LinearLR(lr, start, 0.0, 10)(t).sum()
            + tc.ConstantLR(lr, factor, 5)(t).sum()
            + tc.PolynomialLR(lr, 10, power)(t).sum()
        )

    grads = jax.jit(jax.grad(total, argnums=range(5)))(0.1, 0.01, 0.5, 0.3, 0.0)
    assert all(np.isfinite(g) for g in grads)


def test_parse_reads_migration_names_only():
    s = jaxdecay.parse("torch.LinearLR(0.1, start_factor=0.5, total_iters=4)")
    assert s.name == "torch.LinearLR"
    with pytest.raises(jaxdecay.ParseError, match=r"unknown schedule 'torch.LinearLRR'.*Did you"):
        jaxdecay.parse("torch.LinearLRR(0.1)")
    with pytest.raises(jaxdecay.ParseError, match=r"only plain schedule names can be called"):
        jaxdecay.parse("os.system('true')")


# --------------------------------------------------------------------------------------------
# Mapping scheduler.step() to the update count (the README's recipes).
# --------------------------------------------------------------------------------------------


def test_per_epoch_stepping_is_per_epoch_of_the_schedule():
    # PyTorch: scheduler.step() once per epoch; Optax: one count per update.
    steps_per_epoch, epochs = 7, 40
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=0.1)
    sched = lr_scheduler.MultiStepLR(opt, milestones=[10, 25], gamma=0.5)
    want = []
    for _ in range(epochs):
        for _ in range(steps_per_epoch):
            want.append(opt.param_groups[0]["lr"])  # the lr this update uses
            opt.step()
        sched.step()
    schedule = jaxdecay.per_epoch(tc.MultiStepLR(0.1, [10, 25], 0.5), steps_per_epoch)
    assert_match(jd_lrs(schedule, N_EVAL - 1, jit=True)[: len(want)], np.asarray(want[:N_EVAL]))


def test_fractional_epochs_of_warm_restarts_are_a_stretched_schedule():
    # PyTorch's per-batch idiom: scheduler.step(epoch + i / iters) before each update.
    iters, T_0, T_mult = 8, 3, 2
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=0.1)
    sched = lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=T_0, T_mult=T_mult, eta_min=0.001)
    want = []
    for epoch in range(N_EVAL // iters):
        for i in range(iters):
            sched.step(epoch + i / iters)
            want.append(opt.param_groups[0]["lr"])
            opt.step()
    stretched = jaxdecay.stretch(tc.CosineAnnealingWarmRestarts(0.1, T_0, T_mult, 0.001), iters)
    assert_match(jd_lrs(stretched, N_EVAL - 1, jit=True), np.asarray(want))
