"""The learning-rate range test (Smith 2017; fastai's ``lr_find``) as one jitted ``lax.scan``."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxdecay import _validate as V

__all__ = ["find_lr", "FindLRResult"]


class FindLRResult(NamedTuple):
    """What :func:`find_lr` measured.

    Attributes:
      lrs: the ``num_steps`` learning rates of the sweep (geometric from ``min_lr`` to ``max_lr``);
        step ``i`` applies the update made with ``lrs[i]``.
      losses: the loss of each step's batch, measured before that step's update; NaN after the
        step where divergence was detected.
      smoothed_losses: the bias-corrected exponential moving average of ``losses``; NaN after the
        step where divergence was detected.
      suggestion: the learning rate where the smoothed loss falls fastest (the most negative
        derivative with respect to ``log(lr)``) on its way down to its minimum, before divergence;
        NaN when fewer than two such steps ran.
      diverged_at: the learning rate of the step where divergence was detected, or ``None`` when
        the sweep reached ``max_lr`` without diverging.
    """

    lrs: np.ndarray
    losses: np.ndarray
    smoothed_losses: np.ndarray
    suggestion: float
    diverged_at: float | None

    def plot(self, ax: Any = None) -> Any:
        """Draw the loss against the learning rate (log x axis), the suggestion and divergence.

        Args:
          ax: a matplotlib ``Axes`` to draw into; a new figure is made when ``None``.

        Returns:
          The ``Axes``.

        Raises:
          ImportError: matplotlib is not installed (``pip install "jaxdecay[plot]"``).
        """
        from jaxdecay.plotting import pyplot

        plt = pyplot()
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4.5))
        ax.plot(self.lrs, self.losses, color="0.7", linewidth=1, label="loss")
        ax.plot(self.lrs, self.smoothed_losses, linewidth=2, label="smoothed loss")
        if np.isfinite(self.suggestion):
            ax.axvline(
                self.suggestion,
                color="C2",
                linestyle="--",
                label=f"suggestion {self.suggestion:.3g}",
            )
        if self.diverged_at is not None:
            ax.axvline(
                self.diverged_at,
                color="C3",
                linestyle=":",
                label=f"diverged at {self.diverged_at:.3g}",
            )
        ax.set_xscale("log")
        valid = self.smoothed_losses[np.isfinite(self.smoothed_losses)]
        if self.diverged_at is not None:
            # The blow-up would squash the interesting part of the curve: scale to what came before.
            stop = int(np.argmax(self.lrs >= self.diverged_at))
            before = self.smoothed_losses[:stop]
            before = before[np.isfinite(before)]
            if before.size:
                valid = before
        if valid.size:
            lo, hi = float(valid.min()), float(valid.max())
            pad = 0.1 * (hi - lo) if hi > lo else max(abs(hi), 1.0) * 0.1
            ax.set_ylim(lo - pad, hi + pad)
        ax.set_xlabel("learning rate")
        ax.set_ylabel("loss")
        ax.legend()
        return ax


def _leading_length(batches: Any) -> int:
    leaves = jax.tree.leaves(batches)
    if not leaves:
        raise ValueError("`batches` must be a pytree with at least one array leaf, got no leaves")
    lengths = set()
    for leaf in leaves:
        shape = np.shape(leaf)
        if len(shape) == 0:
            raise ValueError(
                "every leaf of `batches` needs a leading (batch-index) axis, got a scalar leaf"
            )
        lengths.add(shape[0])
    if len(lengths) != 1:
        raise ValueError(
            f"every leaf of `batches` must have the same leading length, got {sorted(lengths)}"
        )
    n = lengths.pop()
    if n == 0:
        raise ValueError("`batches` must hold at least one batch, got a leading length of 0")
    return n


@functools.partial(jax.jit, static_argnames=("loss_fn", "optimizer"))
def _sweep(loss_fn, optimizer, params, batches, lrs, beta, diverge_factor):
    n = jax.tree.leaves(batches)[0].shape[0]
    take = lambda i: jax.tree.map(lambda b: jax.lax.dynamic_index_in_dim(b, i, 0, False), batches)
    loss_aval = jax.eval_shape(loss_fn, params, take(0))
    if loss_aval.shape != () or not jnp.issubdtype(loss_aval.dtype, jnp.floating):
        raise TypeError(
            "`loss_fn` must return a scalar floating loss, got "
            f"{loss_aval.dtype}{list(loss_aval.shape)}"
        )
    dt = loss_aval.dtype
    beta = jnp.asarray(beta, dt)
    diverge_factor = jnp.asarray(diverge_factor, dt)
    opt_state = optimizer(lrs[0]).init(params)
    grad_fn = jax.value_and_grad(loss_fn)

    def live(carry, i):
        params, opt_state, avg, best = carry
        loss, grads = grad_fn(params, take(i % n))
        loss = loss.astype(dt)
        avg = beta * avg + (1 - beta) * loss
        smoothed = avg / (1 - beta ** (i + 1).astype(dt))
        best = jnp.minimum(best, smoothed)
        diverged = (
            ~jnp.isfinite(loss) | ~jnp.isfinite(smoothed) | (smoothed > diverge_factor * best)
        )
        updates, new_state = optimizer(lrs[i]).update(grads, opt_state, params)
        new_params = optax.apply_updates(params, updates)
        # Masked update: the step that detects divergence does not move the parameters.
        keep = lambda new, old: jnp.where(diverged, old, new)
        params = jax.tree.map(keep, new_params, params)
        opt_state = jax.tree.map(keep, new_state, opt_state)
        return (params, opt_state, avg, best), (loss, smoothed, diverged)

    def dead(carry, i):
        # After divergence nothing is computed: the sweep just runs out its remaining steps.
        nan = jnp.full((), jnp.nan, dt)
        return carry, (nan, nan, jnp.bool_(True))

    def body(state, i):
        carry, stopped = state
        carry, out = jax.lax.cond(stopped, dead, live, carry, i)
        return (carry, stopped | out[2]), out

    init = ((params, opt_state, jnp.zeros((), dt), jnp.full((), jnp.inf, dt)), jnp.bool_(False))
    _, (losses, smoothed, diverged) = jax.lax.scan(body, init, jnp.arange(lrs.shape[0]))
    return losses, smoothed, diverged


def find_lr(
    loss_fn: Callable[[Any, Any], jax.Array],
    params: Any,
    batches: Any,
    optimizer: Callable[[jax.Array], optax.GradientTransformation] = optax.sgd,
    min_lr: float = 1e-7,
    max_lr: float = 10.0,
    num_steps: int = 100,
    smoothing: float = 0.98,
    diverge_factor: float = 4.0,
) -> FindLRResult:
    r"""Run the learning-rate range test: train briefly while the learning rate grows geometrically.

    Step :math:`i` of :math:`n` trains on batch :math:`i \bmod m` with learning rate

    .. math::

      \eta_i = \eta_{\min} \left(\eta_{\max} / \eta_{\min}\right)^{i / (n - 1)}

    and records the loss :math:`\ell_i` of that batch (measured before the update) and its
    bias-corrected exponential moving average

    .. math::

      a_i = \beta a_{i-1} + (1 - \beta) \ell_i, \qquad s_i = a_i / (1 - \beta^{i+1})

    where :math:`\beta` is ``smoothing``, :math:`m` the number of batches and :math:`a_{-1} = 0`.
    The sweep *diverges* at the first step where :math:`\ell_i` or :math:`s_i` is not finite or
    :math:`s_i > \text{diverge\_factor} \cdot \min_{j \le i} s_j`; that step's update is not
    applied, nothing more is computed, and the later losses are NaN. The suggestion is the
    learning rate where :math:`s` falls fastest, :math:`\arg\min_i \, ds_i / d\log\eta_i` (central
    differences) over the steps before divergence and up to the minimum of :math:`s`, leaving out
    the first ``num_steps // 10`` steps, where the average has seen too few losses to be more than
    noise (the "steepest" point of fastai's ``lr_find``, with fastai v1's ``skip_start``). The
    whole sweep is one ``lax.scan`` inside one ``jax.jit``; calling ``find_lr`` again with the
    same ``loss_fn`` and ``optimizer`` (and shapes) re-uses the compiled program.

    Args:
      loss_fn: ``loss_fn(params, batch) -> scalar loss``, differentiable in ``params``. The
        divergence test assumes the loss is non-negative (a cross-entropy, a squared error).
      params: the initial parameters (any pytree of arrays); they are not modified.
      batches: a pytree whose leaves all have the same leading axis of length :math:`m \ge 1`;
        step ``i`` uses ``jax.tree.map(lambda b: b[i % m], batches)``.
      optimizer: a function of the learning rate returning an Optax transformation, such as
        ``optax.sgd`` (the default), ``optax.adam`` or ``lambda lr: optax.sgd(lr, momentum=0.9)``.
        It is called with a traced scalar learning rate at every step (so its state must not
        depend on the learning rate's value, as holds for every Optax optimizer).
      min_lr: the first learning rate, > 0.
      max_lr: the last learning rate, > ``min_lr``.
      num_steps: the number of steps (and learning rates) of the sweep, an int >= 2.
      smoothing: :math:`\beta` of the moving average, in ``[0, 1)``; 0 means no smoothing.
      diverge_factor: how many times the best smoothed loss counts as divergence, > 1.

    Returns:
      A :class:`FindLRResult` with ``lrs``, ``losses``, ``smoothed_losses`` (NumPy arrays of length
      ``num_steps``), ``suggestion``, ``diverged_at`` and a ``plot(ax=None)`` helper.

    Raises:
      ValueError: a numeric argument is out of range (the message names it), or ``batches`` has
        no leaves or leaves of different leading lengths.
      TypeError: ``loss_fn`` or ``optimizer`` is not callable, ``num_steps`` is not an int, or
        ``loss_fn`` does not return a scalar floating loss.

    Examples:
      >>> import jax.numpy as jnp, numpy as np, optax
      >>> import jaxdecay
      >>> a = 4.0  # SGD on 0.5 * a * x**2 diverges for lr > 2 / a = 0.5
      >>> targets = 0.1 * np.random.default_rng(0).standard_normal((64, 8))  # 64 noisy batches
      >>> loss = lambda x, b: 0.5 * a * jnp.sum((x - b) ** 2)
      >>> r = jaxdecay.find_lr(loss, jnp.ones(8), targets, min_lr=1e-4, num_steps=300)
      >>> print(f"{r.suggestion:.3f} {r.diverged_at:.2f}")
      0.009 0.70

    References:
      Smith, `Cyclical Learning Rates for Training Neural Networks
      <https://arxiv.org/abs/1506.01186>`_, 2017;
      `fastai's lr_find <https://docs.fast.ai/callback.schedule.html#lrfinder>`_.
    """
    V.check_callable("loss_fn", loss_fn)
    if not callable(optimizer):
        raise TypeError(
            f"`optimizer` must be a function of the learning rate returning an Optax "
            f"transformation (such as optax.sgd), got {optimizer!r}"
        )
    V.check_positive("min_lr", min_lr)
    V.check_positive("max_lr", max_lr)
    if float(max_lr) <= float(min_lr):
        raise ValueError(f"`max_lr` must be > `min_lr` ({float(min_lr)!r}), got {max_lr!r}")
    if isinstance(num_steps, bool) or not isinstance(num_steps, int | np.integer):
        raise TypeError(f"`num_steps` must be an int, got {num_steps!r}")
    if num_steps < 2:
        raise ValueError(f"`num_steps` must be >= 2, got {num_steps!r}")
    V.check_range("smoothing", smoothing, 0.0, 1.0, high_inclusive=False)
    V.check_range(
        "diverge_factor", diverge_factor, 1.0, math.inf, low_inclusive=False, high_inclusive=False
    )
    _leading_length(batches)

    # The learning rates take the parameters' floating dtype, so that no update is promoted.
    floats = [
        x for x in jax.tree.leaves(params) if jnp.issubdtype(jnp.result_type(x), jnp.floating)
    ]
    dtype = jnp.result_type(*floats) if floats else jnp.result_type(float)
    lrs = jnp.asarray(np.geomspace(float(min_lr), float(max_lr), int(num_steps)), dtype)
    losses, smoothed, diverged = _sweep(
        loss_fn, optimizer, params, batches, lrs, float(smoothing), float(diverge_factor)
    )
    lrs, losses, smoothed, diverged = (np.asarray(x) for x in (lrs, losses, smoothed, diverged))

    stop = int(np.argmax(diverged)) if diverged.any() else len(lrs)
    diverged_at = float(lrs[stop]) if stop < len(lrs) else None
    return FindLRResult(
        lrs=lrs,
        losses=losses,
        smoothed_losses=smoothed,
        suggestion=_steepest(lrs[:stop], smoothed[:stop], skip=int(num_steps) // 10),
        diverged_at=diverged_at,
    )


def _steepest(lrs: np.ndarray, smoothed: np.ndarray, skip: int) -> float:
    """The lr where ``smoothed`` has its most negative derivative with respect to ``log(lr)``.

    Only the points up to the minimum of ``smoothed`` count. The first ``skip`` points are left
    out when enough remain: there the bias-corrected average has seen only a few losses and its
    differences are mostly batch noise (fastai v1's ``skip_start``).
    """
    # Only the way down counts: past the minimum of the smoothed loss the learning rate is too
    # large already, and a dip there is noise.
    end = int(np.nanargmin(smoothed)) + 1 if np.isfinite(smoothed).any() else 0
    if end < 2:
        return math.nan
    lrs, smoothed = lrs[:end], smoothed[:end]
    slope = np.gradient(smoothed.astype(np.float64), np.log(lrs.astype(np.float64)))
    start = skip if end - skip >= 2 else 0
    return float(lrs[start + int(np.argmin(slope[start:]))])
