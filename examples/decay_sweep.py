"""Sweep exponential decay rates in one compiled program.

Prints the per-iteration learning rate of ``lr0 * gamma ** t`` (SGD, ``lr0 = 0.1``,
``gamma = 0.9``: 0.1, 0.09, 0.081, 0.0729, ...), then trains a small least-squares model with
SGD for several decay rates at once: one ``jax.jit(jax.vmap(train))`` call, the decay rate being
an ordinary traced argument (Optax's own ``exponential_decay`` refuses a traced rate).

Run: ``python examples/decay_sweep.py [--rates 0.9,0.95,0.99] [--steps 200]``
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import optax

import jaxdecay


def make_problem(key: jax.Array, n: int = 256, d: int = 16):
    """A noisy linear regression problem."""
    kx, kw, kn = jax.random.split(key, 3)
    x = jax.random.normal(kx, (n, d))
    w_true = jax.random.normal(kw, (d,))
    y = x @ w_true + 0.1 * jax.random.normal(kn, (n,))
    return x, y


def train(decay_rate: jax.Array, x: jax.Array, y: jax.Array, steps: int, lr0: float):
    """SGD on mean squared error with ``lr = lr0 * decay_rate ** t``; returns losses and lrs."""
    schedule = jaxdecay.exponential_decay(lr0, transition_steps=1, decay_rate=decay_rate)
    opt = optax.inject_hyperparams(optax.sgd)(learning_rate=schedule)
    w = jnp.zeros(x.shape[1])
    state = opt.init(w)

    def loss_fn(w):
        return jnp.mean((x @ w - y) ** 2)

    def step(carry, _):
        w, state = carry
        loss, grads = jax.value_and_grad(loss_fn)(w)
        updates, state = opt.update(grads, state, w)
        lr = state.hyperparams["learning_rate"]  # the rate this update used
        return (optax.apply_updates(w, updates), state), (loss, lr)

    (w, _), (losses, lrs) = jax.lax.scan(step, (w, state), None, length=steps)
    return loss_fn(w), losses, lrs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="0.9,0.95,0.99,0.999,1.0")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--lr0", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rates = jnp.asarray([float(r) for r in args.rates.split(",")])

    seed = jaxdecay.exponential_decay(args.lr0, transition_steps=1, decay_rate=0.9)
    print(f"{seed!r}")
    print("iteration  learning rate")
    for i in range(1, 9):
        print(f"{i:9d}  {float(seed(i - 1)):.6g}")

    x, y = make_problem(jax.random.key(args.seed))
    sweep = jax.jit(jax.vmap(train, in_axes=(0, None, None, None, None)), static_argnums=(3, 4))
    final, losses, lrs = sweep(rates, x, y, args.steps, args.lr0)
    print()
    print(f"SGD on least squares, {args.steps} steps, all rates in one jit(vmap) program:")
    print("decay_rate  lr at last step  loss at step 10  final loss")
    for i, r in enumerate(rates):
        print(
            f"{float(r):10.4g}  {float(lrs[i, -1]):15.4g}  {float(losses[i, 10]):15.4g}"
            f"  {float(final[i]):10.4g}"
        )


if __name__ == "__main__":
    main()
