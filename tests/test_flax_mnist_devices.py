"""The Flax MNIST example on several devices and several processes (CPU, simulated).

``--xla_force_host_platform_device_count`` must be set before JAX starts, so each case runs the
example in a fresh Python: one process with 4 CPU devices, 2 processes with 2 CPU devices each
that find each other on 127.0.0.1 (``jax.distributed``, gloo collectives), and issue 19's
``main.py`` command line (a ``vmap`` sweep of ``r`` in ``exponential_decay(0.1, steps_per_epoch,
r)`` with ``sweep_devices`` 4, against the same sweep with ``sweep_devices`` 1).

Tolerances. A sweep with ``sweep_devices`` S lays each configuration's batch over 4 / S devices,
while its own single run lays it over all 4: the per-device partial sums of the gradient are
added in another order, and ``vmap`` turns each matmul into a batched one that accumulates in
another order too. Both are float32 rounding (relative ~1e-7 per update) that compounds over the
updates: losses agree to ``rtol=2e-6`` (observed <= 2e-7 after 16 or 24 updates) and the test
accuracy to one test example (``1 / 200``), which a rounding-sized change of a logit can flip.
Two processes run the same partitioned program as one process with 4 devices (only the
all-reduce goes through gloo): observed identical; asserted to ``rtol=1e-6``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_flax_mnist_data import (  # sets sys.path
    EXAMPLE,
    example_env,
    tiny_dataset,
    write_idx_dir,
)

for _module in ("flax", "mlxtend", "orbax.checkpoint", "ml_collections"):
    pytest.importorskip(_module)


RATES = (0.3, 0.5, 0.7, 0.9)
BASE = {
    "hidden_sizes": (16,),
    "batch_size": 32,
    "num_epochs": 2,
    "schedule": "exponential_decay(0.1, steps_per_epoch, decay_rate)",
    "progress": False,
    "plots": False,
    "checkpoint": False,
    "download": False,
    "sweep_mode": "vmap",
}
LOSS_RTOL = 2e-6
ACC_ATOL = 1 / 200 + 1e-6

WORKER = r"""
import json, sys
spec = json.loads(sys.argv[1])
sys.path.insert(0, spec["example"])
import jax, numpy as np
import input_pipeline, train
from configs.default import get_config

ds = input_pipeline.Dataset(**dict(np.load(spec["npz"])), source="tiny")
out = []
for job in spec["jobs"]:
    config = get_config()
    config.update({**spec["base"], **job["config"]})
    config.schedule_names.decay_rate = job["decay_rate"]
    r = train.train_and_evaluate(config, job["workdir"], dataset=ds, log=lambda *a: None)
    leaf = jax.tree.leaves(r["states"][0]["params"])[0]
    out.append({
        "runs": r["runs"], "mesh": r["mesh"], "traces": r["traces"],
        "spec": list(leaf.sharding.spec), "shard_rows": leaf.addressable_shards[0].data.shape[0],
        "devices": jax.device_count(), "processes": jax.process_count(),
    })
print("RESULT " + json.dumps(out))
"""


def _env(devices: int) -> dict:
    flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={devices}"
    return example_env(XLA_FLAGS=flags, JAX_PLATFORMS="cpu")


def _spec(npz: Path, jobs: list[dict]) -> str:
    return json.dumps({"example": str(EXAMPLE), "npz": str(npz), "base": BASE, "jobs": jobs})


def _result(out: subprocess.CompletedProcess) -> list[dict]:
    assert out.returncode == 0, out.stderr[-4000:]
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


@pytest.fixture(scope="module")
def npz(tmp_path_factory) -> Path:
    """256 train / 200 test real digits, saved for the worker processes."""
    tiny = tiny_dataset(256, 5)
    path = tmp_path_factory.mktemp("data") / "tiny.npz"
    arrays = {f.name: getattr(tiny, f.name) for f in dataclasses.fields(tiny) if f.name != "source"}
    np.savez(path, **arrays)
    return path


@pytest.fixture(scope="module")
def four_devices(npz, tmp_path_factory) -> dict:
    """One process, 4 CPU devices: a single run per rate, and the 4-rate sweep with 4, 2, 1
    devices on the mesh's ``sweep`` axis."""
    wd = tmp_path_factory.mktemp("four")
    jobs = [{"config": {}, "decay_rate": r, "workdir": str(wd / f"single{r}")} for r in RATES]
    sweep = "decay_rate=" + ",".join(map(str, RATES))
    jobs += [
        {
            "config": {"sweep": sweep, "sweep_devices": s},
            "decay_rate": 0.7,
            "workdir": str(wd / f"s{s}"),
        }
        for s in (4, 2, 1)
    ]
    cmd = [sys.executable, "-c", WORKER, _spec(npz, jobs)]
    res = _result(subprocess.run(cmd, env=_env(4), capture_output=True, text=True, timeout=600))
    return {
        "single": dict(zip(RATES, res[:4], strict=True)),
        "sweep": dict(zip((4, 2, 1), res[4:], strict=True)),
    }


_COLUMNS = ("learning_rate", "train_loss", "test_loss", "test_accuracy")


def _columns(run: dict) -> dict[str, np.ndarray]:
    return {k: np.asarray([r[k] for r in run["metrics"]]) for k in _COLUMNS}


def _assert_same_training(got: dict, want: dict, rtol: float = LOSS_RTOL) -> None:
    got, want = _columns(got), _columns(want)
    if os.environ.get("FLAX_MNIST_PRINT_DIFFS"):
        print({k: float(np.max(np.abs(got[k] / want[k] - 1))) for k in _COLUMNS})
    np.testing.assert_allclose(got["learning_rate"], want["learning_rate"], rtol=1e-6)
    np.testing.assert_allclose(got["train_loss"], want["train_loss"], rtol=rtol)
    np.testing.assert_allclose(got["test_loss"], want["test_loss"], rtol=rtol)
    np.testing.assert_allclose(got["test_accuracy"], want["test_accuracy"], atol=ACC_ATOL)


@pytest.mark.parametrize("sweep_devices", [4, 2, 1])
def test_sweep_sharded_over_devices_equals_single_runs(four_devices, sweep_devices):
    swept = four_devices["sweep"][sweep_devices]
    assert swept["devices"] == 4
    assert swept["mesh"] == {"sweep": sweep_devices, "data": 4 // sweep_devices}
    assert swept["traces"]["train_chunk"] == 1  # one jitted program for the 4 configurations
    # The stacked states are split over the `sweep` axis: each device holds 4 / S of them.
    assert swept["spec"] == ["sweep"] and swept["shard_rows"] == 4 // sweep_devices
    assert [r["overrides"] for r in swept["runs"]] == [{"decay_rate": r} for r in RATES]
    for i, rate in enumerate(RATES):
        single = four_devices["single"][rate]
        assert single["mesh"] == {"sweep": 1, "data": 4}
        _assert_same_training(swept["runs"][i], single["runs"][0])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_equal_one_process_with_four_devices(four_devices, npz, tmp_path):
    port = _free_port()
    procs = []
    for pid in range(2):
        dist = {"coordinator_address": f"127.0.0.1:{port}", "num_processes": 2, "process_id": pid}
        jobs = [
            # A checkpointed run in one shared workdir (Orbax writes from both processes)...
            {
                "config": {**dist, "checkpoint": True},
                "decay_rate": 0.5,
                "workdir": str(tmp_path / "plain"),
            },
            {
                "config": {
                    **dist,
                    "sweep": "decay_rate=" + ",".join(map(str, RATES)),
                    "sweep_devices": 2,
                },
                "decay_rate": 0.7,
                "workdir": str(tmp_path / f"sweep{pid}"),  # ...and a sweep, one workdir each
            },
        ]
        cmd = [sys.executable, "-c", WORKER, _spec(npz, jobs)]
        procs.append(
            subprocess.Popen(
                cmd, env=_env(2), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        )
    outs = []
    for p in procs:
        try:
            stdout, stderr = p.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise
        outs.append(_result(subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr)))
    plain, sweep = outs[0]
    assert plain["devices"] == 4 and plain["processes"] == 2
    assert plain["mesh"] == {"sweep": 1, "data": 4}  # the batch spans both processes
    assert sweep["mesh"] == {"sweep": 2, "data": 2}
    # Process 0's metrics are those of one process with 4 devices (and process 1 agrees).
    _assert_same_training(plain["runs"][0], four_devices["single"][0.5]["runs"][0], rtol=1e-6)
    for i in range(len(RATES)):
        _assert_same_training(sweep["runs"][i], four_devices["sweep"][2]["runs"][i], rtol=1e-6)
    for mine, theirs in zip(outs[1], outs[0], strict=True):  # all but the wall-clock seconds
        for a, b in zip(mine["runs"], theirs["runs"], strict=True):
            assert [_columns(a)[k].tolist() for k in _COLUMNS] == [
                _columns(b)[k].tolist() for k in _COLUMNS
            ]
    # Process 0 alone writes files: the sweep's workdir of process 1 stays empty.
    assert {"sweep.json", "sweep_steps.csv", "config.json"} <= {
        p.name for p in (tmp_path / "sweep0").iterdir()
    }
    assert list((tmp_path / "sweep1").iterdir()) == []
    # The checkpointed run: one workdir, the files, and a complete checkpoint of epoch 2.
    shared = {p.name for p in (tmp_path / "plain").iterdir()}
    assert {"metrics.json", "metrics.csv", "steps.csv", "config.json", "checkpoints"} <= shared
    assert [p.name for p in (tmp_path / "plain" / "checkpoints").iterdir()] == ["2"]


# Issue 19's command line: a vmap sweep of a name of its own schedule text on 4 devices.
ISSUE_RATES = (0.3, 0.6, 0.9, 0.99)
ISSUE_COMMAND = (
    "--config.schedule=exponential_decay(0.1, steps_per_epoch, r)",  # the text must use `r`
    "--config.sweep=r=" + ",".join(map(str, ISSUE_RATES)),
    "--config.sweep_mode=vmap",
)
# Tiny: 256 train / 200 test digits, 8 updates per epoch. 3 epochs of a (32,) MLP give the four
# rates accuracies at least 5 test examples apart (observed 62.5, 77.0, 73.0, 75.5%).
ISSUE_TINY = (
    "--config.num_epochs=3", "--config.hidden_sizes=(32,)", "--config.batch_size=32",
    "--config.download=false", "--config.progress=false", "--config.plots=false",
    "--config.checkpoint=false",
)  # fmt: skip


def test_issue_sweep_command_on_four_devices_equals_one_sweep_device(tmp_path):
    """``main.py`` run as the issue says, from a folder outside the checkout, with
    ``sweep_devices`` 4 (one configuration per device) and 1 (the batch over 4 devices)."""
    write_idx_dir(tmp_path / "data", tiny_dataset(256, 5))
    runs = {}
    for s in (4, 1):
        cmd = [
            sys.executable, str(EXAMPLE / "main.py"), f"--workdir={tmp_path / f's{s}'}",
            *ISSUE_COMMAND, f"--config.sweep_devices={s}", *ISSUE_TINY,
            f"--config.data_dir={tmp_path / 'data'}",
        ]  # fmt: skip
        out = subprocess.run(
            cmd, cwd=tmp_path, env=_env(4), capture_output=True, text=True, timeout=300
        )
        assert out.returncode == 0, out.stderr[-4000:]
        assert "4 cpu device(s)" in out.stdout, out.stdout
        assert f"mesh {{'sweep': {s}, 'data': {4 // s}}}" in out.stdout, out.stdout
        assert f"sweep: r over {list(ISSUE_RATES)}, mode vmap" in out.stdout, out.stdout
        runs[s] = json.loads((tmp_path / f"s{s}" / "sweep.json").read_text())
    for s, saved in runs.items():
        assert [e["overrides"] for e in saved] == [{"r": r} for r in ISSUE_RATES], s
        assert all([m["epoch"] for m in e["metrics"]] == [1, 2, 3] for e in saved), s
    last = {s: [e["metrics"][-1] for e in saved] for s, saved in runs.items()}
    for four, one, r in zip(last[4], last[1], ISSUE_RATES, strict=True):
        # The last of 24 updates (count 23) used 0.1 * r ** (23 / 8): the swept `r`.
        assert four["learning_rate"] == pytest.approx(0.1 * r ** (23 / 8), rel=1e-6)
        if os.environ.get("FLAX_MNIST_PRINT_DIFFS"):
            print(r, {k: abs(four[k] - one[k]) for k in _COLUMNS})
        assert four["learning_rate"] == pytest.approx(one["learning_rate"], rel=1e-6)
        for key in ("train_loss", "test_loss"):
            assert four[key] == pytest.approx(one[key], rel=LOSS_RTOL), (r, key)
        assert four["test_accuracy"] == pytest.approx(one["test_accuracy"], abs=ACC_ATOL), r
    # The four rates train four different models: their accuracies differ by more than the
    # one test example that rounding may flip between the two layouts.
    for s in (4, 1):
        acc = sorted(m["test_accuracy"] for m in last[s])
        assert min(np.diff(acc)) > ACC_ATOL, (s, acc)
