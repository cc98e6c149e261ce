"""`jaxdecay.inject_hyperparams`: injected updates equal the non-injected optimizer's.

The feature is described in docs/guides/beyond_optax.md.

One small linear regression, trained for `STEPS` updates inside one jitted `lax.scan` per
optimizer and params dtype; the loss curve of the injected optimizer is compared with the same
optimizer built with plain Python numbers (and, for bfloat16, with `optax.inject_hyperparams`,
which stores the hyperparameters in bfloat16 and diverges).
"""

from __future__ import annotations

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxdecay

STEPS = 200
DTYPES = (jnp.float32, jnp.bfloat16, jnp.float16)
NAMES = tuple(jnp.dtype(d).name for d in DTYPES)
# Loss curves agree to the precision of the params' dtype: relative `RTOL`, plus `ATOL` times the
# initial loss near the end, where the loss is at float16's noise floor. The remaining differences
# come from constants XLA folds for the non-injected optimizer (`1 - 0.999` is computed in float64
# there, in float32 from the state). Measured (max |difference| / initial loss over the 7
# optimizers): float32 3.1e-6, bfloat16 0 (bit-identical), float16 3.3e-4.
RTOL = {"float32": 1e-4, "bfloat16": 2**-7, "float16": 2**-8}
ATOL = {"float32": 1e-5, "bfloat16": 2**-8, "float16": 2**-10}

_X = np.asarray(jax.random.normal(jax.random.PRNGKey(0), (32, 4)))
_W = np.array([1.5, -2.0, 0.5, 3.0])
_Y = _X @ _W + 1.0
SCHED = jaxdecay.cosine_decay(0.05, STEPS, end_value=0.005)


def _params(dtypes=DTYPES):
    """One independent regression per dtype, all in one tree: {"w": {name: ...}, "b": {...}}."""
    return {
        "w": {jnp.dtype(d).name: jnp.zeros(4, d) for d in dtypes},
        "b": {jnp.dtype(d).name: jnp.zeros((), d) for d in dtypes},
    }


def _losses(params):
    out = {}
    for name, w in params["w"].items():
        pred = jnp.asarray(_X, w.dtype) @ w + params["b"][name]
        out[name] = jnp.mean((pred.astype(jnp.float32) - jnp.asarray(_Y, jnp.float32)) ** 2)
    return out


def _total(params):
    return sum(_losses(params).values())


def _kinds(tree):
    return jax.tree.map(lambda x: (jnp.asarray(x).dtype, getattr(x, "weak_type", False)), tree)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _train(opt, dtypes=DTYPES):
    """Each dtype's loss before each of `STEPS` updates (one `lax.scan`), initial, final state."""
    params = _params(dtypes)
    state = opt.init(params)

    def step(carry, _):
        p, s = carry
        losses = _losses(p)
        grads = jax.grad(_total)(p)
        updates, s = opt.update(grads, s, p)
        return (optax.apply_updates(p, updates), s), losses

    (_, final), losses = jax.lax.scan(step, (params, state), None, length=STEPS)
    return losses, state, final


def _inj(factory, **kw):
    return jaxdecay.inject_hyperparams(factory)(**kw)


def _plain(factory, **kw):
    return factory(**kw)


# Each optimizer is built twice from the same values: `make(_plain)` and `make(_inj)`.
OPTIMIZERS = {
    "sgd": lambda inj: inj(optax.sgd, learning_rate=SCHED, momentum=0.9),
    "adam": lambda inj: inj(optax.adam, learning_rate=SCHED, b2=0.999),
    "adamw": lambda inj: inj(optax.adamw, learning_rate=SCHED, b2=0.999, weight_decay=1e-2),
    "lion": lambda inj: inj(optax.lion, learning_rate=SCHED, b1=0.9, b2=0.99, weight_decay=1e-3),
    "chain_clip_adamw": lambda inj: optax.chain(
        inj(optax.clip_by_global_norm, max_norm=1.0),
        # eps=1e-8 is 0 in float16 (0 / 0 once a gradient vanishes): an eps float16 holds.
        inj(optax.adamw, learning_rate=SCHED, b2=0.999, eps=1e-4),
    ),
    "multi_steps": lambda inj: optax.MultiSteps(
        inj(optax.adamw, learning_rate=SCHED, b2=0.999), every_k_schedule=2
    ),
    "multi_transform": lambda inj: optax.multi_transform(
        {
            "w": inj(optax.adam, learning_rate=SCHED, b1=0.8),
            "b": inj(optax.sgd, learning_rate=0.05, momentum=0.5),
        },
        {"w": "w", "b": "b"},
    ),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_injected_loss_curves_equal_plain_for_each_dtype(name):
    want, _, _ = _train(OPTIMIZERS[name](_plain))
    got, init, final = _train(OPTIMIZERS[name](_inj))
    for dt in NAMES:
        w, g = np.asarray(want[dt]), np.asarray(got[dt])
        assert np.all(np.isfinite(w)) and w[-1] < 0.05 * w[0], (name, dt, w[[0, -1]])
        np.testing.assert_allclose(g, w, rtol=RTOL[dt], atol=ATOL[dt] * w[0], err_msg=dt)
    # Same dtypes (and weak types) before and after the STEPS updates of the scan.
    assert _kinds(final) == _kinds(init)
    # The hyperparameters are float32; the moments keep their params' dtype.
    hp = jaxdecay.hyperparams(final)
    assert hp and all(v.dtype == jnp.float32 for v in hp.values()), _kinds(hp)
    for path, leaf in jax.tree_util.tree_leaves_with_path(final):
        keys = jax.tree_util.keystr(path)
        if any(f".{k}" in keys for k in ("mu", "nu", "trace")):
            assert leaf.dtype.name == [d for d in NAMES if d in keys][0], (keys, leaf.dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=NAMES)
def test_updates_bit_identical_in_low_precision(dtype):
    # Eager (no constant folding): three adamw updates give the very same bfloat16/float16
    # numbers; float32 differs by the float64 vs float32 rounding of `1 - b1` (~1e-7).
    params = {"w": jnp.linspace(-1, 1, 4).astype(dtype), "b": jnp.asarray(0.3, dtype)}
    grads = jax.tree.map(lambda p: (3 * p + 0.7).astype(dtype), params)
    kw = dict(learning_rate=0.01, b1=0.9, b2=0.999, weight_decay=1e-2)
    outs = []
    for opt in (optax.adamw(**kw), jaxdecay.inject_hyperparams(optax.adamw)(**kw)):
        s = opt.init(params)
        for _ in range(3):
            u, s = opt.update(grads, s, params)
        outs.append(u)
    for a, b in zip(jax.tree.leaves(outs[0]), jax.tree.leaves(outs[1]), strict=True):
        assert a.dtype == b.dtype == dtype
        a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
        if dtype == jnp.float32:
            np.testing.assert_allclose(b, a, rtol=1e-5)
        else:
            np.testing.assert_array_equal(b, a)


def test_bfloat16_adamw_200_steps_matches_plain_and_optax_injection_does_not():
    # The "done when": 200 steps on bfloat16 params (a bfloat16-only tree, so that
    # `optax.inject_hyperparams` infers bfloat16 for its hyperparameters).
    bf16 = (jnp.bfloat16,)
    plain = optax.adamw(SCHED, b2=0.999)
    ours = jaxdecay.inject_hyperparams(optax.adamw)(learning_rate=SCHED, b2=0.999)
    theirs = optax.inject_hyperparams(optax.adamw)(learning_rate=SCHED, b2=0.999)
    want = np.asarray(_train(plain, bf16)[0]["bfloat16"])
    got, init, _ = _train(ours, bf16)
    naive, naive_init, _ = _train(theirs, bf16)
    np.testing.assert_allclose(np.asarray(got["bfloat16"]), want, rtol=2**-7)
    assert want[-1] < 0.05 * want[0]
    # Optax stores b2 = 0.999 in bfloat16: 1.0, so `1 - b2 = 0` and the second moment stays 0.
    assert naive_init.hyperparams["b2"].dtype == jnp.bfloat16
    assert float(naive_init.hyperparams["b2"]) == 1.0
    assert init.hyperparams["b2"].dtype == jnp.float32
    assert float(init.hyperparams["b2"]) == pytest.approx(0.999, rel=1e-7)
    naive = np.asarray(naive["bfloat16"])
    diverged = ~np.isfinite(naive) | (np.abs(naive - want) > 0.5 * want)
    assert diverged[STEPS // 2 :].all(), naive[:: STEPS // 10]


def test_hyperparams_reads_the_state_and_schedules_use_the_count():
    opt = jaxdecay.inject_hyperparams(optax.adam)(learning_rate=SCHED, b1=0.9)
    params = jnp.zeros(3, jnp.bfloat16)
    grads = jnp.ones(3, jnp.bfloat16)
    state = opt.init(params)
    assert isinstance(state, optax.InjectStatefulHyperparamsState)
    update = jax.jit(opt.update)
    # After init: the value the first update will use; after k updates: the k-th update's.
    for k in range(4):
        hp = jaxdecay.hyperparams(state)
        np.testing.assert_allclose(
            float(hp["learning_rate"]), float(SCHED(max(k - 1, 0))), rtol=1e-6
        )
        assert float(hp["b1"]) == pytest.approx(0.9, rel=1e-7)
        _, state = update(grads, state, params)
    np.testing.assert_allclose(
        float(jaxdecay.effective_learning_rate(state)), float(SCHED(3)), rtol=1e-6
    )


def test_overwritten_numeric_hyperparameter_is_used_and_keeps_its_dtype():
    opt = jaxdecay.inject_hyperparams(optax.sgd)(learning_rate=0.1)
    params = jnp.zeros(3, jnp.float16)
    grads = jnp.ones(3, jnp.float16)
    state = opt.init(params)
    state.hyperparams["learning_rate"] = 0.5  # a Python float, as in Optax's docstring
    updates, state = jax.jit(opt.update)(grads, state, params)
    np.testing.assert_allclose(np.asarray(updates, np.float32), -0.5)
    assert updates.dtype == jnp.float16
    assert state.hyperparams["learning_rate"].dtype == jnp.float32


def test_static_args_and_dtype_choice():
    mask = lambda p: jax.tree.map(lambda x: x.ndim > 0, p)  # noqa: E731
    opt = jaxdecay.inject_hyperparams(optax.adamw, static_args="mask")(
        learning_rate=0.1, weight_decay=0.5, mask=mask
    )
    params = {"w": jnp.ones(3, jnp.bfloat16), "b": jnp.ones((), jnp.bfloat16)}
    state = opt.init(params)
    assert "mask" not in state.hyperparams
    plain = optax.adamw(0.1, weight_decay=0.5, mask=mask)
    grads = jax.tree.map(jnp.ones_like, params)
    chex.assert_trees_all_close(
        opt.update(grads, state, params)[0], plain.update(grads, plain.init(params), params)[0]
    )
    narrow = jaxdecay.inject_hyperparams(optax.adam, hyperparam_dtype=jnp.bfloat16)(0.1)
    assert narrow.init(params).hyperparams["b2"].dtype == jnp.bfloat16
    with pytest.raises(TypeError, match="`hyperparam_dtype` must be a floating dtype, got int32"):
        jaxdecay.inject_hyperparams(optax.adam, hyperparam_dtype=jnp.int32)
    with pytest.raises(ValueError, match="static_args"):
        jaxdecay.inject_hyperparams(optax.adam, static_args="not_an_argument")


def test_x64_stores_float64():
    with jax.enable_x64(True):
        opt = jaxdecay.inject_hyperparams(optax.adam)(learning_rate=0.1)
        state = opt.init(jnp.zeros(2, jnp.float32))
        assert state.hyperparams["b2"].dtype == jnp.float64
        updates, state2 = opt.update(jnp.ones(2, jnp.float32), state, jnp.zeros(2, jnp.float32))
        assert updates.dtype == jnp.float32
        assert _kinds(state2) == _kinds(state)


def test_flax_nnx_optimizer():
    nnx = pytest.importorskip("flax.nnx")

    zeros = nnx.initializers.zeros_init()  # no random init: fewer eager compiles

    class PerDtype(nnx.Module):
        # One linear regression per dtype (float32, bfloat16, float16 params).
        def __init__(self):
            self.layers = nnx.List(
                [
                    nnx.Linear(4, 1, dtype=d, param_dtype=d, kernel_init=zeros, rngs=nnx.Rngs(0))
                    for d in DTYPES
                ]
            )

        def __call__(self, x):
            return [layer(x.astype(layer.param_dtype))[:, 0] for layer in self.layers]

    @nnx.jit
    def step(model, optimizer):
        def loss_fn(m):
            y = jnp.asarray(_Y, jnp.float32)
            losses = [jnp.mean((p.astype(jnp.float32) - y) ** 2) for p in m(jnp.asarray(_X))]
            return sum(losses), jnp.stack(losses)

        (_, losses), grads = nnx.value_and_grad(loss_fn, has_aux=True)(model)
        optimizer.update(model, grads)
        return losses

    curves = []
    for tx in (
        optax.adamw(SCHED, b2=0.999),
        jaxdecay.inject_hyperparams(optax.adamw)(learning_rate=SCHED, b2=0.999),
    ):
        model = PerDtype()
        optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
        before = _kinds(nnx.state(optimizer.opt_state))
        curves.append(np.asarray([step(model, optimizer) for _ in range(10)]))
        assert _kinds(nnx.state(optimizer.opt_state)) == before
    for i, dt in enumerate(NAMES):
        want, got = curves[0][:, i], curves[1][:, i]
        assert want[-1] < want[0]
        np.testing.assert_allclose(got, want, rtol=RTOL[dt], atol=ATOL[dt] * want[0], err_msg=dt)
    lr = jaxdecay.hyperparams(optimizer)["learning_rate"]
    np.testing.assert_allclose(float(lr), float(SCHED(9)), rtol=1e-6)
    assert lr.dtype == jnp.float32


@pytest.mark.parametrize("hyperparam_dtype", [None, jnp.bfloat16, jnp.float16])
def test_the_inner_optimizer_receives_weakly_typed_numbers_of_the_stored_value(hyperparam_dtype):
    seen: dict = {}

    def spy(learning_rate, b2, steps, scales):
        args = dict(learning_rate=learning_rate, b2=b2, steps=steps, scales=scales)
        seen.update(
            {k: (v if jaxdecay._validate.is_concrete(v) else None) for k, v in args.items()}
        )
        seen.update({f"{k}:type": jax.typeof(v) for k, v in args.items()})
        return optax.scale_by_learning_rate(learning_rate)

    opt = jaxdecay.inject_hyperparams(spy, hyperparam_dtype=hyperparam_dtype)(
        learning_rate=SCHED, b2=0.999, steps=3, scales=jnp.asarray([0.5, 0.25, 1e-3])
    )
    params = jnp.zeros(3, jnp.bfloat16)
    state = opt.init(params)
    for traced, update in ((False, opt.update), (True, jax.jit(opt.update))):
        seen.clear()
        update(params, state, params)
        for name in ("learning_rate", "b2", "steps", "scales"):
            kind = seen[f"{name}:type"]
            assert kind.weak_type, name  # as a Python number is: it takes the dtype it meets
            stored = state.hyperparams[name]
            assert kind.shape == stored.shape
            if not traced:
                x = seen[name]
                assert (x * jnp.ones((), jnp.bfloat16)).dtype == jnp.bfloat16, name
                np.testing.assert_array_equal(
                    np.asarray(x, np.float64), np.asarray(stored, np.float64)
                )
        assert jnp.issubdtype(seen["steps:type"].dtype, jnp.integer)
