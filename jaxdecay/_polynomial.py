"""Constant, linear and polynomial schedules."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxdecay import _validate as V
from jaxdecay._core import ScheduleFn, schedule_factory
from jaxdecay._numeric import (
    as_count,
    dtypes,
    float_dtype,
    floor_divmod,
    offset,
    ramp,
    remaining,
    safe_pow,
)

__all__ = ["constant_schedule", "linear_schedule", "polynomial_schedule", "polynomial_decay"]


@schedule_factory
@V.scalar_arguments()
def constant_schedule(value: jax.typing.ArrayLike) -> ScheduleFn:
    r"""A schedule that always returns ``value`` (Optax's ``constant_schedule``).

    .. math::
      \eta(t) = v

    Args:
      value: the value at every count (any finite number).

    Returns:
      A :class:`jaxdecay.Schedule`; the result has the shape of ``count``.

    Raises:
      ValueError: ``value`` is NaN or infinite. TypeError: it is not a number.

    Examples:
      >>> import jaxdecay
      >>> s = jaxdecay.constant_schedule(0.1)
      >>> print(f"{float(s(0)):.3f} {float(s(10**6)):.3f}")
      0.100 0.100
    """
    V.check_number("value", value)

    def schedule(count):
        t = as_count(count)
        dt = float_dtype(value)
        v = jnp.asarray(value, dt)
        return jnp.broadcast_to(v, jnp.broadcast_shapes(v.shape, t.shape))

    return schedule


def _poly_value(count, init_value, end_value, power, transition_steps, transition_begin):
    out, dt = dtypes(init_value, end_value, power, transition_steps, transition_begin)
    init = jnp.asarray(init_value, dt)
    end = jnp.asarray(end_value, dt)
    T = jnp.asarray(transition_steps, dt)
    # The count into the transition, exact (integer arithmetic where it can be). A transition
    # of length 0 happens at once at `transition_begin`.
    x = offset(as_count(count), transition_begin, dtype=dt)
    if power is None:
        return jnp.where(x < 0, init, ramp(init, end, x, T)).astype(out)
    # The part of the transition still ahead, (T - x) / T clamped to [0, 1] (under jit XLA
    # divides as x * (1 / T), which can exceed 1 by an ulp).
    xc = jnp.clip(x, 0, jnp.maximum(T, 0))
    left = jnp.where(T > 0, remaining(xc, T), (x < 0).astype(dt))
    frac = safe_pow(left, jnp.asarray(power, dt))
    return ((init - end) * frac + end).astype(out)


def _check_transition(transition_steps, transition_begin):
    V.check_nonnegative("transition_steps", transition_steps)
    V.check_nonnegative("transition_begin", transition_begin)


@schedule_factory
@V.scalar_arguments(steps=("transition_steps", "transition_begin"))
def polynomial_schedule(
    init_value: jax.typing.ArrayLike,
    end_value: jax.typing.ArrayLike,
    power: jax.typing.ArrayLike,
    transition_steps: jax.typing.ArrayLike,
    transition_begin: jax.typing.ArrayLike = 0,
) -> ScheduleFn:
    r"""Polynomial transition from ``init_value`` to ``end_value`` (Optax-compatible).

    .. math::
      \eta(t) = \begin{cases}
        I, & t < B \\
        (I - E) \left(\frac{T - (t - B)}{T}\right)^{P} + E, & B \le t < B + T \\
        E, & t \ge B + T
      \end{cases}

    where :math:`I` is ``init_value``, :math:`E` is ``end_value``, :math:`P` is ``power``,
    :math:`B` is ``transition_begin`` and :math:`T` is ``transition_steps``. The remaining
    fraction is computed as :math:`(T - (t - B)) / T` and clamped to :math:`[0, 1]`, so the
    result is finite under ``jit`` for every count (Optax's version is NaN under ``jit``
    past the end for a fractional power).

    Args:
      init_value: value before and at the start of the transition.
      end_value: value at and after the end of the transition.
      power: exponent of the polynomial, ``>= 0`` (1 is linear).
      transition_steps: length of the transition in counts, ``>= 0``. ``0`` jumps to
        ``end_value`` at ``transition_begin`` (Optax instead holds ``init_value`` forever).
      transition_begin: counts to hold ``init_value`` before the transition starts, ``>= 0``.

    Returns:
      A :class:`jaxdecay.Schedule`.

    Raises:
      ValueError: a negative ``transition_steps``, ``transition_begin`` or ``power``, or a NaN
        (only checked for concrete values; tracers are not checked).

    Examples:
      >>> import jaxdecay
      >>> s = jaxdecay.polynomial_schedule(1.0, 0.01, power=2, transition_steps=100,
      ...                                  transition_begin=5)
      >>> print(*[f"{float(s(t)):.4f}" for t in (0, 5, 6, 104, 105, 110)])
      1.0000 1.0000 0.9803 0.0101 0.0100 0.0100
    """
    V.check_number("init_value", init_value)
    V.check_number("end_value", end_value)
    V.check_nonnegative("power", power)
    _check_transition(transition_steps, transition_begin)
    return lambda count: _poly_value(
        count, init_value, end_value, power, transition_steps, transition_begin
    )


@schedule_factory
@V.scalar_arguments(steps=("transition_steps", "transition_begin"))
def linear_schedule(
    init_value: jax.typing.ArrayLike,
    end_value: jax.typing.ArrayLike,
    transition_steps: jax.typing.ArrayLike,
    transition_begin: jax.typing.ArrayLike = 0,
) -> ScheduleFn:
    r"""Linear transition from ``init_value`` to ``end_value`` (Optax-compatible).

    .. math::
      \eta(t) = \begin{cases}
        I, & t < B \\
        I + \frac{t - B}{T} (E - I), & B \le t < B + T \\
        E, & t \ge B + T
      \end{cases}

    :func:`polynomial_schedule` with ``power=1``.

    Args:
      init_value: value before the transition.
      end_value: value at and after ``transition_begin + transition_steps``.
      transition_steps: length of the transition in counts, ``>= 0`` (``0`` jumps at once).
      transition_begin: counts to hold ``init_value`` first, ``>= 0``.

    Returns:
      A :class:`jaxdecay.Schedule`.

    Raises:
      ValueError: negative or NaN arguments (concrete values only).

    Examples:
      >>> import jaxdecay
      >>> s = jaxdecay.linear_schedule(1.0, 0.0, transition_steps=4)
      >>> print(*[f"{float(s(t)):.2f}" for t in range(6)])
      1.00 0.75 0.50 0.25 0.00 0.00
    """
    V.check_number("init_value", init_value)
    V.check_number("end_value", end_value)
    _check_transition(transition_steps, transition_begin)
    return lambda count: _poly_value(
        count, init_value, end_value, None, transition_steps, transition_begin
    )


@schedule_factory
@V.scalar_arguments(steps=("decay_steps",))
def polynomial_decay(
    init_value: jax.typing.ArrayLike,
    decay_steps: jax.typing.ArrayLike,
    power: jax.typing.ArrayLike = 1.0,
    end_value: jax.typing.ArrayLike = 0.0,
    cycle: bool = False,
) -> ScheduleFn:
    r"""Polynomial decay ``lr0 * (1 - t/T) ** gamma`` (Keras ``PolynomialDecay``).

    .. math::
      \eta(t) = (I - E) \left(1 - \frac{\min(t, T)}{T}\right)^{P} + E

    With ``cycle=True``, :math:`T` is replaced by :math:`T \cdot \max(1, \lceil t / T \rceil)`
    and :math:`t` is not clamped: the decay restarts from a lower height each period (Keras
    ``PolynomialDecay(cycle=True)``).

    Args:
      init_value: the value at count 0 (:math:`I`).
      decay_steps: length of the decay :math:`T` in counts, ``> 0``.
      power: the exponent :math:`P`, ``>= 0``.
      end_value: the value :math:`E` reached at :math:`T` and held after (without ``cycle``).
      cycle: restart the decay after each multiple of ``decay_steps`` (static).

    Returns:
      A :class:`jaxdecay.Schedule`.

    Raises:
      ValueError: ``decay_steps <= 0``, ``power < 0`` or NaN values (concrete values only).
      TypeError: ``cycle`` is not a bool.

    Examples:
      >>> import jaxdecay
      >>> s = jaxdecay.polynomial_decay(0.1, decay_steps=10, power=2.0)
      >>> print(*[f"{float(s(t)):.4f}" for t in (0, 5, 9, 10, 20)])
      0.1000 0.0250 0.0010 0.0000 0.0000

    References:
      Keras, `PolynomialDecay
      <https://keras.io/api/optimizers/learning_rate_schedules/polynomial_decay/>`_
    """
    V.check_number("init_value", init_value)
    V.check_positive("decay_steps", decay_steps)
    V.check_nonnegative("power", power)
    V.check_number("end_value", end_value)
    V.check_bool("cycle", cycle)

    def schedule(count):
        out, dt = dtypes(init_value, decay_steps, power, end_value)
        t_raw = as_count(count)
        t = t_raw.astype(dt)
        T = jnp.asarray(decay_steps, dt)
        if cycle:
            # Period T * max(1, ceil(t / T)) and the counts left in it, from an exact floor
            # division (integer arithmetic for integer counts: float32 ends at 2**24).
            q, r = floor_divmod(t_raw, decay_steps, dt)
            q = q + (r > 0).astype(dt)
            gap = jnp.where(t == 0, T, jnp.where(r > 0, T - r, 0))
            left = jnp.clip(gap / (T * jnp.maximum(q, 1)), 0, 1)
        else:
            left = remaining(jnp.minimum(t, T), T)
        init = jnp.asarray(init_value, dt)
        end = jnp.asarray(end_value, dt)
        return ((init - end) * safe_pow(left, jnp.asarray(power, dt)) + end).astype(out)

    return schedule
