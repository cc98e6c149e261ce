"""Learn a learning-rate schedule by gradient descent on the validation loss.

The MNIST MLP of the main example (``examples/flax_mnist``: the same ``models.MLP`` and the same
``input_pipeline.load_dataset``) is trained for ``K`` momentum-SGD updates under ``lax.scan``;
the validation loss at the end is differentiated with respect to the schedule
``warmup(exponential_decay(peak, K, decay_rate), warmup_steps)`` -- a jaxdecay schedule is a
pytree, so ``jax.grad`` goes straight through ``optax.sgd(schedule)`` -- and an outer Adam steps
the schedule's unconstrained parameters (``jaxdecay.unconstrained``: ``log peak``,
``logit decay_rate``, ``logit(warmup_steps / K)``).

Memory: reverse mode through ``K`` updates keeps what each update needs for its backward pass.
``--remat`` chooses what is kept: ``none`` (everything), ``step`` (``jax.checkpoint`` around each
update: only the parameters and momentum after each update), ``nested`` (the default: a scan of
``jax.checkpoint``-ed chunks of about ``sqrt(K)`` updates, so about ``2 sqrt(K)`` copies of the
parameters and momentum). ``benchmarks/hypergradient_memory.py`` measures the three.

Then, at the same inner budget, a grid sweep over the decay rate (one ``jax.vmap``-ed program,
the other hyperparameters at their starting values) and the comparison: final validation and test
loss of the tuned schedule against the best grid point, and the updates each spent. Last, the
short-horizon checks (Wu et al., ICLR 2018) at ``long_factor * K`` updates: the tuned schedule
stretched to that length, a schedule for that length tuned on the loss after its first ``K``
updates (a truncated objective), and the best grid point of a sweep run at that length.

Every run uses the same initialisation and the same sequence of batches (a run of ``K`` updates
uses the first ``K``), so the outer objective is deterministic and the comparisons are paired.

Run: ``python examples/hypergradient.py`` (about 75 seconds on 2 CPU cores; sizes are flags,
``--help`` lists them). It prints one line per outer step, writes ``schedules.png`` (learned vs
start vs best grid point) and ``results.json`` into ``--workdir``. Measured numbers and their
discussion: ``docs/guides/hypergradients.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

sys.path.insert(0, str(Path(__file__).resolve().parent / "flax_mnist"))

import input_pipeline  # noqa: E402
import models  # noqa: E402

import jaxdecay  # noqa: E402

REMATS = ("none", "step", "nested")
PARAM_NAMES = ("peak_value", "decay_rate", "warmup_steps")


@dataclasses.dataclass(frozen=True)
class Config:
    """Sizes and hyperparameters (each a command-line flag of the same name)."""

    inner_steps: int = 100  # K: SGD updates per inner run
    batch_size: int = 64
    hidden_sizes: tuple[int, ...] = (64,)
    momentum: float = 0.9
    outer_steps: int = 25
    outer_learning_rate: float = 0.1  # Adam, on the unconstrained parameters
    peak_value: float = 0.1  # the starting schedule
    decay_rate: float = 0.5
    warmup_fraction: float = 0.1
    grid: tuple[float, ...] = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 0.6, 1.0)
    val_size: int = 1000  # held out from the training split for the outer objective
    train_size: int = 0  # 0: the rest of the training split
    test_size: int = 0  # 0: the whole test split
    long_factor: int = 4  # the short-horizon check trains for long_factor * K updates
    truncated_outer_steps: int = 15  # outer steps of the truncated-horizon tuning (0: skip)
    remat: str = "nested"
    seed: int = 0
    dataset: str = "mnist"
    data_dir: str | None = None
    download: bool = True
    workdir: str = "/tmp/jaxdecay_hypergradient"


# --------------------------------------------------------------------------------------------
# The problem: a fixed initialisation and a fixed sequence of batches
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Data:
    """Arrays on the device: uint8 images ``(n, 784)`` and int32 labels."""

    train_x: jax.Array
    train_y: jax.Array
    val_x: jax.Array
    val_y: jax.Array
    test_x: jax.Array
    test_y: jax.Array
    source: str


def load_data(config: Config) -> Data:
    """The main example's data set, split into train / validation (held out) / test."""
    ds = input_pipeline.load_dataset(config.dataset, config.data_dir, download=config.download)
    n = len(ds.train_labels)
    if not 0 < config.val_size < n:
        raise ValueError(f"`val_size` must be in (0, {n}), got {config.val_size}")
    train_end = n - config.val_size
    if config.train_size:
        train_end = min(train_end, config.train_size)
    test_end = config.test_size or len(ds.test_labels)

    def flat(a: np.ndarray) -> jax.Array:
        return jnp.asarray(a.reshape(len(a), -1))

    return Data(
        train_x=flat(ds.train_images[:train_end]),
        train_y=jnp.asarray(ds.train_labels[:train_end]),
        val_x=flat(ds.train_images[n - config.val_size :]),
        val_y=jnp.asarray(ds.train_labels[n - config.val_size :]),
        test_x=flat(ds.test_images[:test_end]),
        test_y=jnp.asarray(ds.test_labels[:test_end]),
        source=ds.source,
    )


def batch_indices(n: int, steps: int, batch_size: int, seed: int) -> np.ndarray:
    """``(steps, batch_size)`` example indices: consecutive epochs, each a fresh permutation."""
    rng = np.random.default_rng(seed)
    epochs = -(-steps * batch_size // n)
    order = np.concatenate([rng.permutation(n) for _ in range(epochs)])
    return order[: steps * batch_size].reshape(steps, batch_size)


def init_model(config: Config, dtype: Any = jnp.float32) -> tuple[nnx.GraphDef, Any]:
    """The example's MLP, split into its graph and its parameters (cast to ``dtype``)."""
    model = models.MLP(tuple(config.hidden_sizes), dtype=dtype, rngs=nnx.Rngs(config.seed))
    graphdef, params = nnx.split(model)
    return graphdef, jax.tree.map(lambda p: p.astype(dtype), params)


def make_schedule(peak_value: Any, decay_rate: Any, warmup_steps: Any, horizon: int):
    """``warmup(exponential_decay(peak, horizon, rate), warmup_steps)``: linear warmup from 0,
    then ``peak * rate ** ((t - warmup_steps) / horizon)``."""
    return jaxdecay.warmup(
        jaxdecay.exponential_decay(peak_value, horizon, decay_rate), warmup_steps=warmup_steps
    )


# --------------------------------------------------------------------------------------------
# The inner loop, and its loss at the end
# --------------------------------------------------------------------------------------------


def _logits(graphdef: nnx.GraphDef, params: Any, x: jax.Array) -> jax.Array:
    dtype = jax.tree.leaves(params)[0].dtype
    return nnx.merge(graphdef, params)(x.astype(dtype) / 255.0)


def loss_fn(graphdef: nnx.GraphDef, params: Any, x: jax.Array, y: jax.Array) -> jax.Array:
    """Mean softmax cross-entropy of the model on ``(x, y)``."""
    logits = _logits(graphdef, params, x)
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


def chunk_size(steps: int) -> int:
    """The largest divisor of ``steps`` that is at most ``sqrt(steps)``."""
    return max(d for d in range(1, math.isqrt(steps) + 1) if steps % d == 0)


def train(
    graphdef: nnx.GraphDef,
    params: Any,
    schedule: optax.Schedule,
    x: jax.Array,
    y: jax.Array,
    idx: jax.Array,
    *,
    momentum: float,
    remat: str,
) -> Any:
    """``len(idx)`` momentum-SGD updates with learning rate ``schedule``, under ``lax.scan``.

    ``idx`` is ``(steps, batch)``: the examples of each update. ``remat`` picks what reverse
    mode keeps (module docstring); the values are the same for all three.
    """
    if remat not in REMATS:
        raise ValueError(f"`remat` must be one of {', '.join(REMATS)}, got {remat!r}")
    opt = optax.sgd(schedule, momentum=momentum)

    def step(carry, batch_idx):
        p, state = carry
        g = jax.grad(loss_fn, argnums=1)(graphdef, p, x[batch_idx], y[batch_idx])
        updates, state = opt.update(g, state, p)
        return (optax.apply_updates(p, updates), state), None

    carry = (params, opt.init(params))
    if remat == "none":
        carry, _ = jax.lax.scan(step, carry, idx)
    elif remat == "step":
        carry, _ = jax.lax.scan(jax.checkpoint(step), carry, idx)
    else:
        c = chunk_size(idx.shape[0])

        @jax.checkpoint
        def chunk(carry, chunk_idx):
            return jax.lax.scan(jax.checkpoint(step), carry, chunk_idx)

        carry, _ = jax.lax.scan(chunk, carry, idx.reshape(-1, c, idx.shape[1]))
    return carry[0]


def final_loss(
    graphdef: nnx.GraphDef,
    params: Any,
    schedule: optax.Schedule,
    data: tuple[jax.Array, ...],
    *,
    momentum: float,
    remat: str,
) -> jax.Array:
    """Loss on ``(eval_x, eval_y)`` after training with ``schedule``; ``data`` is
    ``(train_x, train_y, idx, eval_x, eval_y)``."""
    x, y, idx, ex, ey = data
    trained = train(graphdef, params, schedule, x, y, idx, momentum=momentum, remat=remat)
    return loss_fn(graphdef, trained, ex, ey)


# --------------------------------------------------------------------------------------------
# Outer loop, grid sweep, comparison
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Results:
    """Everything `run` measured (also written to ``results.json``)."""

    start: dict[str, float]
    tuned: dict[str, float]
    history: list[dict[str, float]]
    start_val_loss: float
    tuned_val: dict[str, float]
    tuned_test: dict[str, float]
    grid_rates: list[float]
    grid_val_loss: list[float]
    best_grid_rate: float
    best_grid_val: dict[str, float]
    best_grid_test: dict[str, float]
    tuned_updates: int
    grid_updates: int
    long_horizon: dict[str, Any]
    seconds: dict[str, float]
    data_source: str


def _values(schedule_params: dict[str, jax.Array], constrain: Callable) -> dict[str, float]:
    s = constrain(schedule_params)
    inner = s.arguments["schedule"].arguments
    return {
        "peak_value": float(inner["init_value"]),
        "decay_rate": float(inner["decay_rate"]),
        "warmup_steps": float(s.arguments["warmup_steps"]),
    }


def start_schedule(config: Config, horizon: int, dtype: Any = jnp.float32) -> jaxdecay.Schedule:
    """The schedule the outer loop starts from, for a run of ``horizon`` updates.

    Its hyperparameters are arrays (pytree leaves), like those of every schedule the example
    evaluates: one compiled program evaluates them all.
    """
    values = (config.peak_value, config.decay_rate, config.warmup_fraction * horizon)
    return make_schedule(*(jnp.asarray(v, dtype) for v in values), horizon)


def reparametrize(schedule: jaxdecay.Schedule, horizon: int):
    """``jaxdecay.unconstrained`` for :func:`make_schedule`: log peak, logit decay rate and
    logit of the warmup's fraction of the run."""
    return jaxdecay.unconstrained(
        schedule,
        {
            "schedule.init_value": "exp",
            "schedule.decay_rate": "sigmoid",
            "warmup_steps": (0.0, float(horizon)),
        },
    )


def meta_objective(
    u: dict[str, jax.Array],
    constrain: Callable,
    graphdef: nnx.GraphDef,
    params: Any,
    data: tuple[jax.Array, ...],
    *,
    momentum: float,
    remat: str,
) -> jax.Array:
    """The validation loss after the inner run, as a function of the unconstrained ``u``."""
    return final_loss(graphdef, params, constrain(u), data, momentum=momentum, remat=remat)


def tune(
    config: Config,
    graphdef: nnx.GraphDef,
    params: Any,
    data: tuple[jax.Array, ...],
    *,
    horizon: int,
    outer_steps: int,
    label: str = "outer",
    log: Callable[[str], None] = print,
) -> tuple[dict[str, jax.Array], Callable, list[dict[str, float]]]:
    """Outer Adam on the validation loss w.r.t. the schedule's unconstrained parameters.

    The schedule is built for ``horizon`` updates; the inner run is ``len(idx)`` updates of it
    (fewer than ``horizon``: a truncated, short-horizon objective).
    """
    u, constrain = reparametrize(start_schedule(config, horizon), horizon)
    outer = optax.adam(config.outer_learning_rate)
    opt_state = outer.init(u)

    @jax.jit
    def meta_step(u, opt_state, data):
        loss, g = jax.value_and_grad(meta_objective)(
            u, constrain, graphdef, params, data, momentum=config.momentum, remat=config.remat
        )
        updates, opt_state = outer.update(g, opt_state, u)
        return optax.apply_updates(u, updates), opt_state, loss

    history = []
    for i in range(outer_steps):
        hp = _values(u, constrain)
        u, opt_state, loss = meta_step(u, opt_state, data)
        row = {"step": i, **hp, "val_loss": float(loss)}
        history.append(row)
        log(
            f"{label} {i:3d}  peak {hp['peak_value']:.4f}  decay_rate {hp['decay_rate']:.4f}  "
            f"warmup {hp['warmup_steps']:6.2f}  val_loss {row['val_loss']:.4f}"
        )
    return u, constrain, history


@functools.partial(jax.jit, static_argnames=("graphdef", "momentum"))
def train_and_evaluate(
    graphdef: nnx.GraphDef,
    params: Any,
    schedule: optax.Schedule,
    data: tuple[jax.Array, ...],
    *,
    momentum: float,
) -> tuple[jax.Array, jax.Array]:
    """Train with ``schedule``; loss and accuracy on the evaluation set of ``data``."""
    x, y, idx, ex, ey = data
    p = train(graphdef, params, schedule, x, y, idx, momentum=momentum, remat="none")
    logits = _logits(graphdef, p, ex)
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, ey).mean()
    return loss, jnp.mean(jnp.argmax(logits, -1) == ey)


@functools.partial(jax.jit, static_argnames=("graphdef", "horizon", "momentum"))
def grid_sweep(
    graphdef: nnx.GraphDef,
    params: Any,
    rates: jax.Array,
    peak_value: jax.Array,
    warmup_steps: jax.Array,
    data: tuple[jax.Array, ...],
    *,
    horizon: int,
    momentum: float,
) -> jax.Array:
    """Final loss for every decay rate in ``rates``, the other hyperparameters fixed: one
    ``jax.vmap``-ed program (each rate a separate training run of ``len(idx)`` updates)."""

    def one(rate):
        s = make_schedule(peak_value, rate, warmup_steps, horizon)
        return final_loss(graphdef, params, s, data, momentum=momentum, remat="none")

    return jax.vmap(one)(rates)


def run(config: Config, log: Callable[[str], None] = print) -> Results:
    """The whole experiment (module docstring); writes the plot and ``results.json``."""
    t0 = time.perf_counter()
    d = load_data(config)
    graphdef, params = init_model(config)
    k, n, f = config.inner_steps, len(d.train_y), config.long_factor
    # One sequence of batches for every run; a run of k updates uses the first k of them.
    long_idx = jnp.asarray(batch_indices(n, f * k, config.batch_size, config.seed))
    val_data = (d.train_x, d.train_y, long_idx[:k], d.val_x, d.val_y)
    test_data = (d.train_x, d.train_y, long_idx[:k], d.test_x, d.test_y)
    long_val = (d.train_x, d.train_y, long_idx, d.val_x, d.val_y)
    long_test = (d.train_x, d.train_y, long_idx, d.test_x, d.test_y)
    log(
        f"data: {d.source}; train {n}, validation {len(d.val_y)}, test {len(d.test_y)}; "
        f"K = {k} updates of batch {config.batch_size}; remat = {config.remat}"
    )
    seconds = {"data": time.perf_counter() - t0}

    def evaluate(schedule, data) -> dict[str, float]:
        loss, acc = train_and_evaluate(graphdef, params, schedule, data, momentum=config.momentum)
        return {"loss": float(loss), "accuracy": float(acc)}

    # 1. Hypergradient descent on the schedule of a K-update run.
    t = time.perf_counter()
    u, constrain, history = tune(
        config, graphdef, params, val_data, horizon=k, outer_steps=config.outer_steps, log=log
    )
    seconds["tune"] = time.perf_counter() - t
    start_s, tuned_s = start_schedule(config, k), constrain(u)
    tuned_val, tuned_test = evaluate(tuned_s, val_data), evaluate(tuned_s, test_data)

    # 2. The grid over the decay rate at the same K (peak and warmup at their starting values).
    t = time.perf_counter()
    f32 = functools.partial(jnp.asarray, dtype=jnp.float32)
    rates, peak0, w0 = f32(config.grid), f32(config.peak_value), f32(config.warmup_fraction * k)
    sweep = functools.partial(grid_sweep, graphdef, params, momentum=config.momentum)
    grid_val = np.asarray(sweep(rates, peak0, w0, val_data, horizon=k))
    seconds["grid"] = time.perf_counter() - t
    best = int(np.argmin(grid_val))
    best_s = make_schedule(peak0, rates[best], w0, k)
    best_val, best_test = evaluate(best_s, val_data), evaluate(best_s, test_data)

    # 3. Short horizon: a schedule for f * K updates tuned on the loss after its first K updates
    # (a truncated objective), against the same schedule family tuned by a grid at f * K.
    t = time.perf_counter()
    long_hp: dict[str, Any] = {"updates": f * k}
    if config.truncated_outer_steps:
        ut, constrain_t, hist_t = tune(
            config,
            graphdef,
            params,
            val_data,
            horizon=f * k,
            outer_steps=config.truncated_outer_steps,
            label="truncated",
            log=log,
        )
        trunc_s = constrain_t(ut)
        long_hp.update(
            truncated_tuned=_values(ut, constrain_t),
            truncated_history=hist_t,
            truncated_val=evaluate(trunc_s, long_val),
            truncated_test=evaluate(trunc_s, long_test),
        )
    long_hp["start_val"] = evaluate(start_schedule(config, f * k), long_val)
    long_hp["stretched_val"] = evaluate(jaxdecay.stretch(tuned_s, float(f)), long_val)
    long_grid = np.asarray(sweep(rates, peak0, w0 * f, long_val, horizon=f * k))
    long_best = int(np.argmin(long_grid))
    long_hp.update(
        grid_val_loss=[float(v) for v in long_grid],
        best_grid_rate=float(config.grid[long_best]),
        best_grid_val=float(long_grid[long_best]),
        best_grid_test=evaluate(make_schedule(peak0, rates[long_best], w0 * f, f * k), long_test),
    )
    seconds["long_horizon"] = time.perf_counter() - t
    seconds["total"] = time.perf_counter() - t0

    results = Results(
        start=_values(*reparametrize(start_s, k)),
        tuned=_values(u, constrain),
        history=history,
        start_val_loss=evaluate(start_s, val_data)["loss"],
        tuned_val=tuned_val,
        tuned_test=tuned_test,
        grid_rates=list(config.grid),
        grid_val_loss=[float(v) for v in grid_val],
        best_grid_rate=float(config.grid[best]),
        best_grid_val=best_val,
        best_grid_test=best_test,
        tuned_updates=config.outer_steps * k,
        grid_updates=len(config.grid) * k,
        long_horizon=long_hp,
        seconds=seconds,
        data_source=d.source,
    )
    report(results, log)
    workdir = Path(config.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "results.json").write_text(json.dumps(dataclasses.asdict(results), indent=1))
    plot(start_s, tuned_s, best_s, k, workdir / "schedules.png")
    log(f"wrote {workdir / 'results.json'} and {workdir / 'schedules.png'}")
    return results


def _hp(h: dict[str, float]) -> str:
    return (
        f"peak {h['peak_value']:.4f}, decay_rate {h['decay_rate']:.4f}, "
        f"warmup {h['warmup_steps']:.1f}"
    )


def report(r: Results, log: Callable[[str], None] = print) -> None:
    """The comparison, as printed lines."""
    log(f"start      {_hp(r.start)}: val_loss {r.start_val_loss:.4f}")
    log(
        f"tuned      {_hp(r.tuned)}: val_loss {r.tuned_val['loss']:.4f}, test_loss "
        f"{r.tuned_test['loss']:.4f}, test_accuracy {r.tuned_test['accuracy']:.4f} "
        f"[{r.tuned_updates} updates, each also differentiated]"
    )
    grid = ", ".join(f"{a:g}: {b:.4f}" for a, b in zip(r.grid_rates, r.grid_val_loss, strict=True))
    log(f"grid       decay_rate -> val_loss: {grid}")
    log(
        f"best grid  decay_rate {r.best_grid_rate:g}: val_loss {r.best_grid_val['loss']:.4f}, "
        f"test_loss {r.best_grid_test['loss']:.4f}, test_accuracy "
        f"{r.best_grid_test['accuracy']:.4f} [{r.grid_updates} updates]"
    )
    lh = r.long_horizon
    log(f"long horizon, {lh['updates']} updates (validation loss):")
    log(f"  start schedule                 {lh['start_val']['loss']:.4f}")
    log(f"  tuned at K, stretched          {lh['stretched_val']['loss']:.4f}")
    if "truncated_tuned" in lh:
        log(
            f"  tuned on its first K updates   {lh['truncated_val']['loss']:.4f}  "
            f"({_hp(lh['truncated_tuned'])})"
        )
    log(
        f"  best grid point                {lh['best_grid_val']:.4f}  "
        f"(decay_rate {lh['best_grid_rate']:g})"
    )
    log("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in r.seconds.items()))


def plot(start: optax.Schedule, tuned: optax.Schedule, best: optax.Schedule, k: int, path: Path):
    """The learned schedule against the start and the best grid point (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = jnp.arange(k + 1)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(t, start(t), label="start", ls="--")
    ax.plot(t, best(t), label="best grid point", ls=":")
    ax.plot(t, tuned(t), label="learned (hypergradient)")
    ax.set_xlabel("update")
    ax.set_ylabel("learning rate")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> Config:
    """A :class:`Config` from ``--name value`` flags (one per field)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    defaults = Config()
    for field in dataclasses.fields(Config):
        value = getattr(defaults, field.name)
        flag = "--" + field.name
        if isinstance(value, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=value)
        elif isinstance(value, tuple):
            kind = type(value[0])
            parser.add_argument(flag, type=kind, nargs="+", default=value)
        elif field.name == "remat":
            parser.add_argument(flag, choices=REMATS, default=value)
        else:
            parser.add_argument(flag, type=type(value) if value is not None else str, default=value)
    args = parser.parse_args(argv)
    kwargs = {f.name: getattr(args, f.name) for f in dataclasses.fields(Config)}
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}
    return Config(**kwargs)


def main(argv: Sequence[str] | None = None) -> Results:
    return run(parse_args(argv))


if __name__ == "__main__":
    main()
