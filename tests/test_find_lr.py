"""The learning-rate range test: known answers on a quadratic, and a real classification problem."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxdecay
from jaxdecay import find_lr


def _quadratic(a: float):
    """SGD on ``0.5 * a * |x - b|^2`` contracts for lr < 2/a and diverges for lr > 2/a."""
    return lambda x, b: 0.5 * a * jnp.sum((x - b) ** 2)


def _noisy_targets(seed: int = 0) -> np.ndarray:
    # 64 batches of targets around 0: the loss has a noise floor, as in real training.
    return 0.1 * np.random.default_rng(seed).standard_normal((64, 8)).astype(np.float32)


@pytest.mark.parametrize("a", [1.0, 4.0, 50.0])
def test_quadratic_suggestion_below_and_divergence_near_the_stability_limit(a):
    limit = 2.0 / a
    r = find_lr(_quadratic(a), jnp.ones(8), _noisy_targets(), min_lr=1e-4 / a, num_steps=300)
    assert r.diverged_at is not None
    assert 0.5 * limit < r.diverged_at < 2.0 * limit
    # The steepest descent is well inside the stable range, and not at the noisy start.
    assert limit / 1000 < r.suggestion < limit / 4
    assert r.suggestion in r.lrs


def test_result_arrays_and_nan_after_divergence():
    r = find_lr(_quadratic(4.0), jnp.ones(8), _noisy_targets(), min_lr=1e-4, num_steps=300)
    assert isinstance(r, jaxdecay.FindLRResult)
    assert r.lrs.shape == r.losses.shape == r.smoothed_losses.shape == (300,)
    # Geometric from min_lr to max_lr.
    np.testing.assert_allclose(r.lrs[[0, -1]], [1e-4, 10.0], rtol=1e-6)
    ratios = r.lrs[1:] / r.lrs[:-1]
    np.testing.assert_allclose(ratios, (10.0 / 1e-4) ** (1 / 299), rtol=1e-5)
    stop = int(np.flatnonzero(r.lrs == r.diverged_at)[0])
    assert np.isfinite(r.losses[: stop + 1]).all()
    assert np.isfinite(r.smoothed_losses[: stop + 1]).all()
    assert np.isnan(r.losses[stop + 1 :]).all() and np.isnan(r.smoothed_losses[stop + 1 :]).all()
    # The detecting step is the first whose smoothed loss exceeds 4x the best so far.
    best = np.minimum.accumulate(r.smoothed_losses[: stop + 1])
    exceeds = r.smoothed_losses[: stop + 1] > 4.0 * best
    assert exceeds[-1] and not exceeds[:-1].any()


def test_smoothed_losses_are_the_bias_corrected_moving_average():
    r = find_lr(
        _quadratic(1.0), jnp.ones(8), _noisy_targets(), min_lr=1e-3, max_lr=1.0, smoothing=0.7
    )
    assert r.diverged_at is None  # max_lr stays below 2/a
    avg, expected = 0.0, []
    for i, loss in enumerate(r.losses.astype(np.float64)):
        avg = 0.7 * avg + 0.3 * loss
        expected.append(avg / (1 - 0.7 ** (i + 1)))
    np.testing.assert_allclose(r.smoothed_losses, expected, rtol=1e-5)
    assert r.smoothed_losses[0] == r.losses[0]


def test_no_smoothing_and_non_finite_loss_is_divergence():
    # The loss turns NaN once |x| > 100; with a huge factor only that can stop the sweep.
    quad = _quadratic(4.0)
    loss = lambda x, b: jnp.where(jnp.max(jnp.abs(x)) > 100, jnp.nan, quad(x, b))
    r = find_lr(loss, jnp.ones(8), _noisy_targets(), smoothing=0.0, diverge_factor=1e30)
    finite = np.isfinite(r.losses)
    np.testing.assert_array_equal(r.smoothed_losses[finite], r.losses[finite])
    stop = int(np.flatnonzero(r.lrs == r.diverged_at)[0])
    assert finite[:stop].all() and not finite[stop:].any()
    assert r.diverged_at > 0.5  # beyond the stability limit 2/a


def test_batches_are_a_pytree_cycled_by_step():
    # The loss reports which batch it saw; the parameters do not matter (zero gradient).
    batches = {"x": jnp.arange(3.0) + 1.0, "y": (jnp.ones((3, 2)),)}
    loss = lambda p, b: 0.0 * p + b["x"] + 0.0 * jnp.sum(b["y"][0])
    r = find_lr(loss, jnp.float32(0.0), batches, num_steps=7)
    np.testing.assert_array_equal(r.losses, [1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 1.0])
    assert r.diverged_at is None


def test_optimizer_is_a_function_of_the_learning_rate_and_compiles_once():
    traces = []

    def loss(x, b):
        traces.append(1)  # runs only while tracing
        return 0.5 * jnp.sum((x - b) ** 2)

    opt = lambda lr: optax.sgd(lr, momentum=0.9)
    r1 = find_lr(loss, jnp.ones(8), _noisy_targets(), optimizer=opt, min_lr=1e-4, max_lr=1.0)
    n = len(traces)
    r2 = find_lr(
        loss, jnp.ones(8), _noisy_targets(), optimizer=opt, min_lr=1e-3, max_lr=2.0, smoothing=0.9
    )
    assert len(traces) == n  # new values of min_lr/max_lr/smoothing reuse the compiled sweep
    assert r1.lrs[0] != r2.lrs[0]
    # Momentum makes a different sweep than plain SGD.
    r3 = find_lr(loss, jnp.ones(8), _noisy_targets(), min_lr=1e-4, max_lr=1.0)
    assert not np.allclose(r1.losses[20:40], r3.losses[20:40])


def test_params_are_not_modified():
    params = {"w": jnp.ones(8)}
    find_lr(lambda p, b: jnp.sum((p["w"] - b) ** 2), params, _noisy_targets(), num_steps=10)
    np.testing.assert_array_equal(params["w"], np.ones(8))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"min_lr": 0.0}, ValueError, r"`min_lr` must be > 0, got 0.0"),
        ({"max_lr": -1.0}, ValueError, r"`max_lr` must be > 0"),
        ({"min_lr": 1e-2, "max_lr": 1e-3}, ValueError, r"`max_lr` must be > `min_lr` \(0.01\)"),
        ({"num_steps": 1}, ValueError, r"`num_steps` must be >= 2, got 1"),
        ({"num_steps": 10.0}, TypeError, r"`num_steps` must be an int"),
        ({"smoothing": 1.0}, ValueError, r"`smoothing` must be in \[0, 1\), got 1.0"),
        ({"smoothing": -0.1}, ValueError, r"`smoothing`"),
        ({"diverge_factor": 1.0}, ValueError, r"`diverge_factor` must be in \(1, inf\)"),
        ({"optimizer": "sgd"}, TypeError, r"`optimizer` must be a function of the learning rate"),
        ({"loss_fn": None}, TypeError, r"`loss_fn`"),
        ({"batches": {"a": np.zeros(3), "b": np.zeros(4)}}, ValueError, r"same leading length"),
        ({"batches": np.float32(1.0)}, ValueError, r"leading"),
        ({"loss_fn": lambda x, b: x - b}, TypeError, r"scalar floating loss"),
    ],
)
def test_bad_arguments_are_refused_with_their_name(kwargs, error, match):
    args = {"loss_fn": _quadratic(1.0), "params": jnp.ones(8), "batches": _noisy_targets()}
    args.update(kwargs)
    with pytest.raises(error, match=match):
        find_lr(**args)


def test_plot_helper():
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    r = find_lr(_quadratic(4.0), jnp.ones(8), _noisy_targets(), min_lr=1e-4, num_steps=300)
    ax = r.plot()
    try:
        assert ax.get_xscale() == "log"
        np.testing.assert_array_equal(ax.lines[1].get_xdata(), r.lrs)
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        assert f"suggestion {r.suggestion:.3g}" in legend
        assert f"diverged at {r.diverged_at:.3g}" in legend
        # The y range shows the curve before the blow-up.
        lo, hi = ax.get_ylim()
        assert hi < 2 * np.nanmax(r.smoothed_losses[:10])
    finally:
        plt.close(ax.figure)


# --------------------------------------------------------------------------------------------
# A small real problem: a one-hidden-layer MLP on the iris data set.
# --------------------------------------------------------------------------------------------


def _iris():
    data = pytest.importorskip("mlxtend.data")
    x, y = data.iris_data()
    x = (x - x.mean(0)) / x.std(0)
    perm = np.random.default_rng(0).permutation(len(x))
    return jnp.asarray(x[perm], jnp.float32), jnp.asarray(y[perm], jnp.int32)


def _mlp_loss(p, batch):
    x, y = batch
    logits = jnp.tanh(x @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


@functools.partial(jax.jit, static_argnums=0)
def _train(optimizer, lr, params, batches):
    tx = optimizer(lr)
    n = batches[0].shape[0]

    def step(carry, i):
        p, s = carry
        grads = jax.grad(_mlp_loss)(p, jax.tree.map(lambda b: b[i % n], batches))
        updates, s = tx.update(grads, s, p)
        return (optax.apply_updates(p, updates), s), None

    (p, _), _ = jax.lax.scan(step, (params, tx.init(params)), jnp.arange(300))
    return p


def test_iris_suggestion_trains_well():
    optimizer = optax.sgd
    x, y = _iris()
    batches = (x.reshape(5, 30, 4), y.reshape(5, 30))
    rng = np.random.default_rng(0)
    params = {
        "w1": jnp.asarray(0.5 * rng.standard_normal((4, 16)), jnp.float32),
        "b1": jnp.zeros(16),
        "w2": jnp.asarray(0.5 * rng.standard_normal((16, 3)), jnp.float32),
        "b2": jnp.zeros(3),
    }
    r = find_lr(_mlp_loss, params, batches, optimizer=optimizer, min_lr=1e-5, max_lr=10.0)
    assert 1e-3 < r.suggestion < 2.0
    full_loss = jax.jit(_mlp_loss)
    start = float(full_loss(params, (x, y)))
    with_suggestion = float(full_loss(_train(optimizer, r.suggestion, params, batches), (x, y)))
    with_min_lr = float(full_loss(_train(optimizer, 1e-5, params, batches), (x, y)))
    assert with_min_lr > 0.95 * start  # min_lr barely moves
    assert with_suggestion < 0.25 * start  # the suggestion trains: loss down by 4x or more
    assert with_suggestion < 0.25 * with_min_lr
