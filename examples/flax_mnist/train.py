"""Train a Flax NNX classifier on MNIST with a jaxdecay learning-rate schedule.

The work is in :func:`train_and_evaluate`; models are in ``models.py``, data in
``input_pipeline.py``, files and plots in ``outputs.py``, checkpoints in ``checkpoints.py``.

- **The schedule** is ``config.schedule``, text read by ``jaxdecay.parse(text, names=...)``
  inside the traced functions, with the names ``steps_per_epoch``, ``total_steps``,
  ``config.schedule_names`` and the name ``config.sweep`` binds to a traced value. ``vmap``
  over that value trains every configuration in one program; ``loop`` calls one compiled
  function per value.
- **Devices**: a mesh with axes ``("sweep", "data")``. Each configuration's batch is sharded
  over ``data``; a ``vmap`` sweep's stacked states are sharded over ``sweep`` (they never leave
  their devices) and XLA inserts the gradient all-reduce within each ``sweep`` group. With
  several processes every process holds the host data and feeds only its own devices.
- **Chunks**: an epoch runs as one compiled ``lax.scan`` (or a few, ``config.chunk_steps``
  updates each, when a progress bar is shown): the host hears from the devices once per chunk.
- **Resume**: each epoch saves the state, the metrics and the config as one checkpoint step.
  Resumed with another ``num_epochs``, a schedule that uses ``total_steps`` is re-planned with
  ``jaxdecay.replan`` (``plan.py``): continuous at the resume step, ending at the new total.

Public names (stable): ``train_and_evaluate``, ``default_workdir``, ``make_optimizer``,
``make_programs``, ``parse_sweep``, ``schedule_names``, ``learning_rates``, ``KILL_AT_ENV``.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import json
import os
import signal
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import checkpoints
import input_pipeline
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import outputs
import plan as planning
from flax import nnx
from input_pipeline import Dataset
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P
from models import make_model

import jaxdecay

SWEEP_MODES = ("vmap", "loop")
# The faster sweep mode per platform, from benchmarks/sweep.py (docs/guides/mnist.md): on CPU
# the vmapped program runs batched matmuls that are slower than one configuration at a time.
DEFAULT_SWEEP_MODE = {"cpu": "loop", "gpu": "vmap", "tpu": "vmap"}
PROGRESS_MIN_STEPS = 200  # epochs at least this long get a progress bar
# Fields that may change between a run and its resumption (and do not name the workdir).
RESUME_IGNORED = (
    "num_epochs", "progress", "plots", "checkpoint", "chunk_steps", "distributed",
    "coordinator_address", "num_processes", "process_id", "sweep_mode", "sweep_devices",
)  # fmt: skip
# A test hook: SIGKILL the run at a named point ("epoch 2 chunk 1", "epoch 1 saved", ...).
KILL_AT_ENV = "JAXDECAY_MNIST_KILL_AT"


def _kill_point(point: str) -> None:
    if os.environ.get(KILL_AT_ENV) == point:
        os.kill(os.getpid(), signal.SIGKILL)


# --------------------------------------------------------------------------------------------
# The schedule and the sweep
# --------------------------------------------------------------------------------------------


def schedule_names(config: ml_collections.ConfigDict, steps_per_epoch: int) -> dict[str, Any]:
    """The names the schedule text may use, besides the swept one."""
    return {
        "steps_per_epoch": steps_per_epoch,
        "total_steps": steps_per_epoch * config.num_epochs,
        **config.schedule_names.to_dict(),
    }


def _identifiers(text: str) -> set[str]:
    """The bare names the schedule text uses as values (not the constructors it calls)."""
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        jaxdecay.parse(text)  # raises the ParseError that points at the line and column
        raise
    called = {
        n.func.id
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    }
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - called


@dataclasses.dataclass(frozen=True)
class Sweep:
    """What a run trains: one configuration (``name`` None) or one per value of ``name``."""

    name: str | None
    values: tuple[float, ...]  # the swept values, as the flag gave them
    mode: str | None  # "vmap", "loop" or None

    @property
    def overrides(self) -> list[dict]:
        return [{self.name: v} for v in self.values] if self.name else [{}]

    def hps(self) -> list[jax.Array | None]:
        """The traced value per program call: all values (vmap), one each (loop), None."""
        if self.name is None:
            return [None]
        integral = all(isinstance(v, int) for v in self.values)
        arr = np.asarray(self.values, np.int32 if integral else np.float32)
        return [jnp.asarray(arr)] if self.mode == "vmap" else [jnp.asarray(v) for v in arr]


def parse_sweep(config: ml_collections.ConfigDict, platform: str) -> Sweep:
    """``config.sweep`` (``"decay_rate=0.7,0.8"``) and ``config.sweep_mode`` as a :class:`Sweep`.

    Raises:
      ValueError: not ``NAME=v1,v2,...``, a value is not a number, ``NAME`` is not a name the
        schedule text uses (the message lists those it does), or an unknown mode.
    """
    if not config.sweep:
        return Sweep(None, (), None)
    name, eq, vals = config.sweep.partition("=")
    name = name.strip()
    if not eq or not name.isidentifier():
        raise ValueError(f"`sweep` must look like NAME=v1,v2,..., got {config.sweep!r}")
    used = _identifiers(config.schedule)
    if name not in used:
        raise ValueError(
            f"`sweep` binds {name!r}, which the schedule {config.schedule!r} does not use; "
            f"it uses {sorted(used) or 'no names'}"
        )
    try:
        values = tuple(ast.literal_eval(v.strip()) for v in vals.split(",") if v.strip())
    except (ValueError, SyntaxError):
        raise ValueError(f"`sweep` {name}: values must be numbers, got {vals!r}") from None
    if not values or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in values
    ):
        raise ValueError(f"`sweep` {name}: values must be numbers, got {vals!r}")
    mode = (
        DEFAULT_SWEEP_MODE.get(platform, "vmap")
        if config.sweep_mode == "auto"
        else config.sweep_mode
    )
    if mode not in SWEEP_MODES:
        raise ValueError(f"`sweep_mode` must be vmap, loop or auto, got {config.sweep_mode!r}")
    return Sweep(name, values, mode)


def learning_rates(text: str, names: dict[str, Any], steps: int) -> np.ndarray:
    """The schedule's values at counts ``0..steps-1`` (what the optimizer should have used)."""
    return np.asarray(jaxdecay.parse(text, names=names)(jnp.arange(steps)))


# --------------------------------------------------------------------------------------------
# The compiled pieces
# --------------------------------------------------------------------------------------------


def make_optimizer(
    config: ml_collections.ConfigDict, schedule: optax.Schedule
) -> optax.GradientTransformation:
    """SGD with momentum or AdamW, with the learning rate injected into the state (in float32
    whatever the params' dtype: ``jaxdecay.inject_hyperparams``)."""
    if config.optimizer == "sgd":
        return jaxdecay.inject_hyperparams(optax.sgd)(
            learning_rate=schedule, momentum=config.momentum
        )
    if config.optimizer == "adamw":
        return jaxdecay.inject_hyperparams(optax.adamw)(
            learning_rate=schedule, weight_decay=config.weight_decay
        )
    raise ValueError(f"`optimizer` must be 'sgd' or 'adamw', got {config.optimizer!r}")


@dataclasses.dataclass
class Programs:
    """The jitted functions of one run, and how many times each was traced."""

    init: Callable  # (params, hp) -> state
    train_chunk: Callable  # (state, xs, ys, hp) -> (state, losses, lrs)
    evaluate: Callable  # (params, xs, ys, mask) -> (loss, accuracy)
    traces: dict[str, int]


def make_programs(
    config: ml_collections.ConfigDict,
    graphdef: Any,
    names: dict,
    sweep: Sweep,
    mesh: Mesh,
    plan: dict | None = None,
) -> Programs:
    """Jitted programs; ``hp`` is the swept value (a vector under ``vmap``) or None; ``plan``
    (``plan.update_plan``) re-plans the schedule of a resumed run."""
    traces = {"init": 0, "train_chunk": 0, "evaluate": 0}
    plan = plan or {"total_steps": names["total_steps"], "replans": []}

    def optimizer(hp):
        bound = names if hp is None else {**names, sweep.name: hp}
        schedule = planning.planned_schedule(config.schedule, bound, plan)
        return make_optimizer(config, planning.learning_rate(config, schedule, plan))

    def apply(params, x):
        return nnx.merge(graphdef, params)(x.astype(jnp.float32) / 255.0).astype(jnp.float32)

    def init(params, hp):
        traces["init"] += 1
        return {"params": params, "opt_state": optimizer(hp).init(params)}

    def train_chunk(state, xs, ys, hp, ps=None):
        traces["train_chunk"] += 1
        tx = optimizer(hp)

        def step(state, batch):
            x, y, p = batch
            extra = {} if p is None else {"progress": p}  # a time budget's progress

            def loss_fn(params):
                return optax.softmax_cross_entropy_with_integer_labels(apply(params, x), y).mean()

            loss, grads = jax.value_and_grad(loss_fn)(state["params"])
            updates, opt_state = tx.update(grads, state["opt_state"], state["params"], **extra)
            params = optax.apply_updates(state["params"], updates)
            lr = opt_state.hyperparams["learning_rate"]  # the rate this update used
            return {"params": params, "opt_state": opt_state}, (loss, lr)

        state, (losses, lrs) = jax.lax.scan(step, state, (xs, ys, ps))
        return state, losses, lrs

    def evaluate(params, xs, ys, mask):
        traces["evaluate"] += 1

        def body(carry, batch):
            x, y, m = batch
            logits = apply(params, x)
            loss = optax.softmax_cross_entropy_with_integer_labels(logits, y)
            correct = (jnp.argmax(logits, -1) == y).astype(jnp.float32)
            return (carry[0] + jnp.sum(loss * m), carry[1] + jnp.sum(correct * m)), None

        zero = jnp.zeros((), jnp.float32)
        (loss, correct), _ = jax.lax.scan(body, (zero, zero), (xs, ys, mask))
        return loss / jnp.sum(mask), correct / jnp.sum(mask)

    rep = NamedSharding(mesh, P())
    if sweep.mode == "vmap":
        per_config = NamedSharding(mesh, P("sweep"))  # the N states stay on their devices
        init = jax.vmap(init, in_axes=(None, 0))
        train_chunk = jax.vmap(train_chunk, in_axes=(0, None, None, 0, None))
        evaluate = jax.vmap(evaluate, in_axes=(0, None, None, None))
    else:
        per_config = rep
    return Programs(
        init=jax.jit(init, out_shardings=per_config),
        train_chunk=jax.jit(train_chunk, donate_argnums=0, out_shardings=(per_config, rep, rep)),
        evaluate=jax.jit(evaluate, out_shardings=rep),
        traces=traces,
    )


# --------------------------------------------------------------------------------------------
# Devices and processes
# --------------------------------------------------------------------------------------------


def initialize_distributed(config: ml_collections.ConfigDict) -> None:
    """``jax.distributed.initialize`` with the config's address, count and id (each optional)."""
    explicit = {
        k: config[k]
        for k in ("coordinator_address", "num_processes", "process_id")
        if config[k] is not None
    }
    if not (config.distributed or explicit) or jax.distributed.is_initialized():
        return
    jax.config.update("jax_cpu_collectives_implementation", "gloo")  # CPU collectives
    jax.distributed.initialize(**explicit)


def make_mesh(sweep: Sweep, sweep_devices: int) -> Mesh:
    """A ``("sweep", "data")`` mesh over every device; ``sweep`` only for a ``vmap`` sweep."""
    d, n = jax.device_count(), len(sweep.overrides)
    if sweep.mode != "vmap":
        s = 1
    elif sweep_devices:
        s = sweep_devices
        if d % s or n % s:
            raise ValueError(
                f"`sweep_devices` must divide the {d} devices and the {n} configurations, got {s}"
            )
    else:
        s = max(k for k in range(1, d + 1) if d % k == 0 and n % k == 0)
    return Mesh(np.asarray(jax.devices()).reshape(s, d // s), ("sweep", "data"))


def chunk_bounds(
    config: ml_collections.ConfigDict, steps: int, progress: bool
) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` of the compiled calls making one epoch (at most two lengths)."""
    size = config.chunk_steps or (max(1, steps // 10) if progress else steps)
    return [(a, min(a + size, steps)) for a in range(0, steps, size)]


# --------------------------------------------------------------------------------------------
# One epoch
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Loop:
    """Everything an epoch needs that does not change from epoch to epoch."""

    config: ml_collections.ConfigDict
    ds: Dataset
    progs: Programs
    hps: list
    data: NamedSharding  # how a batch is laid out
    steps: int
    chunks: list[tuple[int, int]]
    bar: outputs.ProgressBar | None
    clock: jaxdecay.BudgetClock | None = None  # a time budget (plan.make_clock)


def train_epoch(loop: Loop, states: list, epoch: int) -> tuple[list, np.ndarray, np.ndarray]:
    """Train every configuration for one epoch; losses and rates ``(configs, steps)``."""
    c = loop.config
    if loop.bar:
        loop.bar.start(epoch)
    losses, lrs = [[] for _ in states], [[] for _ in states]
    for k, (a, b) in enumerate(loop.chunks, start=1):
        ps, b = planning.chunk_progress(loop.clock, a, b)  # a budget may end the epoch early
        xs, ys = input_pipeline.epoch_batches(
            loop.ds, epoch, c.seed, c.batch_size, loop.steps, loop.data, a, b
        )
        for g, hp in enumerate(loop.hps):
            states[g], loss, lr = loop.progs.train_chunk(states[g], xs, ys, hp, ps)
            losses[g].append(np.asarray(loss).reshape(-1, b - a))  # one host sync per chunk
            lrs[g].append(np.asarray(lr).reshape(-1, b - a))
            if loop.bar:
                loop.bar.update(b - a)
        _kill_point(f"epoch {epoch} chunk {k}")
        if loop.clock is not None and loop.clock.done:
            break
    if loop.bar:
        loop.bar.close()
    return (
        states,
        np.concatenate([np.concatenate(x, 1) for x in losses]),
        np.concatenate([np.concatenate(x, 1) for x in lrs]),
    )


def evaluate(loop: Loop, states: list, test: tuple) -> tuple[np.ndarray, np.ndarray]:
    out = [loop.progs.evaluate(s["params"], *test) for s in states]
    return (np.concatenate([np.asarray(o[0]).reshape(-1) for o in out]),
            np.concatenate([np.asarray(o[1]).reshape(-1) for o in out]))  # fmt: skip


# --------------------------------------------------------------------------------------------
# Workdir and resume
# --------------------------------------------------------------------------------------------


def _identity(config: ml_collections.ConfigDict) -> dict:
    d = {k: v for k, v in config.to_dict().items() if k not in RESUME_IGNORED}
    return json.loads(json.dumps(d, default=list))  # tuples as lists, as JSON holds them


def default_workdir(config: ml_collections.ConfigDict) -> Path:
    """``<tmp>/jaxdecay_mnist/<dataset>-<model>-<hash>``: the hash covers every field that must
    match to resume (not ``num_epochs``), so rerunning a command resumes or extends it and a
    changed flag gets a fresh folder."""
    digest = hashlib.sha256(json.dumps(_identity(config), sort_keys=True).encode()).hexdigest()
    name = f"{config.dataset}-{config.model}-{'sweep-' if config.sweep else ''}{digest[:8]}"
    return Path(tempfile.gettempdir()) / "jaxdecay_mnist" / name


def run_identity(config: ml_collections.ConfigDict, names: dict, sweep: Sweep) -> dict:
    """What ``config.json`` and the checkpoint hold; a resumed run must match it."""
    used = _identifiers(config.schedule)
    return {
        **_identity(config),
        # `total_steps` may change on resume: the schedule is then re-planned (plan.py).
        "bound_names": {
            k: v for k, v in names.items() if k in used and k not in (sweep.name, "total_steps")
        },
        "resolved_sweep_mode": sweep.mode,
    }


def resume(
    mngr, states: list, history: outputs.History, identity: dict, workdir: Path, log
) -> tuple[int, list, outputs.History]:
    """The latest checkpoint's epoch, states and history (after checking the configuration),
    or ``0`` and the given ones when there is none."""
    if mngr is None or mngr.latest_step() is None:
        return 0, states, history
    start, states, metrics, saved = checkpoints.restore(mngr, states)
    diff = {k: (saved.get(k), v) for k, v in identity.items() if saved.get(k) != v}
    if diff:
        raise ValueError(
            f"{workdir} holds a checkpoint of a different configuration (saved vs now: {diff}); "
            "use another --workdir"
        )
    log(f"resuming from the checkpoint after epoch {start} in {workdir}")
    return start, states, outputs.History.from_json(metrics)


def _describe(config, ds: Dataset, steps: int, mesh: Mesh, schedule, sweep: Sweep) -> list[str]:
    dev = jax.devices()[0]
    lines = [
        f"data: {ds.source}, {len(ds.train_labels)} train / {len(ds.test_labels)} test; "
        f"{config.model}, {config.optimizer}, {config.dtype}, batch {config.batch_size}, "
        f"{steps} steps/epoch; {jax.device_count()} {dev.platform} device(s) in "
        f"{jax.process_count()} process(es), mesh {dict(mesh.shape)}",
        f"schedule: {schedule!r}",
    ]
    if sweep.name:
        lines.append(f"sweep: {sweep.name} over {list(sweep.values)}, mode {sweep.mode}")
    return lines


def _check_sizes(config: ml_collections.ConfigDict, n_train: int, data_devices: int) -> int:
    if config.batch_size % data_devices:
        raise ValueError(
            f"`batch_size` must be a multiple of the {data_devices} devices of the mesh's "
            f"`data` axis, got {config.batch_size}"
        )
    if config.batch_size > n_train:
        raise ValueError(
            f"`batch_size` must be <= the {n_train} training examples, got {config.batch_size}"
        )
    return n_train // config.batch_size


# --------------------------------------------------------------------------------------------
# train_and_evaluate
# --------------------------------------------------------------------------------------------


def train_and_evaluate(
    config: ml_collections.ConfigDict,
    workdir: str | os.PathLike[str],
    *,
    dataset: Dataset | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train and evaluate as ``config`` says, writing metrics, plots and checkpoints to ``workdir``.

    Args:
      config: the hyperparameters (``configs/default.py``).
      workdir: output folder; if it holds a checkpoint of the same configuration, training
        resumes after its last epoch (and stops at once if that is ``config.num_epochs``).
      dataset: use this data instead of loading ``config.dataset`` (tests, benchmarks).
      log: where the lines for the user go (process 0 only).

    Returns:
      ``{"runs": [{"overrides": {...}, "metrics": [per-epoch records]}, ...], "sweep_mode",
      "traces", "steps_per_epoch", "names", "mesh", "states"}``; a plain run has one entry
      with empty overrides.
    """
    initialize_distributed(config)
    is_main = jax.process_index() == 0
    log = log if is_main else (lambda *_: None)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)

    ds = dataset or input_pipeline.load_dataset(
        config.dataset, config.data_dir, download=config.download, log=log
    )
    ds = input_pipeline.limit(ds, config.train_limit, config.test_limit)
    sweep = parse_sweep(config, jax.devices()[0].platform)
    mesh = make_mesh(sweep, config.sweep_devices)
    steps = _check_sizes(config, len(ds.train_labels), mesh.shape["data"])
    names = schedule_names(config, steps)
    first = {**names, sweep.name: sweep.values[0]} if sweep.name else names
    jaxdecay.parse(config.schedule, names=first)  # errors surface here, not in a trace
    mngr = checkpoints.manager(workdir) if config.checkpoint else None
    done = (mngr.latest_step() or 0) if mngr is not None else 0
    plan = planning.update_plan(
        workdir, config.schedule, first, done * steps, write=is_main, log=log
    )
    schedule = planning.learning_rate(
        config, planning.planned_schedule(config.schedule, first, plan), plan
    )

    graphdef, params = nnx.split(make_model(config))
    progs = make_programs(config, graphdef, names, sweep, mesh, plan)
    params = jax.device_put(params, NamedSharding(mesh, P()))
    hps = sweep.hps()
    states = [progs.init(params, hp) for hp in hps]
    want_bar = config.progress and is_main and steps >= PROGRESS_MIN_STEPS
    chunks = chunk_bounds(config, steps, want_bar or config.time_budget_s > 0)
    bar = outputs.ProgressBar(steps * len(hps)) if want_bar else None
    data = NamedSharding(mesh, P(None, "data"))
    loop = Loop(config, ds, progs, hps, data, steps, chunks, bar)

    identity = run_identity(config, names, sweep)
    history = outputs.History.empty(sweep.overrides, sweep=sweep.name is not None)
    start, states, history = resume(mngr, states, history, identity, workdir, log)
    loop.clock = planning.make_clock(config, history)
    if start >= config.num_epochs:
        log(f"{workdir} holds {start} epochs (>= num_epochs); nothing to train")
    if is_main:
        outputs.write_json(workdir / "config.json", identity)
        outputs.write_files(workdir, history)
    for line in [*_describe(config, ds, steps, mesh, schedule, sweep), f"workdir: {workdir}"]:
        log(line)

    test = input_pipeline.test_batches(ds, mesh.shape["data"], NamedSharding(mesh, P(None, "data")))
    for epoch in planning.epochs(config, start, loop.clock):
        t0 = time.perf_counter()
        states, losses, lrs = train_epoch(loop, states, epoch)
        test_loss, test_acc = evaluate(loop, states, test)
        progress = planning.progress(loop.clock)
        for line in history.add_epoch(
            epoch, losses, lrs, test_loss, test_acc, time.perf_counter() - t0, progress
        ):
            log(line)
        _kill_point(f"epoch {epoch} evaluated")
        if mngr is not None:
            checkpoints.save(mngr, epoch, states, history.to_json(), identity)
        _kill_point(f"epoch {epoch} saved")
        if is_main:
            outputs.write_files(workdir, history)

    if mngr is not None:
        mngr.close()
    if sweep.name and history.epochs:
        log(outputs.sweep_table(history))
    if is_main and config.plots and history.epochs:
        outputs.save_plots(workdir, history)
    return {
        "runs": history.runs,
        "sweep_mode": sweep.mode,
        "traces": dict(progs.traces),
        "steps_per_epoch": steps,
        "names": names,
        "mesh": dict(mesh.shape),
        "states": states,
    }
