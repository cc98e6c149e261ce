"""A run's length: re-planned when a run is resumed with another length, or a time budget.

**Resume with another length.**
A run is planned for ``total_steps = steps_per_epoch * num_epochs`` updates when it starts. When
a workdir is resumed with another ``--config.num_epochs`` and the schedule text uses
``total_steps``, re-parsing the text with the new total would make the learning rate jump. The
run continues instead with

    jaxdecay.replan(planned, at_count=<updates done>, new_end=<new total>)

the schedule the run was following up to the checkpoint, its remaining curve stretched (or
squeezed) to end at the new total: the learning rate is continuous at the resume step and the
decay reaches its end value at the new end (``jaxdecay.replan``'s docstring gives the formula;
``docs/guides/beyond_optax.md`` shows it on this example). A run that had already reached the end
of its schedule (a finished cosine decay) stays at its final value. A schedule whose text does not
use ``total_steps`` does not depend on the run's length and is never re-planned.

The plan, ``{"total_steps": <first total>, "replans": [[at_count, new_end, old_end], ...]}``, is
kept in ``<workdir>/plan.json`` (written when a run starts or is re-planned); ``old_end`` is
``None`` unless the schedule has no horizon (then it is the total the run was planned for).

**A time budget** (``--config.time_budget_s=S``): training runs epochs until ``S`` seconds
are spent, and the learning rate is ``jaxdecay.budget(schedule, horizon=H)`` evaluated at the
fraction of the budget spent, which the host measures (``jaxdecay.BudgetClock``) and passes into
each compiled chunk as one progress value per update (``opt.update(..., progress=p)``): no
recompilation, no callback. ``H`` is ``schedule.horizon``, the count where its curve ends; a
schedule without one (the default ``exponential_decay(0.1, steps_per_epoch, decay_rate)`` never
becomes constant) or constant from count 0 on runs over the updates the run was planned for,
``num_epochs * steps_per_epoch`` (where the plan ends). The last update gets progress 1, i.e. the
schedule's value at ``H``: its end value, or the default's ``0.1 * decay_rate ** num_epochs``.
Each epoch's ``progress`` is recorded in ``metrics.json`` (``null`` without a budget). The
budget counts everything from the start of training, compilation included; a resumed run goes
on from the seconds its last epoch had spent.

Public names (stable): ``PLAN_FILE``, ``update_plan``, ``planned_schedule``, ``budget_horizon``,
``learning_rate``, ``make_clock``, ``chunk_progress``, ``epochs``, ``progress``, ``CLOCK``.
"""

from __future__ import annotations

import ast
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import outputs

import jaxdecay

PLAN_FILE = "plan.json"
CLOCK = time.monotonic  # what BudgetClock reads (tests replace it with a fake clock)


def _uses_total_steps(text: str) -> bool:
    return any(
        isinstance(n, ast.Name) and n.id == "total_steps"
        for n in ast.walk(ast.parse(text, mode="eval"))
    )


def _end(plan: dict) -> int:
    return plan["replans"][-1][1] if plan["replans"] else plan["total_steps"]


def planned_schedule(text: str, names: dict[str, Any], plan: dict) -> jaxdecay.Schedule:
    """The schedule of a run with ``plan``: the text parsed with the first total, re-planned.

    Traceable like ``jaxdecay.parse``: ``names`` may bind a swept name to a tracer.
    """
    schedule = jaxdecay.parse(text, names={**names, "total_steps": plan["total_steps"]})
    for at_count, new_end, old_end in plan["replans"]:
        schedule = jaxdecay.replan(schedule, at_count, new_end, old_end=old_end)
    return schedule


def update_plan(
    workdir: Path,
    text: str,
    names: dict[str, Any],
    updates_done: int,
    *,
    write: bool = True,
    log=print,
) -> dict:
    """The plan of a run that starts (``updates_done == 0``) or resumes after ``updates_done``.

    ``names["total_steps"]`` is the total the run is now asked for. A resumed run keeps the plan
    in ``workdir``; if that total differs from where the plan ends and the schedule uses
    ``total_steps``, one ``[updates_done, total, old_end]`` is appended (not when the new total
    is at most ``updates_done``: there is nothing left to train). ``write`` saves ``plan.json``
    (process 0 only).
    """
    total = int(names["total_steps"])
    path = Path(workdir) / PLAN_FILE
    fresh = {"total_steps": total, "replans": []}
    if updates_done == 0:
        plan = fresh
    elif path.exists():
        plan = json.loads(path.read_text())
    else:
        log(f"{path} is missing: the schedule continues as planned for {total} updates")
        plan = fresh
    if _uses_total_steps(text) and _end(plan) != total and total > updates_done:
        before = planned_schedule(text, names, plan)
        old_end = None if before.horizon is not None else _end(plan)
        plan = {**plan, "replans": [*plan["replans"], [int(updates_done), total, old_end]]}
        log(
            f"re-planned: {_end({**plan, 'replans': plan['replans'][:-1]})} -> {total} updates "
            f"from update {updates_done} (jaxdecay.replan)"
        )
    if write:
        outputs.write_json(path, plan)
    return plan


# --------------------------------------------------------------------------------------------
# A time budget
# --------------------------------------------------------------------------------------------


def budget_horizon(schedule: jaxdecay.Schedule, plan: dict) -> Any:
    """The count that progress 1 maps to: ``schedule.horizon``, or the updates ``plan`` ends at
    when the schedule has no horizon (it never becomes constant, like the default
    ``exponential_decay`` without an end value) or is constant from count 0 on."""
    end = jaxdecay.horizon(schedule)
    if end is None or (isinstance(end, int | float | np.number) and end <= 0):
        return _end(plan)
    return end


def learning_rate(
    config: ml_collections.ConfigDict, schedule: jaxdecay.Schedule, plan: dict
) -> Any:
    """The learning rate to inject: ``schedule``, or with a budget
    ``jaxdecay.budget(schedule, horizon=budget_horizon(schedule, plan))``."""
    if not config.time_budget_s > 0:
        return schedule
    return jaxdecay.budget(schedule, horizon=budget_horizon(schedule, plan))


def make_clock(
    config: ml_collections.ConfigDict, history: outputs.History
) -> jaxdecay.BudgetClock | None:
    """The budget's clock (None without one), started from what ``history`` already spent."""
    if not config.time_budget_s > 0:
        return None
    clock = jaxdecay.BudgetClock(config.time_budget_s, clock=lambda: CLOCK())
    records = history.runs[0]["metrics"]
    spent = records[-1]["progress"] * config.time_budget_s if records else 0.0
    clock.start(spent=spent, updates=len(history.steps[0]))
    return clock


def chunk_progress(
    clock: jaxdecay.BudgetClock | None, start: int, stop: int
) -> tuple[jax.Array | None, int]:
    """The progress of each update of the chunk ``[start, stop)`` and the chunk's (possibly
    earlier) end: the budget may run out inside it."""
    if clock is None:
        return None, stop
    ps = clock.next_chunk(stop - start)
    return jnp.asarray(ps), start + len(ps)


def epochs(
    config: ml_collections.ConfigDict, start: int, clock: jaxdecay.BudgetClock | None
) -> Iterator[int]:
    """The epochs to train after ``start``: up to ``num_epochs``, or until the budget is spent."""
    if clock is None:
        yield from range(start + 1, config.num_epochs + 1)
        return
    epoch = start
    while not clock.done:
        epoch += 1
        yield epoch


def progress(clock: jaxdecay.BudgetClock | None) -> float | None:
    """The fraction of the time budget spent after an epoch: the progress its last update used
    (``None`` without a budget)."""
    return None if clock is None else clock.last_progress
