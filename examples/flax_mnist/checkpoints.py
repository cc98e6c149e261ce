"""One checkpoint step per epoch holding the model state, the metrics and the config together.

Public names (stable): ``ITEMS``, ``manager``, ``save``, ``restore``.

An Orbax ``CheckpointManager`` with three items per step, saved by one ``Composite`` call:
``state`` (the training state pytree), ``metrics`` (an ``outputs.History`` as JSON) and
``config`` (what must match to resume). Orbax finalises a step only when every item is written,
so a run killed at any point resumes from the last complete step with exactly the rows of that
epoch; the workdir's CSV and JSON files are rewritten from the restored metrics.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orbax.checkpoint as ocp

ITEMS = ("state", "metrics", "config")


def manager(workdir: Path) -> ocp.CheckpointManager:
    """A manager for ``workdir/checkpoints`` keeping the latest step, saving synchronously."""
    options = ocp.CheckpointManagerOptions(max_to_keep=1, enable_async_checkpointing=False)
    return ocp.CheckpointManager(
        (Path(workdir) / "checkpoints").absolute(), options=options, item_names=ITEMS
    )


def save(mngr: ocp.CheckpointManager, epoch: int, state: Any, metrics: dict, config: dict) -> None:
    """Save step ``epoch`` with all three items and wait until it is final."""
    mngr.save(
        epoch,
        args=ocp.args.Composite(
            state=ocp.args.StandardSave(state),
            metrics=ocp.args.JsonSave(metrics),
            config=ocp.args.JsonSave(config),
        ),
    )
    mngr.wait_until_finished()


def restore(mngr: ocp.CheckpointManager, state: Any) -> tuple[int, Any, dict, dict]:
    """``(epoch, state, metrics, config)`` of the latest step; ``state`` gives the layout."""
    epoch = mngr.latest_step()
    if epoch is None:
        raise ValueError(f"{mngr.directory} holds no checkpoint")
    got = mngr.restore(
        epoch,
        args=ocp.args.Composite(
            state=ocp.args.StandardRestore(state),
            metrics=ocp.args.JsonRestore(),
            config=ocp.args.JsonRestore(),
        ),
    )
    return int(epoch), got["state"], got["metrics"], got["config"]
