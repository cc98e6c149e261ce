"""Train a Flax NNX classifier on MNIST with a jaxdecay learning-rate schedule.

The work is in :func:`train_and_evaluate`. The design, in short:

- The model is split once (`nnx.split`) into a static graph and a pytree of parameters; the
  train step is a pure function of ``(params, opt_state)`` and one epoch is a jitted
  ``lax.scan`` over its batches.
- The optimizer is wrapped in ``optax.inject_hyperparams``, so the learning rate each update
  used is in the optimizer state; the logged learning rates are read from there.
- The schedule is rebuilt from its config *inside* the traced function. A sweep substitutes one
  hyperparameter of that config by a traced value: ``vmap`` over it trains every configuration in
  one program, and the ``loop`` mode calls one compiled function with the value as an argument.
- Data parallel: a 1-D `Mesh` over every device, batches sharded over it, parameters and
  optimizer state replicated; XLA inserts the gradient all-reduce.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import json
import os
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from configs.default import Config
from data import Dataset, load_dataset
from flax import nnx
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

import jaxdecay

METRIC_FIELDS = ("epoch", "learning_rate", "train_loss", "test_loss", "test_accuracy", "seconds")
DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}
SWEEP_MODES = ("vmap", "loop")
# The faster sweep mode per platform, from benchmarks/sweep.py (see docs): on CPU the vmapped
# program runs batched matmuls that are slower than the same work one configuration at a time.
DEFAULT_SWEEP_MODE = {"cpu": "loop", "gpu": "vmap", "tpu": "vmap"}
PROGRESS_MIN_STEPS = 200  # epochs at least this long get a progress bar


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------


class MLP(nnx.Module):
    """A multilayer perceptron: flatten, ``Linear -> ReLU`` per hidden size, ``Linear``."""

    def __init__(
        self,
        hidden_sizes: Sequence[int],
        num_classes: int = 10,
        *,
        dtype: Any = jnp.float32,
        rngs: nnx.Rngs,
    ):
        sizes = [28 * 28, *hidden_sizes, num_classes]
        self.layers = nnx.List(
            [
                nnx.Linear(a, b, dtype=dtype, param_dtype=jnp.float32, rngs=rngs)
                for a, b in zip(sizes[:-1], sizes[1:], strict=True)
            ]
        )

    def __call__(self, x: jax.Array) -> jax.Array:
        x = x.reshape(x.shape[0], -1)
        for layer in self.layers[:-1]:
            x = nnx.relu(layer(x))
        return self.layers[-1](x)


def conv3x3_same(x: jax.Array, kernel: jax.Array, bias: jax.Array) -> jax.Array:
    """A 3x3 stride-1 SAME convolution (NHWC, kernel HWIO) as im2col and one matmul.

    The same values as ``lax.conv_general_dilated``, written so that XLA:CPU runs it fast inside
    the epoch's ``lax.scan``: there its native convolution was 16x slower (measured 3.0 vs 0.19
    seconds per step for this CNN at batch 128 on 2 cores), while a matmul is not.
    """
    b, h, w, c = x.shape
    xp = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    cols = jnp.concatenate(
        [xp[:, i : i + h, j : j + w, :] for i in range(3) for j in range(3)], axis=-1
    )
    return cols @ kernel.reshape(9 * c, -1) + bias


def avg_pool_2x2(x: jax.Array) -> jax.Array:
    """2x2 average pooling with stride 2 (NHWC, even sizes)."""
    b, h, w, c = x.shape
    return x.reshape(b, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))


class CNN(nnx.Module):
    """The small CNN of Flax's MNIST example: two 3x3 convolutions (32, 64 channels) each with
    ReLU and 2x2 average pooling, then dense 256 and the classifier."""

    def __init__(self, num_classes: int = 10, *, dtype: Any = jnp.float32, rngs: nnx.Rngs):
        kw = {"dtype": dtype, "param_dtype": jnp.float32, "rngs": rngs}
        self.dtype = dtype
        self.conv1 = nnx.Conv(1, 32, kernel_size=(3, 3), **kw)
        self.conv2 = nnx.Conv(32, 64, kernel_size=(3, 3), **kw)
        self.dense1 = nnx.Linear(7 * 7 * 64, 256, **kw)
        self.dense2 = nnx.Linear(256, num_classes, **kw)

    def _conv(self, conv: nnx.Conv, x: jax.Array) -> jax.Array:
        k, b = conv.kernel[...].astype(self.dtype), conv.bias[...].astype(self.dtype)
        return conv3x3_same(x.astype(self.dtype), k, b)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = x.reshape(x.shape[0], 28, 28, 1)
        x = avg_pool_2x2(nnx.relu(self._conv(self.conv1, x)))
        x = avg_pool_2x2(nnx.relu(self._conv(self.conv2, x)))
        x = nnx.relu(self.dense1(x.reshape(x.shape[0], -1)))
        return self.dense2(x)


def make_model(config: Config) -> nnx.Module:
    """The model the config names, initialised from ``config.seed``."""
    if config.dtype not in DTYPES:
        raise ValueError(f"--dtype must be one of {sorted(DTYPES)}, got {config.dtype!r}")
    dtype = DTYPES[config.dtype]
    rngs = nnx.Rngs(config.seed)
    if config.model == "mlp":
        return MLP(tuple(config.hidden_sizes), dtype=dtype, rngs=rngs)
    if config.model == "cnn":
        return CNN(dtype=dtype, rngs=rngs)
    raise ValueError(f"--model must be 'mlp' or 'cnn', got {config.model!r}")


def make_optimizer(config: Config, schedule: optax.Schedule) -> optax.GradientTransformation:
    """SGD with momentum or AdamW, with the learning rate injected into the state."""
    if config.optimizer == "sgd":
        return optax.inject_hyperparams(optax.sgd)(learning_rate=schedule, momentum=config.momentum)
    if config.optimizer == "adamw":
        return optax.inject_hyperparams(optax.adamw)(
            learning_rate=schedule, weight_decay=config.weight_decay
        )
    raise ValueError(f"--optimizer must be 'sgd' or 'adamw', got {config.optimizer!r}")


# --------------------------------------------------------------------------------------------
# The schedule: text -> config, and sweep keys inside that config
# --------------------------------------------------------------------------------------------

_NAMES = ("steps_per_epoch", "total_steps")


def resolve_schedule_text(text: str, steps_per_epoch: int, epochs: int) -> str:
    """Replace the names `steps_per_epoch` and `total_steps` (not keyword `x=`) by numbers."""
    values = {"steps_per_epoch": steps_per_epoch, "total_steps": steps_per_epoch * epochs}
    pattern = re.compile(r"\b(" + "|".join(_NAMES) + r")\b(?!\s*=)")
    return pattern.sub(lambda m: str(values[m.group(1)]), text)


@dataclasses.dataclass(frozen=True)
class SweepKey:
    """Where a swept hyperparameter lives in a schedule config."""

    path: tuple[str | int, ...]  # dict keys / list indices from the root config
    display: str  # "schedule.decay_rate"
    owner: str  # the schedule whose argument it is, "exponential_decay"
    value: Any  # the value in the config


def _numeric_leaves(cfg: Any, path: tuple, aliases: tuple, owner: str):
    """Yield (path, alias sets per position, owner, value) for every number in ``cfg``."""
    if isinstance(cfg, dict):
        name = cfg.get("name", "") if isinstance(cfg.get("name"), str) else ""
        for k, v in cfg.items():
            if k == "name":
                continue
            # A nested schedule's position answers to its argument name and its own name.
            if isinstance(v, dict) and isinstance(v.get("name"), str):
                yield from _numeric_leaves(v, (*path, k), (*aliases, {k, v["name"]}), v["name"])
            else:
                yield from _numeric_leaves(v, (*path, k), (*aliases, {k}), name or owner)
    elif isinstance(cfg, list | tuple):
        for i, v in enumerate(cfg):
            if isinstance(v, dict) and isinstance(v.get("name"), str):
                yield from _numeric_leaves(
                    v, (*path, i), (*aliases, {str(i), v["name"]}), v["name"]
                )
            else:
                yield from _numeric_leaves(v, (*path, i), (*aliases, {str(i)}), owner)
    elif isinstance(cfg, int | float) and not isinstance(cfg, bool):
        yield path, aliases, owner, cfg


def find_sweep_key(schedule_config: dict, key: str) -> SweepKey:
    """Locate ``key`` (``decay_rate``, ``schedule.init_value``, ``warmup.warmup_steps``).

    ``key``'s dotted parts must match the end of an argument's path, each part naming either the
    argument or the schedule at that position (so ``cosine_decay.init_value`` and
    ``schedule.init_value`` both reach the ``init_value`` of a warmed-up cosine decay).

    Raises:
      ValueError: no argument or several match; the message lists every candidate.
    """
    root = schedule_config["name"]
    leaves = list(_numeric_leaves(schedule_config, (), ({root},), root))
    parts = key.split(".")
    matches = []
    for path, aliases, owner, value in leaves:
        if len(parts) > len(aliases):
            continue
        if all(p in a for p, a in zip(parts, aliases[len(aliases) - len(parts) :], strict=True)):
            matches.append(SweepKey(path, ".".join(map(str, path)), owner, value))
    if len(matches) == 1:
        return matches[0]
    candidates = ", ".join(f"{'.'.join(map(str, p))} ({o})" for p, _, o, _ in leaves)
    if not matches:
        raise ValueError(
            f"--sweep: {key!r} is not a numeric argument of the schedule {root}(...); "
            f"candidates: {candidates}"
        )
    found = ", ".join(f"{m.display} ({m.owner})" for m in matches)
    raise ValueError(
        f"--sweep: {key!r} is ambiguous, it matches {found}; write a dotted path such as "
        f"{matches[0].display!r}"
    )


def parse_sweep(text: str, schedule_config: dict) -> tuple[SweepKey, np.ndarray, list]:
    """``"decay_rate=0.9,0.95"`` -> (where, values as an int32 or float32 array, as numbers)."""
    if "=" not in text:
        raise ValueError(f"--sweep must look like KEY=v1,v2,..., got {text!r}")
    key, _, vals = text.partition("=")
    where = find_sweep_key(schedule_config, key.strip())
    try:
        values = [float(v) for v in vals.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"--sweep {key}: values must be numbers, got {vals!r}") from None
    if not values:
        raise ValueError(f"--sweep {key}: no values given")
    integral = isinstance(where.value, int) and all(v == int(v) for v in values)
    if integral:
        values = [int(v) for v in values]
    return where, np.asarray(values, np.int32 if integral else np.float32), values


def _set_path(cfg: Any, path: tuple, value: Any) -> Any:
    out = copy.deepcopy(cfg)
    node = out
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value
    return out


# --------------------------------------------------------------------------------------------
# The compiled pieces
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Programs:
    """The jitted functions of one run, and how many times each was traced."""

    init: Callable
    train_epoch: Callable
    evaluate: Callable
    traces: dict[str, int]


def build_programs(
    config: Config,
    graphdef: Any,
    schedule_config: dict,
    sweep_path: tuple | None,
    *,
    vmapped: bool,
    mesh: Mesh,
    progress: Callable[[Any], None] | None = None,
) -> Programs:
    """Jitted ``init(params, hp)``, ``train_epoch(state, xs, ys, hp)``, ``evaluate(...)``.

    ``hp`` is the swept hyperparameter's value (a traced scalar; batched under ``vmapped``) or
    ``None`` for a plain run. The schedule is rebuilt from ``schedule_config`` inside the trace.
    """
    traces = {"init": 0, "train_epoch": 0, "evaluate": 0}

    def schedule_for(hp):
        cfg = schedule_config if hp is None else _set_path(schedule_config, sweep_path, hp)
        return jaxdecay.from_config(cfg)

    def apply(params, x):
        model = nnx.merge(graphdef, params)
        return model(x.astype(jnp.float32) / 255.0).astype(jnp.float32)

    def init(params, hp):
        traces["init"] += 1
        tx = make_optimizer(config, schedule_for(hp))
        return {"params": params, "opt_state": tx.init(params)}

    def train_epoch(state, xs, ys, hp):
        traces["train_epoch"] += 1
        tx = make_optimizer(config, schedule_for(hp))

        def step(state, batch):
            i, x, y = batch
            if progress is not None:
                jax.debug.callback(progress, i, ordered=False)

            def loss_fn(params):
                logits = apply(params, x)
                return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

            loss, grads = jax.value_and_grad(loss_fn)(state["params"])
            updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
            params = optax.apply_updates(state["params"], updates)
            lr = opt_state.hyperparams["learning_rate"]  # the rate this update used
            return {"params": params, "opt_state": opt_state}, (loss, lr)

        steps = jnp.arange(xs.shape[0])
        state, (losses, lrs) = jax.lax.scan(step, state, (steps, xs, ys))
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
        n = jnp.sum(mask)
        return loss / n, correct / n

    replicated = NamedSharding(mesh, P())
    if vmapped:
        init_v = jax.vmap(init, in_axes=(0, 0))
        train_v = jax.vmap(train_epoch, in_axes=(0, None, None, 0))
        eval_v = jax.vmap(evaluate, in_axes=(0, None, None, None))
    else:
        init_v, train_v, eval_v = init, train_epoch, evaluate
    return Programs(
        init=jax.jit(init_v, out_shardings=replicated),
        train_epoch=jax.jit(
            train_v, donate_argnums=0, out_shardings=(replicated, replicated, replicated)
        ),
        evaluate=jax.jit(eval_v, out_shardings=replicated),
        traces=traces,
    )


# --------------------------------------------------------------------------------------------
# Data on devices
# --------------------------------------------------------------------------------------------


def _global_array(local: np.ndarray, sharding: NamedSharding) -> jax.Array:
    """A global array from the full host copy: each process contributes its own rows."""
    if jax.process_count() == 1:
        return jax.device_put(local, sharding)
    idx = sharding.addressable_devices_indices_map(local.shape).values()
    lo = min(i[1].start or 0 for i in idx)
    hi = max(i[1].stop if i[1].stop is not None else local.shape[1] for i in idx)
    return jax.make_array_from_process_local_data(sharding, local[:, lo:hi], local.shape)


def epoch_batches(
    ds: Dataset, epoch: int, seed: int, batch_size: int, steps: int, sharding: NamedSharding
) -> tuple[jax.Array, jax.Array]:
    """The epoch's batches ``(steps, batch, 28, 28)``, in an order seeded by (seed, epoch)."""
    perm = np.random.default_rng((seed, epoch)).permutation(len(ds.train_labels))
    idx = perm[: steps * batch_size].reshape(steps, batch_size)
    return (
        _global_array(ds.train_images[idx], sharding),
        _global_array(ds.train_labels[idx], sharding),
    )


def test_batches(ds: Dataset, n_devices: int, sharding: NamedSharding):
    """The test set in equal batches (padded, with a mask), sharded over the batch axis."""
    n = len(ds.test_labels)
    per = max(n_devices, min(1000, n))
    per = -(-per // n_devices) * n_devices
    nb = -(-n // per)
    pad = nb * per - n
    x = np.concatenate([ds.test_images, np.zeros((pad, 28, 28), np.uint8)])
    y = np.concatenate([ds.test_labels, np.zeros((pad,), np.int32)])
    m = np.concatenate([np.ones((n,), np.float32), np.zeros((pad,), np.float32)])
    return tuple(_global_array(a.reshape(nb, per, *a.shape[1:]), sharding) for a in (x, y, m))


# --------------------------------------------------------------------------------------------
# Output files
# --------------------------------------------------------------------------------------------


def _write_json(path: Path, obj: Any) -> None:
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


def _read_csv(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _label(overrides: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in overrides.items()) or "run"


def save_plots(workdir: Path, runs: list[dict], steps: list[list[dict]], sweep: bool) -> None:
    """A plain run: ``learning_rate.png`` and ``loss_accuracy.png``. A sweep: ``sweep.png``,
    every configuration's learning rate, losses and accuracy overlaid, one colour each."""
    from matplotlib.figure import Figure  # no pyplot: no global backend state

    if sweep:
        fig = Figure(figsize=(15, 4.5), layout="constrained")
        ax_lr, ax_loss, ax_acc = fig.subplots(1, 3)
    else:
        fig_lr = Figure(figsize=(6, 4), layout="constrained")
        ax_lr = fig_lr.add_subplot()
        fig = Figure(figsize=(10, 4), layout="constrained")
        ax_loss, ax_acc = fig.subplots(1, 2)
    for i, (run, rows) in enumerate(zip(runs, steps, strict=True)):
        color = f"C{i % 10}"
        lab = _label(run["overrides"])
        ep = [r["epoch"] for r in run["metrics"]]
        ax_lr.plot(
            [int(r["step"]) for r in rows],
            [float(r["learning_rate"]) for r in rows],
            color=color,
            label=lab,
        )
        kw = {"color": color, "marker": "o", "markersize": 3}
        ax_loss.plot(
            ep, [r["train_loss"] for r in run["metrics"]], "--", label=f"{lab} train", **kw
        )
        ax_loss.plot(ep, [r["test_loss"] for r in run["metrics"]], "-", label=f"{lab} test", **kw)
        ax_acc.plot(ep, [100 * r["test_accuracy"] for r in run["metrics"]], "-", label=lab, **kw)
    ax_lr.set(xlabel="step (optimizer updates)", ylabel="learning rate", title="Learning rate")
    ax_loss.set(xlabel="epoch", ylabel="loss", title="Loss")
    ax_acc.set(xlabel="epoch", ylabel="test accuracy (%)", title="Test accuracy")
    ax_loss.legend(fontsize="small")
    if sweep:
        ax_lr.legend(fontsize="small")
        fig.savefig(workdir / "sweep.png", dpi=100)
    else:
        fig_lr.savefig(workdir / "learning_rate.png", dpi=100)
        fig.savefig(workdir / "loss_accuracy.png", dpi=100)


def sweep_table(runs: list[dict]) -> str:
    """One row per configuration: final and best test accuracy, best epoch, final losses."""
    head = f"{'configuration':<28} {'final acc':>9} {'best acc':>9} {'best ep':>7} {'test loss':>9}"
    lines = [head, "-" * len(head)]
    for run in runs:
        m = run["metrics"]
        best = max(m, key=lambda r: r["test_accuracy"])
        lines.append(
            f"{_label(run['overrides']):<28} {100 * m[-1]['test_accuracy']:>8.2f}% "
            f"{100 * best['test_accuracy']:>8.2f}% {best['epoch']:>7d} {m[-1]['test_loss']:>9.4f}"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------------------------


def _checkpoint_manager(workdir: Path):
    import orbax.checkpoint as ocp

    options = ocp.CheckpointManagerOptions(max_to_keep=1, enable_async_checkpointing=False)
    return ocp.CheckpointManager((workdir / "checkpoints").absolute(), options=options)


_RESUME_IGNORED = ("epochs", "progress", "plots", "checkpoint", "distributed", "sweep_mode")


def default_workdir(config: Config) -> Path:
    """``<tmp>/jaxdecay_mnist/<dataset>-<model>-<hash>``: the hash covers every field that must
    match to resume (not ``epochs``), so rerunning a command resumes or extends it and a changed
    flag gets a fresh folder."""
    import hashlib
    import tempfile

    fields = {k: v for k, v in dataclasses.asdict(config).items() if k not in _RESUME_IGNORED}
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()
    name = f"{config.dataset}-{config.model}-{'sweep-' if config.sweep else ''}{digest[:8]}"
    return Path(tempfile.gettempdir()) / "jaxdecay_mnist" / name


def _run_identity(config: Config, schedule_text: str, sweep_mode: str | None) -> dict:
    d = {k: v for k, v in dataclasses.asdict(config).items() if k not in _RESUME_IGNORED}
    d["hidden_sizes"] = list(d["hidden_sizes"])
    d["resolved_schedule"] = schedule_text
    d["resolved_sweep_mode"] = sweep_mode
    return d


# --------------------------------------------------------------------------------------------
# train_and_evaluate
# --------------------------------------------------------------------------------------------


def train_and_evaluate(
    config: Config,
    workdir: str | os.PathLike[str],
    *,
    dataset: Dataset | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train and evaluate as ``config`` says, writing metrics, plots and checkpoints to ``workdir``.

    Args:
      config: the hyperparameters (see ``configs/default.py``).
      workdir: output folder; if it holds a checkpoint of the same configuration, training
        resumes after the last completed epoch (and stops at once if that is ``config.epochs``).
      dataset: use this data instead of loading ``config.dataset`` (tests, benchmarks).
      log: where progress lines go.

    Returns:
      ``{"runs": [{"overrides": {...}, "metrics": [per-epoch records]}, ...], "sweep_mode": ...,
      "traces": {...}, "steps_per_epoch": ..., "schedule": <resolved text>}``; a plain run has
      one entry with empty overrides.
    """
    if config.distributed:
        jax.distributed.initialize()
    is_main = jax.process_index() == 0
    if not is_main:
        log = lambda *_: None  # noqa: E731 - only process 0 talks and writes
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)

    ds = dataset or load_dataset(config.dataset, config.data_dir, download=config.download, log=log)
    if config.train_limit or config.test_limit:
        ds = dataclasses.replace(
            ds,
            train_images=ds.train_images[: config.train_limit],
            train_labels=ds.train_labels[: config.train_limit],
            test_images=ds.test_images[: config.test_limit],
            test_labels=ds.test_labels[: config.test_limit],
        )
    devices = jax.devices()
    n_dev = len(devices)
    if config.batch_size % n_dev:
        raise ValueError(
            f"--batch-size {config.batch_size} must be a multiple of the {n_dev} devices"
        )
    steps_per_epoch = len(ds.train_labels) // config.batch_size
    if steps_per_epoch == 0:
        raise ValueError(
            f"--batch-size {config.batch_size} exceeds the {len(ds.train_labels)} training examples"
        )
    schedule_text = resolve_schedule_text(config.schedule, steps_per_epoch, config.epochs)
    schedule = jaxdecay.parse(schedule_text)
    schedule_config = jaxdecay.to_config(schedule)

    # Sweep: which hyperparameter, which values, which mode.
    if config.sweep:
        where, values, numbers = parse_sweep(config.sweep, schedule_config)
        mode = config.sweep_mode
        if mode == "auto":
            mode = DEFAULT_SWEEP_MODE.get(devices[0].platform, "vmap")
        if mode not in SWEEP_MODES:
            raise ValueError(f"--sweep-mode must be vmap, loop or auto, got {config.sweep_mode!r}")
        key_name = config.sweep.partition("=")[0].strip()
        overrides = [{key_name: v} for v in numbers]
        sweep_path = where.path
    else:
        mode, values, overrides, sweep_path = None, None, [{}], None

    mesh = Mesh(np.asarray(devices), ("batch",))
    data_sharding = NamedSharding(mesh, P(None, "batch"))
    replicated = NamedSharding(mesh, P())

    model = make_model(config)
    graphdef, params = nnx.split(model)
    params = jax.device_put(params, replicated)
    n = len(overrides)
    ticks = steps_per_epoch * (n if mode == "loop" else 1)
    bar = _ProgressBar(ticks) if _want_progress(config, steps_per_epoch, is_main) else None
    progs = build_programs(
        config,
        graphdef,
        schedule_config,
        sweep_path,
        vmapped=mode == "vmap",
        mesh=mesh,
        progress=bar.tick if bar else None,
    )

    # Initial state: one per configuration (stacked for vmap, a list for loop).
    if mode == "vmap":
        hps = jax.device_put(jnp.asarray(values), replicated)
        stacked = jax.tree.map(lambda p: jnp.broadcast_to(p, (n, *p.shape)), params)
        state = progs.init(stacked, hps)
    elif mode == "loop":
        hps = [jax.device_put(jnp.asarray(v), replicated) for v in values]
        state = [progs.init(params, hp) for hp in hps]
    else:
        hps = None
        state = progs.init(params, None)

    # Resume.
    identity = _run_identity(config, schedule_text, mode)
    runs: list[dict] = [{"overrides": o, "metrics": []} for o in overrides]
    steps_rows: list[list[dict]] = [[] for _ in overrides]
    start = 0
    mngr = _checkpoint_manager(workdir) if config.checkpoint else None
    if mngr is not None and mngr.latest_step() is not None:
        saved = json.loads((workdir / "config.json").read_text())
        diff = {k: (saved.get(k), v) for k, v in identity.items() if saved.get(k) != v}
        if diff:
            raise ValueError(
                f"{workdir} holds a checkpoint of a different configuration (saved vs now: "
                f"{diff}); use another --workdir"
            )
        import orbax.checkpoint as ocp

        start = int(mngr.latest_step())
        state = mngr.restore(start, args=ocp.args.StandardRestore(state))
        runs, steps_rows = _load_metrics(workdir, n, start, sweep=mode is not None)
        if start >= config.epochs:
            log(
                f"{workdir} already holds {start} epochs (>= --epochs {config.epochs}); nothing "
                "to train. Pass more --epochs to continue, or another --workdir"
            )
        else:
            log(f"resuming from the checkpoint after epoch {start} in {workdir}")
    if is_main:
        _write_json(workdir / "config.json", identity)

    log(
        f"data: {ds.source}, {len(ds.train_labels)} train / {len(ds.test_labels)} test; "
        f"{config.model}, {config.optimizer}, {config.dtype}, batch {config.batch_size}, "
        f"{steps_per_epoch} steps/epoch, {n_dev} {devices[0].platform} device(s)"
    )
    log(f"schedule: {schedule!r}; workdir: {workdir}")
    if mode:
        log(f"sweep: {where.display} ({where.owner}) over {values.tolist()}, mode {mode}")

    test_x, test_y, test_m = test_batches(ds, n_dev, data_sharding)
    for epoch in range(start + 1, config.epochs + 1):
        t0 = time.perf_counter()
        xs, ys = epoch_batches(
            ds, epoch, config.seed, config.batch_size, steps_per_epoch, data_sharding
        )
        if bar:
            bar.start(epoch)
        if mode == "loop":
            outs = [progs.train_epoch(s, xs, ys, hp) for s, hp in zip(state, hps, strict=True)]
            state = [o[0] for o in outs]
            losses = np.stack([np.asarray(o[1]) for o in outs])
            lrs = np.stack([np.asarray(o[2]) for o in outs])
            evals = [progs.evaluate(s["params"], test_x, test_y, test_m) for s in state]
            test_loss = np.asarray([float(e[0]) for e in evals])
            test_acc = np.asarray([float(e[1]) for e in evals])
        else:
            state, losses, lrs = progs.train_epoch(state, xs, ys, hps)
            test_loss, test_acc = progs.evaluate(state["params"], test_x, test_y, test_m)
            losses, lrs = np.asarray(losses).reshape(n, -1), np.asarray(lrs).reshape(n, -1)
            test_loss = np.asarray(test_loss).reshape(n)
            test_acc = np.asarray(test_acc).reshape(n)
        seconds = time.perf_counter() - t0
        if bar:
            bar.close()
        for i, run in enumerate(runs):
            rec = {
                "epoch": epoch,
                "learning_rate": float(lrs[i, -1]),
                "train_loss": float(np.mean(losses[i])),
                "test_loss": float(test_loss[i]),
                "test_accuracy": float(test_acc[i]),
                "seconds": round(seconds, 3),
            }
            run["metrics"].append(rec)
            first = (epoch - 1) * steps_per_epoch
            steps_rows[i].extend(
                {"step": first + j, "learning_rate": float(lrs[i, j]), "loss": float(losses[i, j])}
                for j in range(steps_per_epoch)
            )
            prefix = f"[{_label(run['overrides'])}] " if mode else ""
            log(
                f"{prefix}epoch {epoch:3d} | lr {rec['learning_rate']:.6g} | train loss "
                f"{rec['train_loss']:.4f} | test loss {rec['test_loss']:.4f} | test acc "
                f"{100 * rec['test_accuracy']:6.2f}% | {seconds:.2f} s"
            )
        if is_main:
            _save_metrics(workdir, runs, steps_rows, sweep=mode is not None)
        if mngr is not None:
            import orbax.checkpoint as ocp

            mngr.save(epoch, args=ocp.args.StandardSave(state))
            mngr.wait_until_finished()

    if mngr is not None:
        mngr.close()
    if mode and runs[0]["metrics"]:
        log(sweep_table(runs))
        if mode == "loop":
            log(f"loop mode: {n} configurations, train_epoch traced {progs.traces['train_epoch']}x")
    if is_main and config.plots and runs[0]["metrics"]:
        save_plots(workdir, runs, steps_rows, sweep=mode is not None)
    return {
        "runs": runs,
        "sweep_mode": mode,
        "traces": dict(progs.traces),
        "steps_per_epoch": steps_per_epoch,
        "schedule": schedule_text,
        "state": state,
    }


def _save_metrics(workdir: Path, runs: list[dict], steps: list[list[dict]], sweep: bool) -> None:
    if sweep:
        _write_json(workdir / "sweep.json", runs)
        _write_csv(
            workdir / "sweep_steps.csv",
            ("config", "step", "learning_rate", "loss"),
            [{"config": i, **r} for i, rows in enumerate(steps) for r in rows],
        )
    else:
        _write_json(workdir / "metrics.json", runs[0]["metrics"])
        _write_csv(workdir / "metrics.csv", METRIC_FIELDS, runs[0]["metrics"])
        _write_csv(workdir / "steps.csv", ("step", "learning_rate", "loss"), steps[0])


def _load_metrics(
    workdir: Path, n: int, upto: int, sweep: bool
) -> tuple[list[dict], list[list[dict]]]:
    """The records written before a checkpoint at epoch ``upto`` (later ones are dropped)."""
    if sweep:
        runs = json.loads((workdir / "sweep.json").read_text())
        flat = _read_csv(workdir / "sweep_steps.csv")
        steps = [[r for r in flat if int(r["config"]) == i] for i in range(n)]
        steps = [[{k: v for k, v in r.items() if k != "config"} for r in s] for s in steps]
    else:
        runs = [{"overrides": {}, "metrics": json.loads((workdir / "metrics.json").read_text())}]
        steps = [_read_csv(workdir / "steps.csv")]
    for run in runs:
        run["metrics"] = [r for r in run["metrics"] if r["epoch"] <= upto]
    last = None if not runs[0]["metrics"] else upto
    steps = [
        [
            {
                "step": int(r["step"]),
                "learning_rate": float(r["learning_rate"]),
                "loss": float(r["loss"]),
            }
            for r in s
        ]
        for s in steps
    ]
    if last is not None:
        per = len(steps[0]) // max(1, len(runs[0]["metrics"])) if steps[0] else 0
        steps = [s[: per * upto] for s in steps]
    return runs, steps


# --------------------------------------------------------------------------------------------
# Progress bar
# --------------------------------------------------------------------------------------------


def _want_progress(config: Config, steps: int, is_main: bool) -> bool:
    return config.progress and is_main and steps >= PROGRESS_MIN_STEPS


class _ProgressBar:
    """A tqdm bar advanced from inside the compiled epoch (``jax.debug.callback``)."""

    def __init__(self, total: int):
        self.total = total
        self.bar = None

    def start(self, epoch: int) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=self.total, desc=f"epoch {epoch}", leave=False, unit="step")

    def tick(self, i: Any) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def learning_rates(schedule_text: str, steps: int) -> np.ndarray:
    """The schedule's values at counts ``0..steps-1`` (what the optimizer should have used)."""
    return np.asarray(jaxdecay.parse(schedule_text)(jnp.arange(steps)))


__all__ = [
    "CNN",
    "MLP",
    "build_programs",
    "default_workdir",
    "find_sweep_key",
    "learning_rates",
    "make_model",
    "make_optimizer",
    "resolve_schedule_text",
    "train_and_evaluate",
]
