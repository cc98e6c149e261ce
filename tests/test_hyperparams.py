"""hyperparams() / effective_learning_rate() on real Optax and Flax optimizer states."""

from __future__ import annotations

import chex
import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
import optax
import optax.contrib
import pytest
from flax import nnx

import jaxdecay
from jaxdecay import effective_learning_rate, hyperparams, reduce_on_plateau

LR = optax.warmup_cosine_decay_schedule(0.0, 1e-2, 3, 12, end_value=1e-3)
B1 = optax.linear_schedule(0.8, 0.95, 10)
MOMENTUM = optax.linear_schedule(0.5, 0.9, 6)


def quadratic_loss(params, x):
    return sum(jnp.sum((p - x) ** 2) for p in jax.tree.leaves(params))


def train(tx, params, steps, *, value=None, x=1.0):
    """Run `steps` jitted updates; return the hyperparams() dict after each, and final state."""

    @jax.jit
    def step(params, state):
        loss, grads = jax.value_and_grad(quadratic_loss)(params, x)
        kwargs = {} if value is None else {"value": loss if value == "loss" else value}
        updates, state = tx.update(grads, state, params, **kwargs)
        return optax.apply_updates(params, updates), state

    state = tx.init(params)
    seen = []
    for _ in range(steps):
        params, state = step(params, state)
        seen.append(hyperparams(state))
    return seen, params, state


def test_inject_adamw_reports_each_schedule_value():
    tx = optax.inject_hyperparams(optax.adamw)(learning_rate=LR, b1=B1)
    params = {"w": jnp.zeros(3), "b": jnp.zeros(())}
    assert float(hyperparams(tx.init(params))["learning_rate"]) == pytest.approx(float(LR(0)))
    seen, _, state = train(tx, params, 12)
    assert set(seen[0]) == set(state.hyperparams) >= {"learning_rate", "b1", "b2", "weight_decay"}
    for t, hp in enumerate(seen):  # after update t, the values update t used
        np.testing.assert_allclose(hp["learning_rate"], LR(t), rtol=1e-6)
        np.testing.assert_allclose(hp["b1"], B1(t), rtol=1e-6)
        np.testing.assert_allclose(hp["b2"], 0.999, rtol=1e-6)
        assert isinstance(hp["learning_rate"], jax.Array)
    np.testing.assert_allclose(effective_learning_rate(state), LR(11), rtol=1e-6)


def test_stateful_and_deprecated_inject_states_are_found():
    inner = optax.sgd(0.1).init(jnp.zeros(2))
    old = optax.InjectHyperparamsState(
        count=jnp.zeros((), jnp.int32),
        hyperparams={"learning_rate": jnp.array(0.3)},
        inner_state=inner,
    )
    assert {k: float(v) for k, v in hyperparams(old).items()} == pytest.approx(
        {"learning_rate": 0.3}
    )
    assert float(effective_learning_rate(old)) == pytest.approx(0.3)


def test_multi_transform_groups_are_keyed_by_label():
    transforms = {
        "adam": optax.inject_hyperparams(optax.adam)(learning_rate=LR),
        "sgd": optax.inject_hyperparams(optax.sgd)(learning_rate=MOMENTUM, momentum=0.9),
    }
    labels = {"w": "adam", "b": "sgd"}
    params = {"w": jnp.zeros(3), "b": jnp.zeros(())}
    tx = optax.multi_transform(transforms, labels)
    # Behind a chain element the chain index is shared by both groups and dropped from the keys.
    chained = optax.chain(
        optax.clip_by_global_norm(10.0), optax.multi_transform(transforms, labels)
    )
    for opt in (tx, chained):
        seen, final, state = train(opt, params, 8)
        assert set(seen[0]) == {
            "adam/learning_rate", "sgd/learning_rate", "b1", "b2", "eps", "eps_root", "momentum"
        }  # fmt: skip
        for t, hp in enumerate(seen):
            np.testing.assert_allclose(hp["adam/learning_rate"], LR(t), rtol=1e-6)
            np.testing.assert_allclose(hp["sgd/learning_rate"], MOMENTUM(t), rtol=1e-6)
        with pytest.raises(ValueError, match=r"2 learning rates; pass `key`, one of \["):
            effective_learning_rate(state)
        with pytest.raises(ValueError, match="`key` must be one of"):
            effective_learning_rate(state, key="learning_rate")
        np.testing.assert_allclose(
            effective_learning_rate(state, key="sgd/learning_rate"), MOMENTUM(7), rtol=1e-6
        )
        # The groups really trained on their own schedules.
        assert float(final["b"]) > 0 and float(final["w"][0]) > 0


def test_repeated_names_in_a_chain_get_indices():
    tx = optax.chain(
        optax.inject_hyperparams(optax.scale_by_adam)(b1=B1),
        optax.inject_hyperparams(optax.sgd)(learning_rate=LR),
        reduce_on_plateau(factor=0.5, patience=0),
        optax.inject_hyperparams(optax.scale)(step_size=2.0),
        reduce_on_plateau(factor=0.1, patience=0),
    )
    seen, _, state = train(tx, jnp.zeros(2), 3, value=1.0)
    hp = seen[-1]
    assert list(hp) == [
        "b1",
        "b2",
        "eps",
        "eps_root",
        "learning_rate",
        "2/scale",
        "step_size",
        "4/scale",
    ]
    # Constant metric: the first decision improves, the next two do not (patience 0).
    assert float(hp["2/scale"]) == 0.25 and float(hp["4/scale"]) == pytest.approx(0.01)
    np.testing.assert_allclose(effective_learning_rate(state), LR(2) * 0.25 * 0.01, rtol=1e-6)


def test_repeated_learning_rates_in_a_chain():
    tx = optax.chain(
        optax.inject_hyperparams(optax.sgd)(learning_rate=0.1),
        optax.inject_hyperparams(optax.sgd)(learning_rate=LR),
    )
    seen, _, state = train(tx, jnp.zeros(2), 2)
    assert set(seen[-1]) == {"0/learning_rate", "1/learning_rate"}  # momentum=None: not stored
    np.testing.assert_allclose(seen[-1]["1/learning_rate"], LR(1), rtol=1e-6)
    assert float(effective_learning_rate(state, key="0/learning_rate")) == pytest.approx(0.1)


def test_nested_inject_top_level_is_root():
    def factory(learning_rate):
        return optax.chain(
            optax.inject_hyperparams(optax.sgd)(learning_rate=0.5), optax.scale(learning_rate)
        )

    tx = optax.inject_hyperparams(factory)(learning_rate=0.2)
    hp = hyperparams(tx.init(jnp.zeros(2)))
    assert {k: round(float(v), 6) for k, v in hp.items()} == {
        "root/learning_rate": 0.2,
        "0/learning_rate": 0.5,
    }


def test_multisteps_advances_schedule_once_per_k_microbatches():
    k = 3
    tx = optax.MultiSteps(optax.inject_hyperparams(optax.sgd)(learning_rate=LR), every_k_schedule=k)
    seen, params, state = train(tx, jnp.zeros(2), 4 * k)
    for m, hp in enumerate(seen, start=1):  # m micro-batches done, m // k real updates
        updates_done = m // k
        expected = LR(max(updates_done - 1, 0))  # before the first update: the init value
        np.testing.assert_allclose(hp["learning_rate"], expected, rtol=1e-6)
        assert list(hp) == ["learning_rate"]
    assert int(state.gradient_step) == 4
    # The same run without accumulation (x is constant, so the mean gradient is the gradient).
    _, ref, _ = train(optax.inject_hyperparams(optax.sgd)(learning_rate=LR), jnp.zeros(2), 4)
    chex.assert_trees_all_close(params, ref, rtol=1e-6)


def test_checkpoint_restore_continues_identically():
    def make():
        return optax.chain(
            optax.inject_hyperparams(optax.sgd)(learning_rate=LR, momentum=MOMENTUM),
            reduce_on_plateau(factor=0.5, patience=1, threshold=0.3),
        )

    tx = make()

    @jax.jit
    def step(params, state):
        loss, grads = jax.value_and_grad(quadratic_loss)(params, 1.0)
        updates, state = tx.update(grads, state, params, value=loss)
        return optax.apply_updates(params, updates), state

    def run(params, state, n):
        lrs = []
        for _ in range(n):
            params, state = step(params, state)
            lrs.append(float(effective_learning_rate(state)))
        return params, state, lrs

    params0 = {"w": jnp.full(3, 5.0), "b": jnp.array(-2.0)}
    full_params, _, full_lrs = run(params0, tx.init(params0), 12)

    mid_params, mid_state, first = run(params0, tx.init(params0), 5)
    blob = flax.serialization.to_bytes({"params": mid_params, "opt_state": mid_state})
    # A fresh process would rebuild the optimizer and restore into its init state.
    template = {"params": params0, "opt_state": make().init(params0)}
    restored = flax.serialization.from_bytes(template, blob)
    chex.assert_trees_all_equal(restored["opt_state"], mid_state)
    end_params, _, rest = run(restored["params"], restored["opt_state"], 7)

    assert first + rest == full_lrs  # identical, not just close
    chex.assert_trees_all_equal(end_params, full_params)
    assert full_lrs[-1] < 0.5 * float(LR(11))  # the plateau acted


class _Model(nnx.Module):
    def __init__(self, rngs):
        self.linear = nnx.Linear(3, 1, rngs=rngs)

    def __call__(self, x):
        return self.linear(x)


def test_flax_nnx_optimizer_under_nnx_jit():
    def make():
        return optax.chain(
            optax.inject_hyperparams(optax.sgd)(learning_rate=LR, momentum=MOMENTUM),
            reduce_on_plateau(factor=0.5, patience=0, threshold=0.5),
        )

    x = jnp.array([[1.0, 2.0, -1.0], [0.5, -1.0, 2.0]])
    y = jnp.array([[1.0], [-1.0]])
    model = _Model(nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, make(), wrt=nnx.Param)

    def loss_fn(model):
        return jnp.mean((model(x) - y) ** 2)

    @nnx.jit
    def nnx_step(model, optimizer):
        loss, grads = nnx.value_and_grad(loss_fn)(model)
        optimizer.update(model, grads, value=loss)
        return loss

    # The same optimizer, run with plain Optax on the same parameters.
    tx = make()
    graphdef, params = nnx.split(_Model(nnx.Rngs(0)), nnx.Param)
    ref_state = tx.init(params)

    @jax.jit
    def ref_step(params, state):
        loss, grads = jax.value_and_grad(lambda p: loss_fn(nnx.merge(graphdef, p)))(params)
        updates, state = tx.update(grads, state, params, value=loss)
        return optax.apply_updates(params, updates), state

    scales = []
    for t in range(10):
        nnx_step(model, optimizer)
        params, ref_state = ref_step(params, ref_state)
        hp = hyperparams(optimizer.opt_state)
        chex.assert_trees_all_equal(hyperparams(optimizer), hp)  # the optimizer itself works too
        assert set(hp) == {"learning_rate", "momentum", "scale"}
        assert all(isinstance(v, jax.Array) for v in hp.values())
        np.testing.assert_allclose(hp["learning_rate"], LR(t), rtol=1e-6)
        np.testing.assert_allclose(hp["momentum"], MOMENTUM(t), rtol=1e-6)
        chex.assert_trees_all_close(hp, hyperparams(ref_state), rtol=1e-6)
        np.testing.assert_allclose(
            effective_learning_rate(optimizer.opt_state), LR(t) * hp["scale"], rtol=1e-6
        )
        scales.append(float(hp["scale"]))
    chex.assert_trees_all_close(nnx.state(model, nnx.Param), params, rtol=1e-5)
    assert scales[-1] < 1.0  # the plateau saw the loss


def test_effective_learning_rate_placement_rules():
    params = {"a": jnp.zeros(2), "b": jnp.zeros(2)}
    grads = {"a": jnp.ones(2), "b": jnp.ones(2)}

    def after(tx, values):
        state = tx.init(params)
        for v in values:
            _, state = tx.update(grads, state, params, value=v)
        return state

    plateau = reduce_on_plateau(factor=0.5, patience=0)
    sgd = optax.inject_hyperparams(optax.sgd)(learning_rate=0.1)
    two_bad = [1.0, 1.0, 1.0]  # scale 0.25

    # Before the optimizer in the chain: not counted.
    state = after(optax.chain(plateau, sgd), two_bad)
    assert float(effective_learning_rate(state)) == pytest.approx(0.1)
    # Inside the transformation the learning rate controls: counted.
    inner = optax.inject_hyperparams(
        lambda learning_rate: optax.chain(optax.sgd(learning_rate), plateau)
    )
    state = after(inner(learning_rate=0.1), two_bad)
    assert float(effective_learning_rate(state)) == pytest.approx(0.025)
    # Per group: only the group's own plateau.
    tx = optax.multi_transform({"x": optax.chain(sgd, plateau), "y": sgd}, {"a": "x", "b": "y"})
    state = after(tx, two_bad)
    assert float(effective_learning_rate(state, key="x/learning_rate")) == pytest.approx(0.025)
    assert float(effective_learning_rate(state, key="y/learning_rate")) == pytest.approx(0.1)
    # optax.contrib's reduce_on_plateau is recognised too.
    contrib = optax.contrib.reduce_on_plateau(factor=0.5, patience=2)  # reduces at 2 bad
    state = after(optax.chain(sgd, contrib), two_bad)
    assert float(hyperparams(state)["scale"]) == pytest.approx(0.5)
    assert float(effective_learning_rate(state)) == pytest.approx(0.05)


def test_effective_learning_rate_without_injected_learning_rate_raises():
    state = optax.chain(optax.sgd(0.1), reduce_on_plateau()).init(jnp.zeros(2))
    assert list(hyperparams(state)) == ["scale"]
    with pytest.raises(ValueError, match=r"no injected `learning_rate`.*found \['scale'\]"):
        effective_learning_rate(state)
    with pytest.raises(ValueError, match="found no hyperparameters"):
        effective_learning_rate(optax.adam(1e-3).init(jnp.zeros(2)))
    assert hyperparams(optax.adam(1e-3).init(jnp.zeros(2))) == {}


def test_hyperparams_inside_jit():
    tx = optax.chain(optax.inject_hyperparams(optax.sgd)(learning_rate=LR), reduce_on_plateau())
    _, _, state = train(tx, jnp.zeros(2), 4, value="loss")
    chex.assert_trees_all_close(jax.jit(hyperparams)(state), hyperparams(state))
    np.testing.assert_allclose(
        jax.jit(effective_learning_rate)(state), effective_learning_rate(state), rtol=1e-6
    )


def test_exported():
    assert jaxdecay.hyperparams is hyperparams
    assert {"hyperparams", "effective_learning_rate"} <= set(jaxdecay.__all__)
