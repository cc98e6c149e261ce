"""Default hyperparameters of the Flax MNIST example (what ``main.py`` runs without flags).

Override any field from the command line, e.g. ``--config.num_epochs=2`` or
``--config.schedule="cosine_decay(0.1, total_steps)"``.
"""

from __future__ import annotations

import ml_collections
from ml_collections import config_dict


def get_config() -> ml_collections.ConfigDict:
    """An MLP with SGD + momentum and a per-epoch exponential decay of the rate, 10 epochs.

    The learning-rate schedule is text in ``jaxdecay.parse`` syntax. It may use the names
    ``steps_per_epoch`` (updates in one epoch), ``total_steps`` (``steps_per_epoch *
    num_epochs``), every name in ``schedule_names`` and the name ``sweep`` binds.
    """
    config = ml_collections.ConfigDict()

    # Data.
    config.dataset = "mnist"  # "mnist" or "fashion_mnist"
    config.data_dir = config_dict.placeholder(str)  # a folder with the four IDX files
    config.download = True  # allow downloading MNIST into the cache
    config.train_limit = config_dict.placeholder(int)  # only the first N training examples
    config.test_limit = config_dict.placeholder(int)

    # Model and optimizer.
    config.model = "mlp"  # "mlp" or "cnn"
    config.hidden_sizes = (512, 512)  # MLP hidden layers
    config.conv = "auto"  # CNN convolutions: "auto" (im2col on CPU), "xla" or "im2col"
    config.dtype = "float32"  # compute dtype: "float32" or "bfloat16" (params, LR stay float32)
    config.optimizer = "sgd"  # "sgd" (with momentum) or "adamw"
    config.momentum = 0.9  # SGD
    config.weight_decay = 1e-4  # AdamW
    config.schedule = "exponential_decay(0.1, steps_per_epoch, decay_rate)"
    config.schedule_names = ml_collections.ConfigDict({"decay_rate": 0.8})

    # Training loop.
    config.num_epochs = 10
    config.batch_size = 128
    config.seed = 0
    # > 0: train until this many seconds are spent, the schedule running on the fraction of
    # the budget spent (jaxdecay.budget; num_epochs then only sets `total_steps`, the unit the
    # schedule text is written in). The last update uses the schedule's end value; a schedule
    # without one (this default never becomes constant) runs over num_epochs * steps_per_epoch.
    config.time_budget_s = 0.0

    # Sweep over one name of the schedule: "NAME=v1,v2,..." ("": a single run).
    config.sweep = ""
    config.sweep_mode = "auto"  # "vmap", "loop" or "auto" (the faster one for the device)
    config.sweep_devices = 0  # vmap: devices on the mesh's `sweep` axis (0: the largest fit)

    # Output.
    config.progress = True  # tqdm bar on long epochs, advanced once per chunk of updates
    config.chunk_steps = 0  # updates per compiled call (0: a whole epoch; 1/10 with the bar)
    config.plots = True
    config.checkpoint = True  # checkpoint each epoch in the workdir and resume from it

    # Several processes (multi-host): all unset means a single process; `distributed` alone
    # lets jax.distributed.initialize() auto-detect a TPU pod or a SLURM job.
    config.distributed = False
    config.coordinator_address = config_dict.placeholder(str)  # "10.0.0.1:1234"
    config.num_processes = config_dict.placeholder(int)
    config.process_id = config_dict.placeholder(int)
    return config
