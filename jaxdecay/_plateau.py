"""Reduce the learning rate when a metric stops improving (PyTorch ``ReduceLROnPlateau``)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxdecay import _validate as V

__all__ = ["ReduceOnPlateauState", "reduce_on_plateau"]


class ReduceOnPlateauState(NamedTuple):
    """State of :func:`reduce_on_plateau`. Read it by field name.

    Attributes:
      scale: the factor the updates are multiplied by (starts at 1). The learning rate in use is
        ``learning_rate * scale``. Floating (``float32``, ``float64`` when x64 is enabled).
      best_value: the best (averaged) metric seen so far; ``inf`` (``-inf`` for ``mode="max"``)
        before the first decision.
      plateau_count: decisions in a row without improvement (PyTorch's ``num_bad_epochs``),
        ``int32``.
      cooldown_count: decisions left in the cooldown that follows a reduction (PyTorch's
        ``cooldown_counter``), ``int32``.
      count: metric values accumulated towards the next decision (``0 <= count <
        accumulation_size``), ``int32``.
      avg_value: mean of those ``count`` values (0 when ``count == 0``).
    """

    scale: jax.Array
    best_value: jax.Array
    plateau_count: jax.Array
    cooldown_count: jax.Array
    count: jax.Array
    avg_value: jax.Array


def _float_dtype() -> Any:
    # float32, or float64 when x64 is enabled; fixed at `init` so steps never change it.
    return jax.dtypes.canonicalize_dtype(jnp.float64)


def _check_scalar(name: str, x: Any) -> None:
    v = V.concrete_value(name, x)
    if v is not None and v.ndim != 0:
        raise ValueError(f"`{name}` must be a scalar, got shape {v.shape}")


def _check_int(name: str, x: Any) -> None:
    """A whole number (an integer type, or a float with an integral value)."""
    _check_scalar(name, x)
    v = V.concrete_value(name, x)
    if v is not None and (not np.isfinite(v) or v != np.round(v)):
        raise ValueError(f"`{name}` must be an integer, got {x!r}")


def reduce_on_plateau(
    factor: jax.typing.ArrayLike = 0.1,
    patience: jax.typing.ArrayLike = 10,
    threshold: jax.typing.ArrayLike = 1e-4,
    threshold_mode: str = "rel",
    cooldown: jax.typing.ArrayLike = 0,
    min_scale: jax.typing.ArrayLike = 0.0,
    mode: str = "min",
    accumulation_size: jax.typing.ArrayLike = 1,
) -> optax.GradientTransformationExtraArgs:
    r"""Scale updates down by ``factor`` when a metric has stopped improving.

    PyTorch's ``torch.optim.lr_scheduler.ReduceLROnPlateau`` as an Optax gradient transformation:
    it multiplies the updates by a ``scale`` that starts at 1 and is multiplied by ``factor`` each
    time the monitored metric has not improved for more than ``patience`` decisions. Chained after
    an optimizer it scales that optimizer's learning rate (and any schedule it follows, warmup
    included)::

        optax.chain(optax.sgd(schedule), reduce_on_plateau(patience=5))

    The metric is passed to every update as the keyword argument ``value``. Values are averaged
    over ``accumulation_size`` updates; each full group gives one *decision* (one PyTorch
    ``scheduler.step(metric)`` with the group's mean :math:`v`):

    .. math::

        \text{better}(v) = \begin{cases}
            v < b\,(1 - \theta) & \text{mode=min, threshold\_mode=rel} \\
            v < b - \theta & \text{mode=min, threshold\_mode=abs} \\
            v > b\,(1 + \theta) & \text{mode=max, threshold\_mode=rel} \\
            v > b + \theta & \text{mode=max, threshold\_mode=abs}
        \end{cases}

    then, in this order: if better, :math:`b \leftarrow v,\ n \leftarrow 0`, else
    :math:`n \leftarrow n + 1`; if :math:`c > 0` (cooldown), :math:`c \leftarrow c - 1,\
    n \leftarrow 0`; if :math:`n > p`, :math:`s \leftarrow \min(s, \max(f s, s_{min})),\
    c \leftarrow C,\ n \leftarrow 0`. Where :math:`b` is ``best_value`` (``inf``, or ``-inf`` for
    ``mode="max"``, at the start), :math:`\theta` ``threshold``, :math:`n` ``plateau_count``,
    :math:`c` ``cooldown_count``, :math:`C` ``cooldown``, :math:`p` ``patience``, :math:`f`
    ``factor``, :math:`s` ``scale`` and :math:`s_{min}` ``min_scale``. So the scale is reduced at
    the ``patience + 1``-th decision in a row without improvement, then not again for ``cooldown``
    decisions. A NaN metric never improves (as in PyTorch).

    The update that completes a group is already scaled by the scale *after* its decision (as in
    ``optax.contrib.reduce_on_plateau``), so feeding the validation loss of epoch ``e`` to the
    first update of epoch ``e + 1`` gives exactly PyTorch's learning rates:
    ``scale == lr / initial_lr`` of a ``ReduceLROnPlateau`` that had ``step(metric)`` called with
    the same metrics.

    **Metric every update.** Pass the training loss of the batch to every update and set
    ``accumulation_size`` to the number of updates per decision (say, one epoch)::

        opt = optax.chain(optax.adam(1e-3), reduce_on_plateau(accumulation_size=steps_per_epoch))
        updates, state = opt.update(grads, state, params, value=loss)

    **Metric once per epoch (validation).** Pass ``value=None`` to updates that have no metric
    (nothing is counted, the scale stays) and the latest validation loss to the first update of
    each epoch, with ``accumulation_size=1``::

        val_loss = None
        for epoch in range(num_epochs):
            for i, batch in enumerate(batches):
                params, state = train_step(params, state, batch, val_loss if i == 0 else None)
            val_loss = evaluate(params)

    (A jitted ``train_step`` compiles twice: once with a metric, once with ``None``.)

    Differences from PyTorch: PyTorch skips a reduction that would change the learning rate by
    less than ``eps=1e-8`` (in absolute learning-rate units); there is no ``eps`` here, a
    reduction always applies down to ``min_scale`` (use ``min_scale`` to stop the decay). With
    ``eps=0`` PyTorch's learning rates equal ``initial_lr * scale``. Like PyTorch, the relative
    threshold multiplies ``best_value`` itself, so for a negative metric in ``rel`` mode a value
    slightly *worse* than the best can count as an improvement; use ``threshold_mode="abs"`` for
    metrics that may be negative. Unlike ``optax.contrib.reduce_on_plateau``, ``patience`` counts
    as in PyTorch (reduce when ``plateau_count > patience``), and ``mode="max"`` is supported.

    Args:
      factor: multiplies the scale at each reduction, ``0 < factor < 1``.
      patience: decisions without improvement that are tolerated; the scale is reduced at the
        next one. Integer ``>= 0`` (PyTorch's domain; 0 reduces at every decision that does not
        improve).
      threshold: how much better than ``best_value`` a metric must be to count as an
        improvement: relative (``>= 0`` and ``< 1`` in ``"rel"`` mode with ``mode="min"``) or in
        the metric's units (``>= 0``, ``"abs"`` mode).
      threshold_mode: ``"rel"`` or ``"abs"``.
      cooldown: decisions after a reduction during which non-improving metrics are not counted.
        Integer ``>= 0``.
      min_scale: the scale never goes below this (PyTorch's ``min_lr / lr``), ``0 <= min_scale <=
        1``.
      mode: ``"min"`` (lower is better, e.g. a loss) or ``"max"`` (higher is better, e.g. an
        accuracy).
      accumulation_size: how many metric values are averaged into one decision, integer
        ``>= 1``.

    ``factor``, ``patience``, ``threshold``, ``cooldown``, ``min_scale`` and ``accumulation_size``
    may be JAX arrays or tracers (for example under ``jax.vmap``); they are checked only when
    concrete.

    Returns:
      An ``optax.GradientTransformationExtraArgs``. Its ``init(params)`` returns a
      :class:`ReduceOnPlateauState`; ``update(updates, state, params=None, *, value)`` takes the
      metric as ``value`` (a scalar, or ``None`` for no metric) and returns the updates
      multiplied by the new ``state.scale`` (each leaf keeps its dtype).

    Raises:
      ValueError: an argument is out of range, not an integer where one is needed, not a
        scalar, NaN, or an unknown ``mode``/``threshold_mode``.
      TypeError: an argument is not a number.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxdecay
      >>> plateau = jaxdecay.reduce_on_plateau(factor=0.5, patience=1)
      >>> state = plateau.init(jnp.zeros(3))
      >>> scales = []
      >>> for loss in [1.0, 0.9, 0.9, 0.9, 0.9, 0.8]:
      ...     updates, state = plateau.update(jnp.ones(3), state, value=loss)
      ...     scales.append(f"{float(state.scale):.2f}")
      >>> print(" ".join(scales))
      1.00 1.00 1.00 0.50 0.50 0.50
      >>> print(f"{float(updates[0]):.2f}")  # the updates are scaled
      0.50

    References:
      PyTorch, `ReduceLROnPlateau
      <https://pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.ReduceLROnPlateau.html>`_.

      Optax, `optax.contrib.reduce_on_plateau
      <https://optax.readthedocs.io/en/latest/api/contrib.html>`_.
    """
    V.check_choice("mode", mode, ("min", "max"))
    V.check_choice("threshold_mode", threshold_mode, ("rel", "abs"))
    V.check_range("factor", factor, 0.0, 1.0, low_inclusive=False, high_inclusive=False)
    _check_scalar("factor", factor)
    _check_int("patience", patience)
    V.check_nonnegative("patience", patience)
    if threshold_mode == "rel" and mode == "min":
        V.check_range("threshold", threshold, 0.0, 1.0, high_inclusive=False)
    else:
        V.check_nonnegative("threshold", threshold)
    _check_scalar("threshold", threshold)
    _check_int("cooldown", cooldown)
    V.check_nonnegative("cooldown", cooldown)
    V.check_range("min_scale", min_scale, 0.0, 1.0)
    _check_scalar("min_scale", min_scale)
    _check_int("accumulation_size", accumulation_size)
    V.check_positive("accumulation_size", accumulation_size)

    def is_better(value: jax.Array, best: jax.Array) -> jax.Array:
        # Exactly PyTorch's `_is_better`, sign conventions included.
        if mode == "min" and threshold_mode == "rel":
            return value < best * (1.0 - threshold)
        if mode == "min":
            return value < best - threshold
        if threshold_mode == "rel":
            return value > best * (threshold + 1.0)
        return value > best + threshold

    def init_fn(params: optax.Params) -> ReduceOnPlateauState:
        del params
        fdt = _float_dtype()
        zero = jnp.zeros((), jnp.int32)
        return ReduceOnPlateauState(
            scale=jnp.ones((), fdt),
            best_value=jnp.asarray(np.inf if mode == "min" else -np.inf, fdt),
            plateau_count=zero,
            cooldown_count=zero,
            count=zero,
            avg_value=jnp.zeros((), fdt),
        )

    def decide(state: ReduceOnPlateauState, value: jax.Array) -> ReduceOnPlateauState:
        fdt = state.scale.dtype
        count = jnp.asarray(optax.safe_increment(state.count))
        avg = state.avg_value + (value - state.avg_value) / count.astype(fdt)
        ready = count >= accumulation_size

        better = is_better(avg, state.best_value)
        best = jnp.where(better, avg, state.best_value)
        bad = jnp.where(better, 0, optax.safe_increment(state.plateau_count))
        in_cooldown = state.cooldown_count > 0
        cool = jnp.where(in_cooldown, state.cooldown_count - 1, state.cooldown_count)
        bad = jnp.where(in_cooldown, 0, bad)
        reduce = bad > patience
        reduced = jnp.maximum(state.scale * factor, min_scale).astype(fdt)
        scale = jnp.where(reduce & (reduced < state.scale), reduced, state.scale)
        cool = jnp.where(reduce, cooldown, cool)
        bad = jnp.where(reduce, 0, bad)

        def pick(new: Any, old: jax.Array) -> jax.Array:
            return jnp.where(ready, new, old).astype(old.dtype)

        zero = jnp.zeros((), jnp.int32)
        return ReduceOnPlateauState(
            scale=pick(scale, state.scale),
            best_value=pick(best, state.best_value),
            plateau_count=pick(bad, state.plateau_count),
            cooldown_count=pick(cool, state.cooldown_count),
            count=jnp.where(ready, zero, count).astype(jnp.int32),
            avg_value=jnp.where(ready, 0.0, avg).astype(fdt),
        )

    def update_fn(
        updates: optax.Updates,
        state: ReduceOnPlateauState,
        params: optax.Params | None = None,
        *,
        value: jax.typing.ArrayLike | None,
        **extra_args: Any,
    ) -> tuple[optax.Updates, ReduceOnPlateauState]:
        del params, extra_args
        if value is not None:
            value = jnp.asarray(value)
            if value.ndim != 0:
                raise ValueError(f"`value` must be a scalar metric, got shape {value.shape}")
            state = decide(state, value.astype(state.avg_value.dtype))
        scale = state.scale

        def rescale(g: jax.Array) -> jax.Array:
            # Multiply in the wider of the two dtypes, return the update's own dtype (explicit
            # casts, so strict dtype promotion is fine too).
            g = jnp.asarray(g)
            wide = g.dtype if g.dtype.itemsize > scale.dtype.itemsize else scale.dtype
            return (g.astype(wide) * scale.astype(wide)).astype(g.dtype)

        return jax.tree.map(rescale, updates), state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)  # pyright: ignore[reportArgumentType]
