"""Schedules with a built-in linear warmup: constant, exponential and warmup-stable-decay."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxdecay import _validate as V
from jaxdecay._core import ScheduleFn, schedule_factory
from jaxdecay._exponential import exponential_decay_value
from jaxdecay._numeric import as_count, dtypes, half_cosine, offset, ramp, remaining

__all__ = [
    "warmup_constant_schedule",
    "warmup_exponential_decay_schedule",
    "warmup_stable_decay",
]


@schedule_factory
@V.scalar_arguments(steps=("warmup_steps",))
def warmup_constant_schedule(
    init_value: jax.typing.ArrayLike,
    peak_value: jax.typing.ArrayLike,
    warmup_steps: jax.typing.ArrayLike,
) -> ScheduleFn:
    r"""Linear warmup to ``peak_value``, then constant (Optax-compatible).

    .. math::
      \eta(t) = I + (P - I) \min(t / W, 1)

    Args:
      init_value: the value at count 0.
      peak_value: the value from ``warmup_steps`` on.
      warmup_steps: :math:`W \ge 0`; ``0`` means no warmup (the value is ``peak_value`` from the
        start; Optax instead returns ``init_value`` forever).

    Returns:
      A :class:`jaxdecay.Schedule`.

    Raises:
      ValueError: ``warmup_steps < 0`` or NaN (concrete values only).

    Examples:
      >>> import jaxdecay
      >>> s = jaxdecay.warmup_constant_schedule(0.0, 0.1, warmup_steps=4)
      >>> print(*[f"{float(s(t)):.3f}" for t in range(6)])
      0.000 0.025 0.050 0.075 0.100 0.100
    """
    V.check_number("init_value", init_value)
    V.check_number("peak_value", peak_value)
    V.check_nonnegative("warmup_steps", warmup_steps)

    def schedule(count):
        out, dt = dtypes(init_value, peak_value, warmup_steps)
        t = as_count(count).astype(dt)
        return ramp(
            jnp.asarray(init_value, dt),
            jnp.asarray(peak_value, dt),
            t,
            jnp.asarray(warmup_steps, dt),
        ).astype(out)

    return schedule


@schedule_factory
@V.scalar_arguments(steps=("warmup_steps", "transition_steps", "transition_begin"))
def warmup_exponential_decay_schedule(
    init_value: jax.typing.ArrayLike,
    peak_value: jax.typing.ArrayLike,
    warmup_steps: jax.typing.ArrayLike,
    transition_steps: jax.typing.ArrayLike,
    decay_rate: jax.typing.ArrayLike,
    transition_begin: jax.typing.ArrayLike = 0,
    staircase: bool = False,
    end_value: jax.typing.ArrayLike | None = None,
) -> ScheduleFn:
    r"""Linear warmup, then :func:`exponential_decay` from the peak (Optax-compatible).

    .. math::
      \eta(t) = \begin{cases}
        I + (P - I)\, t / W, & t < W \\
        \mathrm{exponential\_decay}(P, T, r, B, \mathit{staircase}, E)(t - W), & t \ge W
      \end{cases}

    Args:
      init_value: the value at count 0.
      peak_value: the value at the end of the warmup.
      warmup_steps: :math:`W \ge 0` (``0`` = no warmup).
      transition_steps: ``> 0``, see :func:`exponential_decay`.
      decay_rate: ``> 0``, see :func:`exponential_decay`.
      transition_begin: counts after the warmup to hold ``peak_value``, ``>= 0``.
      staircase: decay in discrete jumps (static).
      end_value: optional bound, see :func:`exponential_decay`.

    Returns:
      A :class:`jaxdecay.Schedule`.

    Raises:
      ValueError: invalid lengths or rates, or NaN (concrete values only).

    Examples:
      >>> import jaxdecay
      >>> s = jaxdecay.warmup_exponential_decay_schedule(0.0, 0.1, 2, 1, 0.5)
      >>> print(*[f"{float(s(t)):.3f}" for t in range(5)])
      0.000 0.050 0.100 0.050 0.025
    """
    V.check_number("init_value", init_value)
    V.check_number("peak_value", peak_value)
    V.check_nonnegative("warmup_steps", warmup_steps)
    V.check_positive("transition_steps", transition_steps)
    V.check_positive("decay_rate", decay_rate)
    V.check_nonnegative("transition_begin", transition_begin)
    V.check_bool("staircase", staircase)
    if end_value is not None:
        V.check_number("end_value", end_value)

    def schedule(count):
        out, dt = dtypes(
            init_value, peak_value, warmup_steps, transition_steps, decay_rate, end_value
        )
        t = as_count(count)
        W = jnp.asarray(warmup_steps)
        if jnp.issubdtype(t.dtype, jnp.integer) and jnp.issubdtype(W.dtype, jnp.integer):
            after = t - W.astype(t.dtype)  # exact for the staircase (both in [0, 2**31))
        else:
            after = offset(t, W, dtype=dt)
        warm = ramp(
            jnp.asarray(init_value, dt), jnp.asarray(peak_value, dt), t.astype(dt), W.astype(dt)
        )
        decay = exponential_decay_value(
            jnp.maximum(after, 0),
            peak_value,
            transition_steps,
            decay_rate,
            transition_begin,
            staircase,
            end_value,
        ).astype(dt)
        return jnp.where(after < 0, warm, decay).astype(out)

    return schedule


_DECAY_TYPES = ("linear", "cosine", "sqrt")


@schedule_factory
@V.scalar_arguments(steps=("warmup_steps", "stable_steps", "decay_steps"))
def warmup_stable_decay(
    peak_value: jax.typing.ArrayLike,
    warmup_steps: jax.typing.ArrayLike,
    stable_steps: jax.typing.ArrayLike,
    decay_steps: jax.typing.ArrayLike,
    init_value: jax.typing.ArrayLike = 0.0,
    end_value: jax.typing.ArrayLike = 0.0,
    decay_type: str = "linear",
) -> ScheduleFn:
    r"""Warmup-stable-decay (WSD): linear warmup, a constant plateau, then a short decay.

    .. math::
      \eta(t) = \begin{cases}
        I + (P - I)\, t / W, & t < W \\
        P, & W \le t < W + S \\
        E + (P - E)\, g\!\left(\min\left(\frac{t - W - S}{D}, 1\right)\right), & t \ge W + S
      \end{cases}

    with :math:`g(f) = 1 - f` (``"linear"``), :math:`\tfrac12(1 + \cos \pi f)` (``"cosine"``)
    or :math:`1 - \sqrt{f}` (``"sqrt"``). Any phase may have length 0 (it is skipped). The total
    length is :math:`W + S + D`; :math:`E` is held after it.

    Args:
      peak_value: :math:`P`, the plateau value.
      warmup_steps: :math:`W \ge 0`.
      stable_steps: :math:`S \ge 0`.
      decay_steps: :math:`D \ge 0`.
      init_value: :math:`I`, the value at count 0.
      end_value: :math:`E`, the value at the end of the decay.
      decay_type: ``"linear"``, ``"cosine"`` or ``"sqrt"`` (static).

    Returns:
      A :class:`jaxdecay.Schedule`.

    Raises:
      ValueError: a negative length, an unknown ``decay_type`` or NaN (concrete values only).

    Examples:
      >>> import jaxdecay
      >>> s = jaxdecay.warmup_stable_decay(1.0, warmup_steps=2, stable_steps=3, decay_steps=4)
      >>> print(*[f"{float(s(t)):.2f}" for t in range(10)])
      0.00 0.50 1.00 1.00 1.00 1.00 0.75 0.50 0.25 0.00

    References:
      Hu et al., `MiniCPM <https://arxiv.org/abs/2404.06395>`_, 2024; Hägele et al., `Scaling
      Laws and Compute-Optimal Training beyond Fixed Training Durations
      <https://arxiv.org/abs/2405.18392>`_, 2024 (the ``sqrt`` cooldown).
    """
    V.check_number("peak_value", peak_value)
    V.check_nonnegative("warmup_steps", warmup_steps)
    V.check_nonnegative("stable_steps", stable_steps)
    V.check_nonnegative("decay_steps", decay_steps)
    V.check_number("init_value", init_value)
    V.check_number("end_value", end_value)
    V.check_choice("decay_type", decay_type, _DECAY_TYPES)

    def schedule(count):
        out, dt = dtypes(peak_value, warmup_steps, stable_steps, decay_steps, init_value, end_value)
        t = as_count(count)
        W = jnp.asarray(warmup_steps, dt)
        D = jnp.asarray(decay_steps, dt)
        peak = jnp.asarray(peak_value, dt)
        end = jnp.asarray(end_value, dt)
        warm = ramp(jnp.asarray(init_value, dt), peak, t.astype(dt), W)
        # The count into the warmup and into the decay, exact (integer arithmetic where the
        # count and the lengths are integer-valued: float32 cannot hold 2**30 + 65).
        in_warm = offset(t, warmup_steps, dtype=dt) < 0
        after = offset(t, warmup_steps, stable_steps, dtype=dt)
        x = jnp.clip(after, 0, D)
        if decay_type == "linear":
            decay = ramp(peak, end, x, D)
        else:
            if decay_type == "cosine":
                g = half_cosine(remaining(x, D))
            else:
                done = jnp.where(D > 0, x / jnp.where(D > 0, D, 1), 1)
                pos = done > 0
                g = 1 - jnp.where(pos, jnp.sqrt(jnp.where(pos, done, 1)), 0)
            decay = end + (peak - end) * g
        return jnp.where(in_warm, warm, jnp.where(after < 0, peak, decay)).astype(out)

    return schedule
