"""Schedules on learning rate and momentum, a plateau on the validation loss, and logging.

A small MLP regression (y = sin(3x) + noise) trained with SGD whose learning rate (warmup then
cosine decay) and momentum (linear ramp) follow schedules through ``optax.inject_hyperparams``,
and whose learning rate is halved by :func:`jaxdecay.reduce_on_plateau` when the validation loss
stops improving. The validation loss of each epoch is fed to the first update of the next epoch
(the other updates get ``value=None``), which is what PyTorch's ``scheduler.step(val_loss)`` at
the end of an epoch does. Each epoch prints the hyperparameters read back from the optimizer
state with :func:`jaxdecay.hyperparams`, and the learning rate its last update actually used.

Run it (offline, a few seconds on a CPU)::

    python examples/inject_hyperparams.py --epochs 30
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxdecay


@dataclasses.dataclass(frozen=True)
class Config:
    num_epochs: int = 30
    steps_per_epoch: int = 16
    batch_size: int = 32
    num_val: int = 256
    hidden: int = 32
    peak_learning_rate: float = 0.1
    warmup_epochs: int = 2
    momentum_start: float = 0.8
    momentum_end: float = 0.95
    plateau_factor: float = 0.5
    plateau_patience: int = 1
    plateau_threshold: float = 1e-2
    seed: int = 0


def get_config() -> Config:
    return Config()


def make_data(key: jax.Array, n: int) -> tuple[jax.Array, jax.Array]:
    kx, kn = jax.random.split(key)
    x = jax.random.uniform(kx, (n, 1), minval=-1.0, maxval=1.0)
    return x, jnp.sin(3.0 * x) + 0.1 * jax.random.normal(kn, (n, 1))


def init_params(key: jax.Array, hidden: int) -> dict[str, jax.Array]:
    k1, k2 = jax.random.split(key)
    return {
        "w1": jax.random.normal(k1, (1, hidden)),
        "b1": jnp.zeros(hidden),
        "w2": jax.random.normal(k2, (hidden, 1)) / jnp.sqrt(hidden),
        "b2": jnp.zeros(1),
    }


def loss_fn(params: dict[str, jax.Array], x: jax.Array, y: jax.Array) -> jax.Array:
    h = jnp.tanh(x @ params["w1"] + params["b1"])
    return jnp.mean((h @ params["w2"] + params["b2"] - y) ** 2)


def make_optimizer(config: Config) -> tuple[optax.GradientTransformation, Any, Any]:
    """The optimizer, and its learning-rate and momentum schedules (in updates)."""
    total_steps = config.num_epochs * config.steps_per_epoch
    # jaxdecay.warmup_cosine_decay_schedule / jaxdecay.linear_schedule are drop-ins for these.
    learning_rate = optax.warmup_cosine_decay_schedule(
        init_value=0.0,
        peak_value=config.peak_learning_rate,
        warmup_steps=config.warmup_epochs * config.steps_per_epoch,
        decay_steps=total_steps,
        end_value=0.01 * config.peak_learning_rate,
    )
    momentum = optax.linear_schedule(config.momentum_start, config.momentum_end, total_steps)
    tx = optax.chain(
        optax.inject_hyperparams(optax.sgd)(learning_rate=learning_rate, momentum=momentum),
        jaxdecay.reduce_on_plateau(
            factor=config.plateau_factor,
            patience=config.plateau_patience,
            threshold=config.plateau_threshold,
        ),
    )
    return tx, learning_rate, momentum


def train_and_evaluate(config: Config) -> list[dict[str, float]]:
    """Train; return one record per epoch (what is printed)."""
    key_data, key_val, key_init = jax.random.split(jax.random.key(config.seed), 3)
    n_train = config.steps_per_epoch * config.batch_size
    x_train, y_train = make_data(key_data, n_train)
    x_val, y_val = make_data(key_val, config.num_val)
    params = init_params(key_init, config.hidden)
    tx, _, _ = make_optimizer(config)
    opt_state = tx.init(params)

    @jax.jit
    def train_step(params, opt_state, x, y, val_loss):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        # `val_loss` is None (no metric: the plateau only scales) or last epoch's val loss.
        updates, opt_state = tx.update(grads, opt_state, params, value=val_loss)
        return optax.apply_updates(params, updates), opt_state, loss

    eval_loss = jax.jit(loss_fn)
    rng = np.random.default_rng(config.seed)
    history = []
    val_loss = None
    for epoch in range(config.num_epochs):
        order = rng.permutation(n_train).reshape(config.steps_per_epoch, config.batch_size)
        train_losses = []
        for i, idx in enumerate(order):
            metric = val_loss if i == 0 else None
            params, opt_state, loss = train_step(
                params, opt_state, x_train[idx], y_train[idx], metric
            )
            train_losses.append(loss)
        val_loss = eval_loss(params, x_val, y_val)
        # The values the epoch's last update used.
        hp = {k: float(v) for k, v in jaxdecay.hyperparams(opt_state).items()}
        record = {
            "epoch": epoch,
            "step": (epoch + 1) * config.steps_per_epoch - 1,
            "used_learning_rate": float(jaxdecay.effective_learning_rate(opt_state)),
            **hp,
            "train_loss": float(np.mean(train_losses)),
            "val_loss": float(val_loss),
        }
        history.append(record)
        print(
            f"epoch {epoch:3d}  used lr {record['used_learning_rate']:.6e}  "
            f"(schedule {hp['learning_rate']:.6e} x plateau scale {hp['scale']:.4f})  "
            f"momentum {hp['momentum']:.4f}  train loss {record['train_loss']:.4f}  "
            f"val loss {record['val_loss']:.4f}"
        )
    return history


def main(argv: Sequence[str] | None = None) -> list[dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=get_config().num_epochs)
    parser.add_argument("--steps-per-epoch", type=int, default=get_config().steps_per_epoch)
    parser.add_argument("--seed", type=int, default=get_config().seed)
    args = parser.parse_args(argv)
    config = dataclasses.replace(
        get_config(),
        num_epochs=args.epochs,
        steps_per_epoch=args.steps_per_epoch,
        seed=args.seed,
    )
    return train_and_evaluate(config)


if __name__ == "__main__":
    main()
