"""examples/hypergradient.py on tiny data: the meta-gradient is the derivative of the whole inner
run (float64 finite differences), checkpointing does not change it, the outer loop lowers the
validation loss, and the command line writes its outputs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

pytest.importorskip("flax")
pytest.importorskip("mlxtend")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

import hypergradient as hg  # noqa: E402

TINY = hg.Config(
    inner_steps=6,
    batch_size=8,
    hidden_sizes=(8,),
    outer_steps=2,
    val_size=32,
    train_size=64,
    test_size=32,
    grid=(0.1, 0.9),
    long_factor=2,
    truncated_outer_steps=1,
    download=False,
)


@pytest.fixture(scope="module")
def tiny_data():
    return hg.load_data(TINY)


def _problem(data, config, dtype):
    graphdef, params = hg.init_model(config, dtype)
    idx = jnp.asarray(hg.batch_indices(len(data.train_y), config.inner_steps, config.batch_size, 0))
    return graphdef, params, (data.train_x, data.train_y, idx, data.val_x, data.val_y)


def test_chunk_size_is_the_largest_divisor_up_to_the_square_root():
    assert [hg.chunk_size(k) for k in (1, 6, 7, 100, 300, 1000)] == [1, 2, 1, 10, 15, 25]


def test_meta_gradient_equals_finite_differences_of_the_whole_inner_run(tiny_data):
    with jax.enable_x64(True):
        graphdef, params, data = _problem(tiny_data, TINY, jnp.float64)
        k = TINY.inner_steps
        u, constrain = hg.reparametrize(hg.start_schedule(TINY, k, jnp.float64), k)
        assert all(v.dtype == jnp.float64 for v in u.values())

        def objective(u, remat):
            return hg.meta_objective(
                u, constrain, graphdef, params, data, momentum=TINY.momentum, remat=remat
            )

        grads = {
            remat: jax.jit(jax.grad(objective), static_argnums=1)(u, remat) for remat in hg.REMATS
        }
        value = jax.jit(objective, static_argnums=1)
        for key in u:
            eps = 1e-5
            up = value({**u, key: u[key] + eps}, "none")
            down = value({**u, key: u[key] - eps}, "none")
            fd = (float(up) - float(down)) / (2 * eps)
            assert abs(fd) > 1e-6, key  # every parameter moves the loss
            np.testing.assert_allclose(float(grads["none"][key]), fd, rtol=1e-5, err_msg=key)
            for remat in ("step", "nested"):
                np.testing.assert_allclose(
                    float(grads[remat][key]), float(grads["none"][key]), rtol=1e-10
                )


def test_grid_sweep_equals_separate_runs(tiny_data):
    graphdef, params, data = _problem(tiny_data, TINY, jnp.float32)
    rates = jnp.asarray([0.05, 0.5], jnp.float32)
    peak, w = jnp.float32(0.1), jnp.float32(1.0)
    k = TINY.inner_steps
    swept = hg.grid_sweep(graphdef, params, rates, peak, w, data, horizon=k, momentum=0.9)
    for i in range(2):
        s = hg.make_schedule(peak, rates[i], w, k)
        alone, _ = hg.train_and_evaluate(graphdef, params, s, data, momentum=0.9)
        np.testing.assert_allclose(float(swept[i]), float(alone), rtol=1e-5)
    assert float(swept[0]) != float(swept[1])


def test_train_refuses_an_unknown_remat(tiny_data):
    graphdef, params, (x, y, idx, _, _) = _problem(tiny_data, TINY, jnp.float32)
    with pytest.raises(ValueError, match="`remat` must be one of none, step, nested, got 'all'"):
        hg.train(
            graphdef,
            params,
            hg.make_schedule(0.1, 0.5, 1.0, 6),
            x,
            y,
            idx,
            momentum=0.9,
            remat="all",
        )


def test_command_line_lowers_the_validation_loss_and_writes_results(tmp_path, capsys):
    # A too-small starting learning rate: the hypergradient must raise the peak, and the tuned
    # schedule must end with a lower validation loss than the start.
    argv = [
        "--inner_steps", "10", "--batch_size", "8", "--hidden_sizes", "8", "--outer_steps", "5",
        "--peak_value", "0.01", "--val_size", "32", "--train_size", "64", "--test_size", "32",
        "--grid", "0.1", "0.9", "--long_factor", "2", "--truncated_outer_steps", "0",
        "--no-download", "--workdir", str(tmp_path),
    ]  # fmt: skip
    r = hg.main(argv)
    out = capsys.readouterr().out
    assert "outer   0  peak 0.0100  decay_rate 0.5000  warmup   1.00" in out
    assert "outer   4" in out and "best grid  decay_rate" in out and "truncated" not in out
    assert [h["step"] for h in r.history] == list(range(5))
    assert r.history[0]["val_loss"] == pytest.approx(r.start_val_loss, rel=1e-5)
    assert r.tuned_val["loss"] < r.start_val_loss - 0.01, (r.start_val_loss, r.tuned_val)
    assert r.tuned["peak_value"] > 0.01
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["tuned_updates"] == 5 * 10 and saved["grid_updates"] == 2 * 10
    assert saved["grid_rates"] == [0.1, 0.9] and len(saved["grid_val_loss"]) == 2
    assert saved["best_grid_val"]["loss"] == pytest.approx(min(saved["grid_val_loss"]), 1e-5)
    assert saved["long_horizon"]["updates"] == 20
    assert saved["tuned"] == pytest.approx(r.tuned)
    png = (tmp_path / "schedules.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000
