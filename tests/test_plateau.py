"""reduce_on_plateau: parity with PyTorch 2.13's ReduceLROnPlateau, state, jit/scan/vmap, errors."""

from __future__ import annotations

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

import jaxdecay
from jaxdecay import ReduceOnPlateauState, reduce_on_plateau

N = 60  # every metric sequence has this length: one compilation per (mode, threshold_mode)


def _sequences() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    walk = np.cumsum(rng.normal(0.0, 1.0, N)) + 20.0
    plateaus = np.repeat([5.0, 4.0, 4.0, 4.5, 3.0, 3.0], N // 6)
    negative = -5.0 + np.cumsum(rng.normal(0.0, 0.3, N))
    improving_then_flat = np.concatenate(
        [np.linspace(10.0, 1.0, N // 3), 1.0 + 0.001 * rng.standard_normal(N - N // 3)]
    )
    noisy_nan = 2.0 + 0.2 * rng.standard_normal(N)
    noisy_nan[[7, 30, 31]] = np.nan
    seqs = {
        "walk": walk,
        "plateaus": plateaus,
        "negative": negative,
        "improving_then_flat": improving_then_flat,
        "noisy_with_nan": noisy_nan,
    }
    # float32-exact, so JAX (float32) and PyTorch (float64) compare the same numbers.
    return {k: v.astype(np.float32) for k, v in seqs.items()}


SEQUENCES = _sequences()


def torch_scales(metrics, *, lr=1.0, min_scale=0.0, eps=0.0, **kwargs) -> np.ndarray:
    """lr / initial lr of torch's ReduceLROnPlateau after each `step(metric)`."""
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=lr)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, min_lr=min_scale * lr, eps=eps, **kwargs
    )
    out = []
    for m in metrics:
        sched.step(float(m))
        out.append(opt.param_groups[0]["lr"] / lr)
    return np.asarray(out)


@functools.partial(jax.jit, static_argnames=("mode", "threshold_mode"))
def run_scan(
    metrics, factor, patience, threshold, cooldown, min_scale, acc, *, mode, threshold_mode
):
    """States after each update, all hyperparameters traced (so one compilation serves many)."""
    tx = reduce_on_plateau(
        factor=factor,
        patience=patience,
        threshold=threshold,
        threshold_mode=threshold_mode,
        cooldown=cooldown,
        min_scale=min_scale,
        mode=mode,
        accumulation_size=acc,
    )

    def step(state, value):
        updates, state = tx.update(jnp.ones(()), state, value=value)
        return state, (state, updates)

    _, (states, updates) = jax.lax.scan(step, tx.init(None), metrics)
    return states, updates


def scan_scales(metrics, *, factor=0.5, patience=2, threshold=1e-4, cooldown=0, min_scale=0.0,
                acc=1, mode="min", threshold_mode="rel"):  # fmt: skip
    states, updates = run_scan(
        jnp.asarray(metrics, jnp.float32),
        factor,
        patience,
        threshold,
        cooldown,
        min_scale,
        acc,
        mode=mode,
        threshold_mode=threshold_mode,
    )
    # The update that took the value is scaled by the scale after it.
    np.testing.assert_array_equal(updates, states.scale)
    return np.asarray(states.scale), states


# --------------------------------------------------------------------------------------------
# PyTorch parity
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seq", sorted(SEQUENCES))
@pytest.mark.parametrize("cooldown", [0, 2])
@pytest.mark.parametrize("threshold_mode", ["rel", "abs"])
@pytest.mark.parametrize("mode", ["min", "max"])
def test_matches_torch(mode, threshold_mode, cooldown, seq):
    metrics = SEQUENCES[seq]
    threshold = 0.01 if threshold_mode == "rel" else 0.1
    kw = dict(factor=0.5, patience=2, threshold=threshold, cooldown=cooldown)
    ours, _ = scan_scales(metrics, mode=mode, threshold_mode=threshold_mode, **kw)
    ref = torch_scales(metrics, mode=mode, threshold_mode=threshold_mode, **kw)
    np.testing.assert_allclose(ours, ref, rtol=1e-6)
    # The sequence exercises the rule: some reductions happen, and the reference is not trivial.
    assert ref[-1] < 1.0


def test_matches_torch_defaults_with_torch_eps():
    # PyTorch's default eps=1e-8 never matters while lr stays well above it.
    metrics = np.concatenate([np.linspace(3.0, 1.0, 10), np.full(50, 1.0)]).astype(np.float32)
    tx = reduce_on_plateau()
    state = tx.init(None)
    step = jax.jit(tx.update)
    ours = []
    for m in metrics:
        _, state = step(None, state, value=m)
        ours.append(float(state.scale))
    ref = torch_scales(metrics, eps=1e-8)  # torch's defaults otherwise
    np.testing.assert_allclose(ours, ref, rtol=1e-6)
    assert ref[-1] == pytest.approx(1e-4)  # 50 flat decisions: 4 reductions


def test_patience_zero_reduces_at_every_bad_decision():
    metrics = np.array([1.0, 2.0, 0.5, 0.6, 0.7, 0.4, 0.4], np.float32)
    ours, _ = scan_scales(metrics, patience=0)
    ref = torch_scales(metrics, factor=0.5, patience=0)
    np.testing.assert_allclose(ours, ref, rtol=1e-6)
    np.testing.assert_allclose(ours, [1, 0.5, 0.5, 0.25, 0.125, 0.125, 0.0625], rtol=1e-6)


@pytest.mark.parametrize("min_scale", [0.3, 0.01, 1.0])
def test_min_scale_matches_torch_min_lr(min_scale):
    metrics = SEQUENCES["plateaus"]
    ours, _ = scan_scales(metrics, min_scale=min_scale)
    ref = torch_scales(metrics, factor=0.5, patience=2, min_scale=min_scale)
    np.testing.assert_allclose(ours, ref, rtol=1e-6)
    assert ours.min() == pytest.approx(min_scale, rel=1e-6)


def test_no_eps_rule_differs_from_torch_only_below_eps():
    # Documented difference: torch stops reducing once a step changes lr by <= eps=1e-8.
    metrics = np.full(40, 1.0, np.float32)
    ours, _ = scan_scales(metrics, factor=0.1, patience=0)
    ref = torch_scales(metrics, factor=0.1, patience=0, eps=1e-8)
    stuck = ref < 1e-7
    np.testing.assert_allclose(ours[~stuck], ref[~stuck], rtol=1e-6)
    assert ref[-1] == pytest.approx(1e-8)  # torch: 1e-8 -> 1e-9 is a change < eps, skipped
    assert ours[-1] < 1e-30


@pytest.mark.parametrize("acc", [3, 5])
@pytest.mark.parametrize("mode", ["min", "max"])
def test_accumulation_matches_torch_fed_group_means(acc, mode):
    metrics = SEQUENCES["walk"]
    ours, states = scan_scales(metrics, acc=acc, mode=mode, patience=1, threshold=1e-3)
    n_groups = N // acc
    means = metrics[: n_groups * acc].astype(np.float64).reshape(n_groups, acc).mean(axis=1)
    ref = torch_scales(means, factor=0.5, patience=1, threshold=1e-3, mode=mode)
    assert ref[-1] < 1.0
    # One decision per group, at its last update; the scale holds in between.
    expected = np.concatenate([[1.0] * (acc - 1), np.repeat(ref, acc)])[:N]
    np.testing.assert_allclose(ours, expected, rtol=1e-6)
    np.testing.assert_array_equal(states.count, np.arange(1, N + 1) % acc)
    # avg_value is the running mean of the group so far (0 right after a decision).
    i = acc + 1  # second update of the second group
    np.testing.assert_allclose(states.avg_value[i], metrics[acc : i + 1].mean(), rtol=1e-6)
    assert states.avg_value[2 * acc - 1] == 0.0


def test_validation_once_per_epoch_pattern_matches_torch():
    # The first update of epoch e+1 gets the validation loss of epoch e; the others get None.
    val_losses = np.array(
        [1.0, 0.8, 0.7, 0.7, 0.71, 0.69, 0.7, 0.7, 0.6, 0.65, 0.66, 0.7], np.float32
    )
    steps_per_epoch = 4
    tx = optax.chain(optax.sgd(0.1), reduce_on_plateau(factor=0.5, patience=1))
    params = jnp.zeros(())
    state = tx.init(params)
    step = jax.jit(lambda g, s, v: tx.update(g, s, params, value=v))
    used = []  # the learning rate of each update
    val = None
    for epoch in range(len(val_losses) + 1):
        for i in range(steps_per_epoch):
            updates, state = step(jnp.ones(()), state, val if i == 0 else None)
            used.append(-float(updates))  # gradient 1
        if epoch < len(val_losses):
            val = val_losses[epoch]
    ref = torch_scales(val_losses, factor=0.5, patience=1)
    per_epoch = 0.1 * np.concatenate([[1.0], ref])  # torch lr during each epoch
    np.testing.assert_allclose(used, np.repeat(per_epoch, steps_per_epoch), rtol=1e-6)
    assert per_epoch[-1] == pytest.approx(0.1 * 0.5**3)


# --------------------------------------------------------------------------------------------
# The transformation itself
# --------------------------------------------------------------------------------------------


def test_chained_after_a_schedule_scales_its_learning_rate():
    schedule = optax.warmup_cosine_decay_schedule(0.0, 0.1, 5, 40, end_value=0.01)
    tx = optax.chain(optax.sgd(schedule), reduce_on_plateau(factor=0.5, patience=1))
    params = {"w": jnp.zeros(3), "b": jnp.zeros(())}
    grads = {"w": jnp.array([1.0, -2.0, 0.5]), "b": jnp.array(3.0)}
    state = tx.init(params)
    metrics = SEQUENCES["plateaus"][:30]
    ref = torch_scales(metrics, factor=0.5, patience=1)
    step = jax.jit(lambda s, v: tx.update(grads, s, params, value=v))
    for t, m in enumerate(metrics):
        updates, state = step(state, m)
        scale = state[1].scale
        assert float(scale) == pytest.approx(ref[t], rel=1e-6)
        chex.assert_trees_all_close(
            updates,
            jax.tree.map(lambda g, t=t: -schedule(t) * ref[t] * g, grads),
            rtol=1e-6,
        )
    assert ref[-1] < 1.0


def test_updates_keep_their_dtype():
    tx = reduce_on_plateau(factor=0.5, patience=0)
    state = tx.init(None)
    g = {"a": jnp.ones(2, jnp.bfloat16), "b": jnp.ones(2, jnp.float32)}
    updates, state = tx.update(g, state, value=1.0)
    updates, state = tx.update(g, state, value=2.0)
    assert updates["a"].dtype == jnp.bfloat16 and updates["b"].dtype == jnp.float32
    np.testing.assert_array_equal(updates["b"], [0.5, 0.5])


def test_value_none_counts_nothing():
    tx = reduce_on_plateau(patience=0, accumulation_size=2)
    state = tx.init(None)
    _, state = tx.update(None, state, value=3.0)
    updates, same = tx.update(jnp.full(2, 2.0), state, value=None)
    chex.assert_trees_all_equal(same, state)
    np.testing.assert_array_equal(updates, [2.0, 2.0])
    assert int(state.count) == 1 and float(state.avg_value) == 3.0


def test_state_fields_after_a_reduction():
    tx = reduce_on_plateau(factor=0.5, patience=1, cooldown=3)
    state = tx.init(None)
    assert isinstance(state, ReduceOnPlateauState)
    assert float(state.scale) == 1.0 and float(state.best_value) == np.inf
    for v in [2.0, 1.0, 1.5, 1.5]:
        _, state = tx.update(None, state, value=v)
    assert float(state.scale) == 0.5
    assert float(state.best_value) == 1.0
    assert int(state.plateau_count) == 0
    assert int(state.cooldown_count) == 3
    _, state = tx.update(None, state, value=1.2)
    assert int(state.cooldown_count) == 2 and int(state.plateau_count) == 0
    max_state = reduce_on_plateau(mode="max").init(None)
    assert float(max_state.best_value) == -np.inf


def test_scan_equals_python_loop():
    metrics = SEQUENCES["walk"]
    kw = dict(factor=0.5, patience=1, cooldown=2, threshold=0.05, accumulation_size=2)
    _, scanned = scan_scales(metrics, factor=0.5, patience=1, cooldown=2, threshold=0.05, acc=2)
    tx = reduce_on_plateau(**kw)
    state = tx.init(None)
    for t, m in enumerate(metrics):  # eager, no jit
        _, state = tx.update(jnp.ones(()), state, value=m)
        chex.assert_trees_all_close(state, jax.tree.map(lambda x, t=t: x[t], scanned), rtol=1e-6)
    assert float(state.scale) < 1.0


def test_state_dtypes_are_stable_under_x64():
    with jax.enable_x64(True):
        tx = reduce_on_plateau(factor=0.5, patience=0, accumulation_size=2)
        params = jnp.zeros(2, jnp.float32)
        state0 = tx.init(params)
        step = jax.jit(lambda s, v: tx.update(jnp.ones(2, jnp.float32), s, value=v))
        state = state0
        for v in [1.0, np.float32(2.0), jnp.float64(3.0), jnp.asarray(4, jnp.int32), 5.0, 6.0]:
            updates, state = step(state, v)
            chex.assert_trees_all_equal_dtypes(state, state0)
            assert jax.tree.map(lambda x: x.weak_type, state) == jax.tree.map(
                lambda x: x.weak_type, state0
            )
            _, eager = tx.update(jnp.ones(2, jnp.float32), state, value=v)
            chex.assert_trees_all_equal_dtypes(eager, state0)
            assert updates.dtype == jnp.float32
        assert state0.scale.dtype == jnp.float64 and state0.count.dtype == jnp.int32
        assert float(state.scale) == 0.25
    assert reduce_on_plateau().init(None).scale.dtype == jnp.float32


def test_hyperparameters_are_traceable_under_vmap():
    metrics = jnp.asarray(SEQUENCES["plateaus"])
    factors = jnp.array([0.5, 0.2, 0.9])
    min_scales = jnp.array([0.0, 0.1, 0.5])

    def final_scale(factor, min_scale):
        states, _ = run_scan(
            metrics, factor, 2, 1e-4, 1, min_scale, 1, mode="min", threshold_mode="rel"
        )
        return states.scale[-1]

    batched = jax.vmap(final_scale)(factors, min_scales)
    for i in range(3):
        ref = torch_scales(
            np.asarray(metrics),
            factor=float(factors[i]),
            patience=2,
            cooldown=1,
            min_scale=float(min_scales[i]),
        )[-1]
        assert float(batched[i]) == pytest.approx(ref, rel=1e-6)


def test_value_must_be_scalar():
    tx = reduce_on_plateau()
    with pytest.raises(ValueError, match="`value` must be a scalar"):
        tx.update(None, tx.init(None), value=jnp.ones(3))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(factor=1.0), r"`factor` must be in \(0, 1\), got 1.0"),
        (dict(factor=0.0), r"`factor` must be in \(0, 1\), got 0.0"),
        (dict(factor=float("nan")), r"`factor` must not be NaN"),
        (dict(factor=np.array([0.1, 0.2])), r"`factor` must be a scalar"),
        (dict(patience=-1), r"`patience` must be >= 0, got -1"),
        (dict(patience=2.5), r"`patience` must be an integer, got 2.5"),
        (dict(threshold=-1e-4), r"`threshold` must be in \[0, 1\), got -0.0001"),
        (dict(threshold=1.0), r"`threshold` must be in \[0, 1\), got 1.0"),
        (dict(threshold=-1.0, threshold_mode="abs"), r"`threshold` must be >= 0, got -1.0"),
        (dict(threshold_mode="relative"), r"`threshold_mode` must be one of \['rel', 'abs'\]"),
        (dict(cooldown=-2), r"`cooldown` must be >= 0, got -2"),
        (dict(min_scale=-0.1), r"`min_scale` must be in \[0, 1\], got -0.1"),
        (dict(min_scale=2.0), r"`min_scale` must be in \[0, 1\], got 2.0"),
        (dict(mode="minimum"), r"`mode` must be one of \['min', 'max'\], got 'minimum'"),
        (dict(accumulation_size=0), r"`accumulation_size` must be > 0, got 0"),
        (dict(accumulation_size=1.5), r"`accumulation_size` must be an integer"),
    ],
)
def test_invalid_arguments_raise_naming_them(kwargs, match):
    with pytest.raises(ValueError, match=match):
        reduce_on_plateau(**kwargs)


def test_non_numbers_raise_type_error():
    with pytest.raises(TypeError, match="`patience` must be a number"):
        reduce_on_plateau(patience="10")


def test_large_relative_threshold_allowed_in_max_mode():
    tx = reduce_on_plateau(mode="max", threshold=1.5, patience=0)
    metrics = np.array([1.0, 2.0, 2.6, 6.6], np.float32)
    state = tx.init(None)
    for m in metrics:
        _, state = tx.update(None, state, value=m)
    assert float(state.best_value) == pytest.approx(6.6)
    ref = torch_scales(metrics, mode="max", threshold=1.5, patience=0)
    assert float(state.scale) == pytest.approx(ref[-1], rel=1e-6)
    assert ref[-1] == pytest.approx(0.1)


def test_exported():
    assert jaxdecay.reduce_on_plateau is reduce_on_plateau
    assert "reduce_on_plateau" in jaxdecay.__all__ and "ReduceOnPlateauState" in jaxdecay.__all__
