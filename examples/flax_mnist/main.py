"""Train an MNIST classifier with a jaxdecay learning-rate schedule.

    python examples/flax_mnist/main.py                       # defaults: configs/default.py
    python examples/flax_mnist/main.py --schedule "warmup(cosine_decay(0.1, total_steps), warmup_steps=100)"
    python examples/flax_mnist/main.py --sweep decay_rate=0.7,0.8,0.9
    python examples/flax_mnist/main.py --dataset fashion_mnist --model cnn --epochs 5

Every flag overrides one field of `configs/default.py`; the work is in `train.py`.
"""  # noqa: E501

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence


def _bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def _sizes(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes such as 512,512, got {text!r}") from None


def build_parser(defaults) -> argparse.ArgumentParser:
    """One flag per config field, ``--some-field`` for ``some_field``, defaults from the config."""
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--workdir",
        default=None,
        help="outputs and checkpoints; rerunning in the same folder resumes (default: a folder "
        "under <tmp>/jaxdecay_mnist/ named after the configuration)",
    )
    helps = {
        "dataset": "mnist or fashion_mnist",
        "data_dir": "folder with the four IDX files (.gz or raw)",
        "download": "allow downloading MNIST into the cache",
        "train_limit": "use only the first N training examples",
        "test_limit": "use only the first N test examples",
        "model": "mlp or cnn",
        "hidden_sizes": "MLP hidden layer sizes, comma-separated",
        "optimizer": "sgd (with momentum) or adamw",
        "schedule": "learning-rate schedule in jaxdecay.parse syntax; may use the names "
        "steps_per_epoch and total_steps",
        "dtype": "compute dtype, float32 or bfloat16 (params and learning rate stay float32)",
        "sweep": "KEY=v1,v2,...: train one configuration per value of a schedule argument",
        "sweep_mode": "vmap (one program), loop (one compiled function, called per value) or "
        "auto (the faster one for the device)",
        "progress": "tqdm progress bar on long epochs",
        "checkpoint": "checkpoint each epoch in --workdir and resume from it",
        "distributed": "call jax.distributed.initialize() first (multi-host)",
    }
    choices = {
        "dataset": ("mnist", "fashion_mnist"),
        "model": ("mlp", "cnn"),
        "optimizer": ("sgd", "adamw"),
        "dtype": ("float32", "bfloat16"),
        "sweep_mode": ("vmap", "loop", "auto"),
    }
    for f in dataclasses.fields(defaults):
        value = getattr(defaults, f.name)
        flag = "--" + f.name.replace("_", "-")
        kw = {"default": value, "help": helps.get(f.name, f.name.replace("_", " "))}
        if isinstance(value, bool):
            kw["type"] = _bool
            kw["metavar"] = "BOOL"
        elif isinstance(value, tuple):
            kw["type"] = _sizes
        elif isinstance(value, int):
            kw["type"] = int
        elif isinstance(value, float):
            kw["type"] = float
        elif f.name in ("train_limit", "test_limit"):
            kw["type"] = int
        else:
            kw["type"] = str
        if f.name in choices:
            kw["choices"] = choices[f.name]
        p.add_argument(flag, **kw)
    return p


def main(argv: Sequence[str] | None = None) -> dict:
    # Imports here, not at module level: `--help` is instant and importing has no side effects.
    from configs.default import get_config

    defaults = get_config()
    args = build_parser(defaults).parse_args(argv)
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(defaults)}
    config = dataclasses.replace(defaults, **values)

    import train

    workdir = args.workdir or train.default_workdir(config)
    return train.train_and_evaluate(config, workdir)


if __name__ == "__main__":
    main(sys.argv[1:])
