"""Exponential, step, natural-exponential and inverse-time/inverse-sqrt decays."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxdecay import _validate as V
from jaxdecay._core import ScheduleFn, schedule_factory
from jaxdecay._numeric import as_count, dtypes, floor_div, offset, ramp, safe_pow, saturate

__all__ = [
    "exponential_decay",
    "natural_exp_decay",
    "inverse_time_decay",
    "inverse_sqrt_decay",
    "step_decay",
]


def _progress(count, steps, dt, staircase, begin=0):
    """``(t - begin) / steps`` (floored if ``staircase``), and ``t - begin``; both floating."""
    t = as_count(count)
    b = jnp.asarray(begin)
    if jnp.issubdtype(t.dtype, jnp.integer) and jnp.issubdtype(b.dtype, jnp.integer):
        x_int = t - b.astype(t.dtype)  # both in [0, 2**31): no overflow
    else:
        x_int = offset(t, b, dtype=dt)  # exact for integer-valued counts and begins
    x = x_int.astype(dt)
    if staircase:
        p = floor_div(jnp.maximum(x_int, 0), steps, dt)
    else:
        p = x / jnp.asarray(steps, dt)
    return p, x


def exponential_decay_value(
    count, init_value, transition_steps, decay_rate, transition_begin, staircase, end_value
) -> jax.Array:
    out, dt = dtypes(init_value, transition_steps, decay_rate, transition_begin, end_value)
    p, x = _progress(count, transition_steps, dt, staircase, transition_begin)
    init = jnp.asarray(init_value, dt)
    rate = jnp.asarray(decay_rate, dt)
    p = jnp.maximum(p, 0)
    # Growth (rate > 1) saturates at the largest float instead of overflowing; the exponent is
    # zeroed where it would overflow so that gradients stay finite, and the power itself is
    # clamped (rate**p can round to inf just below the threshold: 0 * inf would be NaN).
    log_rate = jnp.log(jnp.where(rate > 0, rate, 1))
    overflow = p * log_rate > jnp.log(jnp.finfo(dt).max)
    factor = jnp.where(
        overflow, jnp.finfo(dt).max, saturate(safe_pow(rate, jnp.where(overflow, 0, p)))
    )
    value = jnp.where(x <= 0, init, saturate(init * factor))
    if end_value is not None:
        end = jnp.asarray(end_value, dt)
        value = jnp.where(rate < 1, jnp.maximum(value, end), jnp.minimum(value, end))
    return saturate(value, out)


@schedule_factory
@V.scalar_arguments(steps=("transition_steps", "transition_begin"))
def exponential_decay(
    init_value: jax.typing.ArrayLike,
    transition_steps: jax.typing.ArrayLike,
    decay_rate: jax.typing.ArrayLike,
    transition_begin: jax.typing.ArrayLike = 0,
    staircase: bool = False,
    end_value: jax.typing.ArrayLike | None = None,
) -> ScheduleFn:
    r"""Exponential decay ``lr0 * gamma ** (t / decay_steps)`` (Optax-compatible).

    .. math::
      \eta(t) = \begin{cases}
        I, & t \le B \\
        I \cdot r^{(t - B) / T}, & t > B
      \end{cases}

    where :math:`I` is ``init_value``, :math:`r` is ``decay_rate``, :math:`T` is
    ``transition_steps`` and :math:`B` is ``transition_begin``. With ``staircase=True`` the
    exponent is :math:`\lfloor (t - B) / T \rfloor` (an exact integer floor, also under
    ``jit``). With ``end_value``, the value is clamped from below by it when :math:`r < 1` and
    from above when :math:`r \ge 1`. With ``transition_steps=1`` this is the per-step decay
    ``lr0 * gamma ** t``.

    Args:
      init_value: the value at count 0.
      transition_steps: counts per factor of ``decay_rate``, ``> 0``.
      decay_rate: the factor per ``transition_steps`` counts, ``> 0`` (``> 1`` grows; the
        growth factor saturates at the compute dtype's largest finite value, the value at the
        result dtype's, instead of overflowing to inf).
      transition_begin: counts to hold ``init_value`` first, ``>= 0``.
      staircase: decay in discrete jumps every ``transition_steps`` counts (static).
      end_value: optional bound the value never passes (lower bound when decaying).

    Returns:
      A :class:`jaxdecay.Schedule`.

    Raises:
      ValueError: ``transition_steps <= 0``, ``decay_rate <= 0``, ``transition_begin < 0`` or NaN
        (concrete values only; Optax instead logs and returns a constant schedule).
      TypeError: ``staircase`` is not a bool.

    Examples:
      >>> import jaxdecay
      >>> s = jaxdecay.exponential_decay(0.1, transition_steps=1, decay_rate=0.9)
      >>> print(*[f"{float(s(t)):.4f}" for t in range(4)])
      0.1000 0.0900 0.0810 0.0729
      >>> s = jaxdecay.exponential_decay(0.1, 10, 0.5, staircase=True)
      >>> print(*[f"{float(s(t)):.3f}" for t in (0, 9, 10, 19, 20)])
      0.100 0.100 0.050 0.050 0.025
    """
    V.check_number("init_value", init_value)
    V.check_positive("transition_steps", transition_steps)
    V.check_positive("decay_rate", decay_rate)
    V.check_nonnegative("transition_begin", transition_begin)
    V.check_bool("staircase", staircase)
    if end_value is not None:
        V.check_number("end_value", end_value)
    return lambda count: exponential_decay_value(
        count, init_value, transition_steps, decay_rate, transition_begin, staircase, end_value
    )


@schedule_factory
@V.scalar_arguments(steps=("decay_steps",))
def natural_exp_decay(
    init_value: jax.typing.ArrayLike,
    decay_rate: jax.typing.ArrayLike,
    decay_steps: jax.typing.ArrayLike = 1,
    staircase: bool = False,
) -> ScheduleFn:
    r"""Natural exponential decay ``lr0 * exp(-beta * t)``.

    .. math::
      \eta(t) = I \exp\left(-\beta \, \frac{t}{T}\right)

    (with :math:`\lfloor t / T \rfloor` when ``staircase``), where :math:`\beta` is
    ``decay_rate`` and :math:`T` is ``decay_steps``. Equal to :func:`exponential_decay` with
    ``decay_rate = exp(-beta)``; TF1's ``tf.compat.v1.train.natural_exp_decay``.

    Args:
      init_value: the value at count 0.
      decay_rate: :math:`\beta \ge 0`, the decay per ``decay_steps`` counts in e-folds.
      decay_steps: counts per unit of the exponent, ``> 0``.
      staircase: decay in discrete jumps every ``decay_steps`` counts (static).

    Returns:
      A :class:`jaxdecay.Schedule`.

    Raises:
      ValueError: ``decay_rate < 0``, ``decay_steps <= 0`` or NaN (concrete values only).

    Examples:
      >>> import jaxdecay
      >>> s = jaxdecay.natural_exp_decay(0.1, decay_rate=0.5)
      >>> print(*[f"{float(s(t)):.4f}" for t in range(3)])
      0.1000 0.0607 0.0368
    """
    V.check_number("init_value", init_value)
    V.check_nonnegative("decay_rate", decay_rate)
    V.check_positive("decay_steps", decay_steps)
    V.check_bool("staircase", staircase)

    def schedule(count):
        out, dt = dtypes(init_value, decay_rate, decay_steps)
        p, _ = _progress(count, decay_steps, dt, staircase)
        return (jnp.asarray(init_value, dt) * jnp.exp(-jnp.asarray(decay_rate, dt) * p)).astype(out)

    return schedule


@schedule_factory
@V.scalar_arguments(steps=("decay_steps",))
def inverse_time_decay(
    init_value: jax.typing.ArrayLike,
    decay_rate: jax.typing.ArrayLike,
    decay_steps: jax.typing.ArrayLike = 1,
    staircase: bool = False,
) -> ScheduleFn:
    r"""Inverse-time decay ``lr0 / (1 + delta * t)`` (Keras ``InverseTimeDecay``).

    .. math::
      \eta(t) = \frac{I}{1 + \delta \, t / T}

    (with :math:`\lfloor t / T \rfloor` when ``staircase``), where :math:`\delta` is
    ``decay_rate`` and :math:`T` is ``decay_steps``.

    Args:
      init_value: the value at count 0.
      decay_rate: :math:`\delta \ge 0`.
      decay_steps: counts per unit of :math:`t / T`, ``> 0``.
      staircase: decay in discrete jumps every ``decay_steps`` counts (static).

    Returns:
      A :class:`jaxdecay.Schedule`.

    Raises:
      ValueError: ``decay_rate < 0``, ``decay_steps <= 0`` or NaN (concrete values only).

    Examples:
      >>> import jaxdecay
      >>> s = jaxdecay.inverse_time_decay(0.1, decay_rate=1.0, decay_steps=10)
      >>> print(*[f"{float(s(t)):.4f}" for t in (0, 10, 30)])
      0.1000 0.0500 0.0250

    References:
      Keras, `InverseTimeDecay
      <https://keras.io/api/optimizers/learning_rate_schedules/inverse_time_decay/>`_
    """
    V.check_number("init_value", init_value)
    V.check_nonnegative("decay_rate", decay_rate)
    V.check_positive("decay_steps", decay_steps)
    V.check_bool("staircase", staircase)

    def schedule(count):
        out, dt = dtypes(init_value, decay_rate, decay_steps)
        p, _ = _progress(count, decay_steps, dt, staircase)
        return (jnp.asarray(init_value, dt) / (1 + jnp.asarray(decay_rate, dt) * p)).astype(out)

    return schedule


@schedule_factory
@V.scalar_arguments(steps=("warmup_steps", "timescale"))
def inverse_sqrt_decay(
    init_value: jax.typing.ArrayLike,
    warmup_steps: jax.typing.ArrayLike,
    timescale: jax.typing.ArrayLike | None = None,
) -> ScheduleFn:
    r"""Linear warmup, then inverse-square-root decay (Hugging Face ``inverse_sqrt``).

    .. math::
      \eta(t) = \begin{cases}
        I \, t / W, & t < W \\
        I \Big/ \sqrt{(t - W + \tau) / \tau}, & t \ge W
      \end{cases}

    where :math:`W` is ``warmup_steps`` and :math:`\tau` is ``timescale`` (default: ``W``, or
    10,000 when ``W == 0``, as in ``transformers.get_inverse_sqrt_schedule``). The value is
    :math:`I` at :math:`t = W` and falls like :math:`1/\sqrt{t}` after.

    Args:
      init_value: the peak value, reached at the end of the warmup.
      warmup_steps: length of the linear warmup, ``>= 0`` (``0`` = no warmup).
      timescale: :math:`\tau > 0`, or ``None`` for the default above.

    Returns:
      A :class:`jaxdecay.Schedule`.

    Raises:
      ValueError: ``warmup_steps < 0``, ``timescale <= 0`` or NaN (concrete values only).

    Examples:
      >>> import jaxdecay
      >>> s = jaxdecay.inverse_sqrt_decay(0.01, warmup_steps=100)
      >>> print(*[f"{float(s(t)):.4f}" for t in (0, 50, 100, 400)])
      0.0000 0.0050 0.0100 0.0050

    References:
      Vaswani et al., `Attention Is All You Need <https://arxiv.org/abs/1706.03762>`_, 2017;
      Hugging Face ``transformers.get_inverse_sqrt_schedule``.
    """
    V.check_number("init_value", init_value)
    V.check_nonnegative("warmup_steps", warmup_steps)
    if timescale is not None:
        V.check_positive("timescale", timescale)

    def schedule(count):
        out, dt = dtypes(init_value, warmup_steps, timescale)
        t_raw = as_count(count)
        t = t_raw.astype(dt)
        W = jnp.asarray(warmup_steps, dt)
        if timescale is None:
            tau = jnp.where(W > 0, W, jnp.asarray(10_000, dt))
        else:
            tau = jnp.asarray(timescale, dt)
        init = jnp.asarray(init_value, dt)
        x = offset(t_raw, warmup_steps, dtype=dt)  # exact t - W
        warm = ramp(jnp.zeros((), dt), init, t, W)
        ratio = jnp.where(x < 0, 1, (x + tau) / tau)  # the warmup branch never divides by 0
        decay = init * jax.lax.rsqrt(ratio)
        return jnp.where(x < 0, warm, decay).astype(out)

    return schedule


@schedule_factory
@V.scalar_arguments(steps=("step_size",))
def step_decay(
    init_value: jax.typing.ArrayLike,
    step_size: jax.typing.ArrayLike,
    gamma: jax.typing.ArrayLike = 0.1,
) -> ScheduleFn:
    r"""Step decay ``lr0 * gamma ** floor(t / S)`` (PyTorch ``StepLR``).

    .. math::
      \eta(t) = I \cdot \gamma^{\lfloor t / S \rfloor}

    The floor is exact (integer division for integer counts and step sizes, corrected float
    division otherwise), so the value drops at exactly ``t = S, 2S, ...`` under ``jit`` too.
    For "x0.1 every 10 epochs" with per-update counts, use ``step_size = 10 * steps_per_epoch``
    or wrap the schedule in :func:`jaxdecay.per_epoch`.

    Args:
      init_value: the value for counts ``0 .. S-1``.
      step_size: :math:`S`, counts between drops, ``> 0``.
      gamma: factor applied at each drop, in ``[0, 1]``.

    Returns:
      A :class:`jaxdecay.Schedule`.

    Raises:
      ValueError: ``step_size <= 0``, ``gamma`` outside ``[0, 1]`` or NaN (concrete values only).

    Examples:
      >>> import jaxdecay
      >>> s = jaxdecay.step_decay(0.1, step_size=10, gamma=0.1)
      >>> print(*[f"{float(s(t)):.4f}" for t in (0, 9, 10, 25)])
      0.1000 0.1000 0.0100 0.0010

    References:
      PyTorch, `StepLR
      <https://pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.StepLR.html>`_
    """
    V.check_number("init_value", init_value)
    V.check_positive("step_size", step_size)
    V.check_range("gamma", gamma, 0.0, 1.0)

    def schedule(count):
        out, dt = dtypes(init_value, step_size, gamma)
        k = floor_div(as_count(count), step_size, dt)
        return (jnp.asarray(init_value, dt) * safe_pow(jnp.asarray(gamma, dt), k)).astype(out)

    return schedule
