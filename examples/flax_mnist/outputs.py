"""What a run writes and prints: per-epoch records, the workdir's files, plots, progress.

Public names (stable): ``METRIC_FIELDS``, ``STEP_FIELDS``, ``History``, ``write_files``,
``write_json``, ``save_plots``, ``sweep_table``, ``ProgressBar``.

A :class:`History` is plain JSON (it is saved inside each checkpoint, next to the model state,
so the files are always rewritten from what the checkpoint holds). The workdir gets:

- a plain run: ``metrics.json`` and ``metrics.csv`` (one record per epoch, ``METRIC_FIELDS``),
  ``steps.csv`` (``step, learning_rate, loss`` per update), ``learning_rate.png`` and
  ``loss_accuracy.png``;
- a sweep: ``sweep.json`` (``[{"overrides": {name: value}, "metrics": [...]}, ...]``),
  ``sweep_steps.csv`` (``config, step, learning_rate, loss``) and ``sweep.png``;
- always ``config.json``: what must match to resume (written by ``train.py``).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

METRIC_FIELDS = ("epoch", "learning_rate", "train_loss", "test_loss", "test_accuracy", "seconds")
STEP_FIELDS = ("step", "learning_rate", "loss")


@dataclasses.dataclass
class History:
    """Every configuration's epoch records and per-update rows (one entry per configuration)."""

    runs: list[dict]  # [{"overrides": {name: value} or {}, "metrics": [record, ...]}]
    steps: list[list[dict]]  # per configuration: [{"step", "learning_rate", "loss"}, ...]
    sweep: bool

    @classmethod
    def empty(cls, overrides: Sequence[dict], sweep: bool) -> History:
        return cls(
            [{"overrides": dict(o), "metrics": []} for o in overrides],
            [[] for _ in overrides],
            sweep,
        )

    def to_json(self) -> dict:
        return {"runs": self.runs, "steps": self.steps, "sweep": self.sweep}

    @classmethod
    def from_json(cls, d: dict) -> History:
        return cls(d["runs"], d["steps"], d["sweep"])

    @property
    def epochs(self) -> int:
        return len(self.runs[0]["metrics"])

    def add_epoch(
        self,
        epoch: int,
        losses: np.ndarray,
        lrs: np.ndarray,
        test_loss: np.ndarray,
        test_accuracy: np.ndarray,
        seconds: float,
    ) -> list[str]:
        """Record one epoch (arrays ``(configs, steps)`` and ``(configs,)``); its log lines."""
        steps = losses.shape[1]
        lines = []
        for i, run in enumerate(self.runs):
            rec = {
                "epoch": epoch,
                "learning_rate": float(lrs[i, -1]),
                "train_loss": float(np.mean(losses[i])),
                "test_loss": float(test_loss[i]),
                "test_accuracy": float(test_accuracy[i]),
                "seconds": round(seconds, 3),
            }
            run["metrics"].append(rec)
            first = (epoch - 1) * steps
            self.steps[i].extend(
                {"step": first + j, "learning_rate": float(lrs[i, j]), "loss": float(losses[i, j])}
                for j in range(steps)
            )
            prefix = f"[{label(run['overrides'])}] " if self.sweep else ""
            lines.append(
                f"{prefix}epoch {epoch:3d} | lr {rec['learning_rate']:.6g} | train loss "
                f"{rec['train_loss']:.4f} | test loss {rec['test_loss']:.4f} | test acc "
                f"{100 * rec['test_accuracy']:6.2f}% | {seconds:.2f} s"
            )
        return lines


def label(overrides: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in overrides.items()) or "run"


def write_json(path: Path, obj: Any) -> None:
    """Write atomically: a temporary file renamed into place."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n")
    os.replace(tmp, path)


def _write_csv(path: Path, fields: Sequence[str], rows: Sequence[dict]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(fields))
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, path)


def write_files(workdir: Path, history: History) -> None:
    """The JSON and CSV files of ``history`` (this module's docstring lists them)."""
    if history.sweep:
        write_json(workdir / "sweep.json", history.runs)
        _write_csv(
            workdir / "sweep_steps.csv",
            ("config", *STEP_FIELDS),
            [{"config": i, **r} for i, rows in enumerate(history.steps) for r in rows],
        )
    else:
        write_json(workdir / "metrics.json", history.runs[0]["metrics"])
        _write_csv(workdir / "metrics.csv", METRIC_FIELDS, history.runs[0]["metrics"])
        _write_csv(workdir / "steps.csv", STEP_FIELDS, history.steps[0])


def save_plots(workdir: Path, history: History) -> None:
    """A plain run: ``learning_rate.png`` and ``loss_accuracy.png``. A sweep: ``sweep.png``,
    every configuration's learning rate, losses and accuracy overlaid, one colour each."""
    from matplotlib.figure import Figure  # no pyplot: no global backend state

    if history.sweep:
        fig = Figure(figsize=(15, 4.5), layout="constrained")
        ax_lr, ax_loss, ax_acc = fig.subplots(1, 3)
        fig_lr = fig
    else:
        fig_lr = Figure(figsize=(6, 4), layout="constrained")
        ax_lr = fig_lr.add_subplot()
        fig = Figure(figsize=(10, 4), layout="constrained")
        ax_loss, ax_acc = fig.subplots(1, 2)
    for i, (run, rows) in enumerate(zip(history.runs, history.steps, strict=True)):
        kw = {"color": f"C{i % 10}", "marker": "o", "markersize": 3}
        lab = label(run["overrides"])
        m = run["metrics"]
        ep = [r["epoch"] for r in m]
        ax_lr.plot(
            [r["step"] for r in rows],
            [r["learning_rate"] for r in rows],
            color=kw["color"],
            label=lab,
        )
        ax_loss.plot(ep, [r["train_loss"] for r in m], "--", label=f"{lab} train", **kw)
        ax_loss.plot(ep, [r["test_loss"] for r in m], "-", label=f"{lab} test", **kw)
        ax_acc.plot(ep, [100 * r["test_accuracy"] for r in m], "-", label=lab, **kw)
    ax_lr.set(xlabel="step (optimizer updates)", ylabel="learning rate", title="Learning rate")
    ax_loss.set(xlabel="epoch", ylabel="loss", title="Loss")
    ax_acc.set(xlabel="epoch", ylabel="test accuracy (%)", title="Test accuracy")
    ax_loss.legend(fontsize="small")
    if history.sweep:
        ax_lr.legend(fontsize="small")
        fig.savefig(workdir / "sweep.png", dpi=100)
    else:
        fig_lr.savefig(workdir / "learning_rate.png", dpi=100)
        fig.savefig(workdir / "loss_accuracy.png", dpi=100)


def sweep_table(history: History) -> str:
    """One row per configuration: final and best test accuracy, best epoch, final test loss."""
    head = f"{'configuration':<28} {'final acc':>9} {'best acc':>9} {'best ep':>7} {'test loss':>9}"
    lines = [head, "-" * len(head)]
    for run in history.runs:
        m = run["metrics"]
        best = max(m, key=lambda r: r["test_accuracy"])
        lines.append(
            f"{label(run['overrides']):<28} {100 * m[-1]['test_accuracy']:>8.2f}% "
            f"{100 * best['test_accuracy']:>8.2f}% {best['epoch']:>7d} {m[-1]['test_loss']:>9.4f}"
        )
    return "\n".join(lines)


class ProgressBar:
    """A tqdm bar for one epoch, advanced on the host once per chunk of updates (never from
    inside the compiled step: no device-to-host round trip per update)."""

    def __init__(self, total: int):
        self.total = total
        self.bar = None

    def start(self, epoch: int) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=self.total, desc=f"epoch {epoch}", leave=False, unit="step")

    def update(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
