"""Kill a real run of the Flax MNIST example with SIGKILL, resume it, get the uninterrupted rows.

``main.py`` runs in a subprocess with ``JAXDECAY_MNIST_KILL_AT`` naming the point where it
kills itself: after an epoch's metrics are computed but before its checkpoint, after the
checkpoint but before the files are rewritten, and in the middle of an epoch (after the first
chunk of updates). Each is then resumed and must leave exactly the files of a run that was never
interrupted (the same rows, byte for byte, but for the wall-clock seconds).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from test_flax_mnist_data import EXAMPLE, example_env, tiny_dataset, write_idx_dir  # sets sys.path

for _module in ("flax", "mlxtend", "orbax.checkpoint", "ml_collections"):
    pytest.importorskip(_module)

import train  # noqa: E402
from configs.default import get_config  # noqa: E402

FIELDS = {
    "hidden_sizes": (16,),
    "batch_size": 64,
    "num_epochs": 2,
    "chunk_steps": 3,  # epochs of 4 updates run as chunks of 3 and 1
    "progress": False,
    "plots": False,
    "download": False,
}
KILLS = ("epoch 1 evaluated", "epoch 1 saved", "epoch 2 chunk 1")


def _config(data_dir: Path):
    config = get_config()
    config.update(FIELDS, data_dir=str(data_dir))
    return config


def _flags(data_dir: Path) -> list[str]:
    def text(v):
        return str(v).lower() if isinstance(v, bool) else str(v).replace(" ", "")

    return [f"--config.{k}={text(v)}" for k, v in {**FIELDS, "data_dir": data_dir}.items()]


def _files(workdir: Path) -> dict[str, object]:
    """What the workdir says about the run, but for wall-clock seconds."""
    metrics = json.loads((workdir / "metrics.json").read_text())
    return {
        "metrics.json": [{k: v for k, v in r.items() if k != "seconds"} for r in metrics],
        "metrics.csv": [
            ln.rsplit(",", 1)[0] for ln in (workdir / "metrics.csv").read_text().splitlines()
        ],
        "steps.csv": (workdir / "steps.csv").read_text(),
    }


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("idx")
    write_idx_dir(path, tiny_dataset(256, 10))
    return path


def test_sigkill_anywhere_resumes_to_the_uninterrupted_rows(tmp_path, data_dir):
    env = example_env(PYTHONUNBUFFERED="1")
    procs = {}
    for i, point in enumerate(KILLS):  # the three killed runs in parallel
        cmd = [
            sys.executable,
            str(EXAMPLE / "main.py"),
            f"--workdir={tmp_path / f'killed{i}'}",
            *_flags(data_dir),
        ]
        procs[point] = subprocess.Popen(
            cmd,
            env={**env, train.KILL_AT_ENV: point},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    full = train.train_and_evaluate(_config(data_dir), tmp_path / "full", log=lambda *_: None)
    assert full["steps_per_epoch"] == 4 and full["traces"]["train_chunk"] == 2
    want = _files(tmp_path / "full")
    assert [r["epoch"] for r in want["metrics.json"]] == [1, 2] and len(
        want["steps.csv"].splitlines()
    ) == 9

    for i, (point, proc) in enumerate(procs.items()):
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == -9, (point, stderr[-3000:])  # SIGKILL, at the named point
        workdir = tmp_path / f"killed{i}"
        epoch_lines = [ln for ln in stdout.splitlines() if ln.startswith("epoch ")]
        assert len(epoch_lines) == 1, (point, stdout)  # epoch 1's line, then the kill
        # What the kill left: a checkpoint only once an epoch was saved; files one step behind.
        before = json.loads((workdir / "metrics.json").read_text())
        assert len(before) == (1 if point == "epoch 2 chunk 1" else 0), point
        lines = []
        resumed = train.train_and_evaluate(_config(data_dir), workdir, log=lines.append)
        started = 0 if point == "epoch 1 evaluated" else 1
        assert any(
            f"resuming from the checkpoint after epoch {started}" in ln for ln in lines
        ) == bool(started)
        assert [ln.startswith("epoch ") for ln in lines].count(True) == 2 - started
        assert _files(workdir) == want, point
        assert [r["test_accuracy"] for r in resumed["runs"][0]["metrics"]] == [
            r["test_accuracy"] for r in full["runs"][0]["metrics"]
        ]
