"""Memory and time of the meta-gradient of ``examples/hypergradient.py``, with and without
``jax.checkpoint``.

The meta-gradient is ``jax.value_and_grad`` of the validation loss after ``K`` momentum-SGD
updates of the example's MLP with respect to the schedule's unconstrained parameters (the
example's ``meta_objective``). For each ``K`` and each ``--remat`` mode of the example:

- ``none``: reverse mode keeps every residual of every update;
- ``step``: ``jax.checkpoint`` around each update: the parameters and momentum after each update;
- ``nested``: a scan of checkpointed chunks of about ``sqrt(K)`` updates;

it reports XLA's own accounting of the compiled program
(``jax.jit(f).lower(...).compile().memory_analysis()``: the temporary buffers, plus arguments and
outputs), the peak resident memory of a fresh process that compiles and runs it once (``ru_maxrss``,
and its growth during the run), and the seconds per meta-step (median of ``--repeats`` calls after
a warm-up). Each configuration runs in its own subprocess so that the peak RSS is its own. Run::

    python benchmarks/hypergradient_memory.py                    # K = 100, 300, 1000
    python benchmarks/hypergradient_memory.py --steps 100 --json out.json
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REMATS = ("none", "step", "nested")


def _maxrss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def measure(steps: int, remat: str, repeats: int, batch_size: int, hidden: int) -> dict:
    """Compile and run one meta-gradient in this process; the numbers for one table row."""
    sys.path.insert(0, str(ROOT / "examples"))
    import hypergradient as hg
    import jax
    import jax.numpy as jnp

    config = hg.Config(
        inner_steps=steps, batch_size=batch_size, hidden_sizes=(hidden,), download=False,
        remat=remat,
    )  # fmt: skip
    d = hg.load_data(config)
    graphdef, params = hg.init_model(config)
    idx = jnp.asarray(hg.batch_indices(len(d.train_y), steps, batch_size, 0))
    data = (d.train_x, d.train_y, idx, d.val_x, d.val_y)
    u, constrain = hg.reparametrize(hg.start_schedule(config, steps), steps)

    def meta_gradient(u, data):
        return jax.value_and_grad(hg.meta_objective)(
            u, constrain, graphdef, params, data, momentum=config.momentum, remat=remat
        )

    t = time.perf_counter()
    compiled = jax.jit(meta_gradient).lower(u, data).compile()
    compile_s = time.perf_counter() - t
    mem = compiled.memory_analysis()
    rss_before = _maxrss_bytes()
    jax.block_until_ready(compiled(u, data))  # warm-up
    rss_after = _maxrss_bytes()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(compiled(u, data))
        times.append(time.perf_counter() - t)
    n_params = sum(x.size for x in jax.tree.leaves(params))
    return {
        "steps": steps,
        "remat": remat,
        "temp_bytes": int(mem.temp_size_in_bytes),
        "argument_bytes": int(mem.argument_size_in_bytes),
        "output_bytes": int(mem.output_size_in_bytes),
        "peak_rss_bytes": rss_after,
        "rss_growth_bytes": rss_after - rss_before,
        "compile_seconds": compile_s,
        "seconds_per_meta_step": statistics.median(times),
        "params": int(n_params),
        "device": jax.devices()[0].device_kind,
    }


def _mib(b: float) -> str:
    return f"{b / 2**20:,.1f}"


def table(rows: list[dict]) -> str:
    """A Markdown table; ratios are against ``nested`` at the same K."""
    out = [
        "| K | remat | XLA temp MiB | vs nested | peak RSS MiB | RSS growth MiB | s / meta-step |"
        " vs none |",
        "| --: | --- | --: | --: | --: | --: | --: | --: |",
    ]
    for r in rows:
        same = {x["remat"]: x for x in rows if x["steps"] == r["steps"]}
        base = same.get("nested", r)
        none = same.get("none", r)
        out.append(
            f"| {r['steps']} | {r['remat']} | {_mib(r['temp_bytes'])} | "
            f"{r['temp_bytes'] / base['temp_bytes']:.1f}x | {_mib(r['peak_rss_bytes'])} | "
            f"{_mib(r['rss_growth_bytes'])} | {r['seconds_per_meta_step']:.3f} | "
            f"{r['seconds_per_meta_step'] / none['seconds_per_meta_step']:.2f}x |"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, nargs="+", default=[100, 300, 1000])
    p.add_argument("--remat", choices=REMATS, nargs="+", default=list(REMATS))
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batch_size", type=int, default=64)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--json", type=str, default=None)
    p.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # internal: one row
    args = p.parse_args(argv)
    if args.one:
        row = measure(args.steps[0], args.remat[0], args.repeats, args.batch_size, args.hidden)
        print("ROW " + json.dumps(row))
        return [row]
    rows = []
    for steps in args.steps:
        for remat in args.remat:
            cmd = [
                sys.executable, __file__, "--one", "--steps", str(steps), "--remat", remat,
                "--repeats", str(args.repeats), "--batch_size", str(args.batch_size),
                "--hidden", str(args.hidden),
            ]  # fmt: skip
            res = subprocess.run(cmd, capture_output=True, text=True, check=False)
            line = [x for x in res.stdout.splitlines() if x.startswith("ROW ")]
            if res.returncode != 0 or not line:
                raise RuntimeError(f"{' '.join(cmd)} failed:\n{res.stdout}\n{res.stderr}")
            rows.append(json.loads(line[0][4:]))
            r = rows[-1]
            print(
                f"K={steps:5d} remat={remat:6s} temp {_mib(r['temp_bytes']):>9s} MiB  "
                f"peak RSS {_mib(r['peak_rss_bytes']):>9s} MiB  "
                f"{r['seconds_per_meta_step']:.3f} s/meta-step",
                flush=True,
            )
    print()
    print(
        f"MLP 784-{args.hidden}-10 ({rows[0]['params']:,} parameters), batch {args.batch_size}, "
        f"momentum SGD; device {rows[0]['device']}"
    )
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__":
    main()
