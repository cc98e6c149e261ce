r"""Keras' ``keras.optimizers.schedules`` classes as jaxdecay schedules.

Each constructor is named and parameterised like the Keras class it mirrors (without ``name``)
and returns a :class:`jaxdecay.Schedule` whose value at ``count`` is
``keras.optimizers.schedules.X(...)(count)``. Keras calls a schedule with the optimizer's
``iterations``, the number of updates applied so far, which is exactly Optax's ``count``: one
update is one count, no conversion needed. The values are checked against Keras 3's own
schedules at every count of a few hundred steps (``rtol = 1e-6`` in float64).

Where a class matches a core jaxdecay schedule exactly, the constructor returns that schedule
(``ExponentialDecay(0.1, 100, 0.96)`` is ``exponential_decay(init_value=0.1,
transition_steps=100, decay_rate=0.96)``: ``repr`` and :func:`jaxdecay.to_config` name the
native call). ``PiecewiseConstantDecay``, which switches one count later than jaxdecay's
:func:`jaxdecay.piecewise_constant`, has a formula of its own, registered as
``keras.PiecewiseConstantDecay`` (a name :func:`jaxdecay.from_config` and :func:`jaxdecay.parse`
accept). Nothing from Keras is imported: this module works without it.

Every numeric argument is traceable (Keras needs Python numbers for most of them); arguments are
checked only when concrete, and an invalid one raises a ``ValueError`` naming it.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxdecay import _validate as V
from jaxdecay._core import Schedule, ScheduleFn
from jaxdecay._cosine import cosine_decay_schedule, cosine_restarts, warmup_cosine_decay_schedule
from jaxdecay._exponential import exponential_decay, inverse_time_decay
from jaxdecay._lookup import Lookup
from jaxdecay._numeric import as_count
from jaxdecay._piecewise import Values
from jaxdecay._polynomial import polynomial_decay
from jaxdecay.compat._register import registered

__all__ = [
    "ExponentialDecay",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
    "InverseTimeDecay",
    "CosineDecay",
    "CosineDecayRestarts",
]


def ExponentialDecay(
    initial_learning_rate: jax.typing.ArrayLike,
    decay_steps: jax.typing.ArrayLike,
    decay_rate: jax.typing.ArrayLike,
    staircase: bool = False,
) -> Schedule:
    r"""Keras ``ExponentialDecay``.

    .. math::
      \eta(t) = \eta_0 \, r^{t / T}

    (:math:`\lfloor t / T \rfloor` with ``staircase``), where :math:`\eta_0` is
    ``initial_learning_rate``, :math:`r` is ``decay_rate`` and :math:`T` is ``decay_steps``.
    Returns :func:`jaxdecay.exponential_decay` ``(initial_learning_rate, decay_steps,
    decay_rate, staircase=staircase)``.

    Domain: every count.

    Args:
      initial_learning_rate: :math:`\eta_0`, the value at count 0.
      decay_steps: :math:`T > 0`.
      decay_rate: :math:`r > 0` (Keras also takes 0: a learning rate of 0 after count 0).
      staircase: decay in discrete jumps every ``decay_steps`` counts (static).

    Returns:
      A :class:`jaxdecay.Schedule`.

    Raises:
      ValueError: ``decay_steps <= 0``, ``decay_rate <= 0`` or NaN (concrete values only).
      TypeError: ``staircase`` is not a bool.

    Examples:
      >>> from jaxdecay.compat import keras as schedules
      >>> s = schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5, staircase=True)
      >>> print(*[f"{float(s(t)):.4f}" for t in range(5)])
      0.1000 0.1000 0.0500 0.0500 0.0250

    References:
      Keras, `ExponentialDecay
      <https://keras.io/api/optimizers/learning_rate_schedules/exponential_decay/>`_
    """
    with V.renamed_arguments(
        {"init_value": "initial_learning_rate", "transition_steps": "decay_steps"}
    ):
        return exponential_decay(
            initial_learning_rate, decay_steps, decay_rate, staircase=staircase
        )


@registered("keras")
def PiecewiseConstantDecay(boundaries: Any, values: Any) -> ScheduleFn:
    r"""Keras ``PiecewiseConstantDecay``: ``values[i]`` between boundaries, switching *after* each.

    .. math::
      \eta(t) = v_i \quad \text{for} \quad b_{i-1} < t \le b_i

    (with :math:`b_{-1} = -\infty`, :math:`b_n = +\infty`): ``values[0]`` up to and including
    ``boundaries[0]``, ``values[i + 1]`` from ``boundaries[i] + 1`` on. This is one count later
    than :func:`jaxdecay.piecewise_constant` and Optax's ``piecewise_constant_schedule``, which
    switch *at* the boundary. The lookup is one broadcast comparison against an array of
    boundaries (the traced program does not grow with their number).

    Domain: every count. Keras casts the boundaries to the step's dtype (truncating fractional
    boundaries for integer steps); here counts and boundaries are compared in floating point
    unless both are integers, which is the same for integer boundaries.

    Args:
      boundaries: a non-empty, strictly increasing list (or 1-D array) of counts; traceable
        entries.
      values: ``len(boundaries) + 1`` values; traceable entries.

    Returns:
      A :class:`jaxdecay.Schedule` (registered as ``keras.PiecewiseConstantDecay``).

    Raises:
      ValueError: mismatched lengths, no boundary, non-increasing boundaries or NaN (concrete
        values only).
      TypeError: ``boundaries`` or ``values`` is not a list or a 1-D array.

    Examples:
      >>> from jaxdecay.compat import keras as schedules
      >>> s = schedules.PiecewiseConstantDecay([2, 4], [1.0, 0.5, 0.1])
      >>> print(*[f"{float(s(t)):.1f}" for t in range(6)])
      1.0 1.0 1.0 0.5 0.5 0.1

    References:
      Keras, `PiecewiseConstantDecay
      <https://keras.io/api/optimizers/learning_rate_schedules/piecewise_constant_decay/>`_
    """
    V.check_sequence("boundaries", boundaries, min_len=1)
    V.check_sequence("values", values)
    V.check_same_length("values", values, "boundaries", boundaries, offset=1)
    for i, b in enumerate(boundaries):
        V.check_number(f"boundaries[{i}]", b)
    for i, x in enumerate(values):
        V.check_number(f"values[{i}]", x)
    V.check_increasing("boundaries", boundaries)

    # Keras counts the boundaries strictly below t: the lookup with side="left".
    lookup = Lookup(boundaries, side="left")
    vals = Values(values)

    def schedule(count):
        t = as_count(count)
        return lookup([vals.get(vals.dtype())], t)[0]

    return schedule


def PolynomialDecay(
    initial_learning_rate: jax.typing.ArrayLike,
    decay_steps: jax.typing.ArrayLike,
    end_learning_rate: jax.typing.ArrayLike = 0.0001,
    power: jax.typing.ArrayLike = 1.0,
    cycle: bool = False,
) -> Schedule:
    r"""Keras ``PolynomialDecay``.

    .. math::
      \eta(t) = (\eta_0 - \eta_e) \left(1 - \frac{\min(t, T)}{T}\right)^{p} + \eta_e

    With ``cycle=True``, :math:`T` becomes :math:`T \max(1, \lceil t / T \rceil)` and :math:`t`
    is not clamped (the value is :math:`\eta_e` at every multiple of :math:`T`, then restarts
    lower). Returns :func:`jaxdecay.polynomial_decay` ``(initial_learning_rate, decay_steps,
    power, end_learning_rate, cycle)``. Note Keras' default ``end_learning_rate=0.0001``
    (jaxdecay's ``polynomial_decay`` defaults to 0).

    Domain: every count.

    Args:
      initial_learning_rate: :math:`\eta_0`.
      decay_steps: :math:`T > 0`.
      end_learning_rate: :math:`\eta_e`.
      power: :math:`p \ge 0`.
      cycle: restart after each multiple of ``decay_steps`` (static).

    Returns:
      A :class:`jaxdecay.Schedule`.

    Raises:
      ValueError: ``decay_steps <= 0``, ``power < 0`` or NaN (concrete values only).
      TypeError: ``cycle`` is not a bool.

    Examples:
      >>> from jaxdecay.compat import keras as schedules
      >>> s = schedules.PolynomialDecay(0.1, decay_steps=4, end_learning_rate=0.0, cycle=True)
      >>> print(*[f"{float(s(t)):.4f}" for t in (0, 2, 4, 5, 8)])
      0.1000 0.0500 0.0000 0.0375 0.0000

    References:
      Keras, `PolynomialDecay
      <https://keras.io/api/optimizers/learning_rate_schedules/polynomial_decay/>`_
    """
    with V.renamed_arguments(
        {"init_value": "initial_learning_rate", "end_value": "end_learning_rate"}
    ):
        return polynomial_decay(initial_learning_rate, decay_steps, power, end_learning_rate, cycle)


def InverseTimeDecay(
    initial_learning_rate: jax.typing.ArrayLike,
    decay_steps: jax.typing.ArrayLike,
    decay_rate: jax.typing.ArrayLike,
    staircase: bool = False,
) -> Schedule:
    r"""Keras ``InverseTimeDecay``.

    .. math::
      \eta(t) = \frac{\eta_0}{1 + r \, t / T}

    (:math:`\lfloor t / T \rfloor` with ``staircase``). Returns
    :func:`jaxdecay.inverse_time_decay` ``(initial_learning_rate, decay_rate, decay_steps,
    staircase)`` (note the argument order there: ``decay_rate`` first).

    Domain: every count.

    Args:
      initial_learning_rate: :math:`\eta_0`.
      decay_steps: :math:`T > 0`.
      decay_rate: :math:`r \ge 0`.
      staircase: decay in discrete jumps every ``decay_steps`` counts (static).

    Returns:
      A :class:`jaxdecay.Schedule`.

    Raises:
      ValueError: ``decay_steps <= 0``, ``decay_rate < 0`` or NaN (concrete values only).

    Examples:
      >>> from jaxdecay.compat import keras as schedules
      >>> s = schedules.InverseTimeDecay(0.1, decay_steps=1, decay_rate=0.5)
      >>> print(*[f"{float(s(t)):.4f}" for t in range(4)])
      0.1000 0.0667 0.0500 0.0400

    References:
      Keras, `InverseTimeDecay
      <https://keras.io/api/optimizers/learning_rate_schedules/inverse_time_decay/>`_
    """
    with V.renamed_arguments({"init_value": "initial_learning_rate"}):
        return inverse_time_decay(initial_learning_rate, decay_rate, decay_steps, staircase)


def CosineDecay(
    initial_learning_rate: jax.typing.ArrayLike,
    decay_steps: jax.typing.ArrayLike,
    alpha: jax.typing.ArrayLike = 0.0,
    warmup_target: jax.typing.ArrayLike | None = None,
    warmup_steps: jax.typing.ArrayLike = 0,
) -> Schedule:
    r"""Keras ``CosineDecay``, with its optional linear warmup.

    Without ``warmup_target``: :math:`\eta(t) = \eta_0 \left[(1 - \alpha)\tfrac12(1 +
    \cos(\pi \min(t, T) / T)) + \alpha\right]`, returned as
    :func:`jaxdecay.cosine_decay_schedule` ``(initial_learning_rate, decay_steps, alpha)``
    (``warmup_steps`` is then ignored, as in Keras).

    With ``warmup_target`` :math:`P` and ``warmup_steps`` :math:`W`: linear from
    :math:`\eta_0` to :math:`P` over counts ``0 .. W``, then cosine from :math:`P` to
    :math:`\alpha P` over the next :math:`T` counts, held after :math:`W + T`:

    .. math::
      \eta(t) = \begin{cases}
        \eta_0 + (P - \eta_0)\, t / W, & t < W \\
        P \left[(1 - \alpha)\tfrac12\left(1 + \cos\frac{\pi \min(t - W, T)}{T}\right)
          + \alpha\right], & t \ge W
      \end{cases}

    returned as :func:`jaxdecay.warmup_cosine_decay_schedule` ``(initial_learning_rate,
    warmup_target, warmup_steps, warmup_steps + decay_steps, end_value=alpha *
    warmup_target)``: in Keras ``decay_steps`` excludes the warmup, in Optax/jaxdecay it
    includes it. ``warmup_steps=0`` starts at :math:`P`.

    Domain: every count. Keras 3 evaluates the cosine in float32 even for a float64
    ``initial_learning_rate`` (its dtype promotion maps 64-bit results to 32 bits), so its values
    differ from these by up to about ``1e-7`` of the cosine's height; with a float64 cosine Keras'
    formula gives these values.

    Args:
      initial_learning_rate: :math:`\eta_0`, the value at count 0.
      decay_steps: :math:`T > 0`, the length of the cosine (after the warmup).
      alpha: the final value as a fraction of the value the cosine starts from.
      warmup_target: :math:`P`, the value at the end of the warmup, or ``None`` for no warmup.
      warmup_steps: :math:`W \ge 0`.

    Returns:
      A :class:`jaxdecay.Schedule`.

    Raises:
      ValueError: ``decay_steps <= 0``, ``warmup_steps < 0`` or NaN (concrete values only).

    Examples:
      >>> from jaxdecay.compat import keras as schedules
      >>> s = schedules.CosineDecay(0.0, 4, warmup_target=0.1, warmup_steps=2)
      >>> print(*[f"{float(s(t)):.4f}" for t in range(8)])
      0.0000 0.0500 0.1000 0.0854 0.0500 0.0146 0.0000 0.0000

    References:
      Keras, `CosineDecay <https://keras.io/api/optimizers/learning_rate_schedules/cosine_decay/>`_;
      Loshchilov & Hutter, `SGDR <https://arxiv.org/abs/1608.03983>`_, 2017; Goyal et al.,
      `Accurate, Large Minibatch SGD <https://arxiv.org/abs/1706.02677>`_, 2017
    """
    with V.renamed_arguments(
        {"init_value": "initial_learning_rate", "peak_value": "warmup_target"}
    ):
        V.check_positive("decay_steps", decay_steps)
        if warmup_target is None:
            return cosine_decay_schedule(initial_learning_rate, decay_steps, alpha)
        V.check_number("alpha", alpha)
        V.check_number("warmup_target", warmup_target)
        V.check_nonnegative("warmup_steps", warmup_steps)
        return warmup_cosine_decay_schedule(
            initial_learning_rate,
            warmup_target,
            warmup_steps,
            _plus(warmup_steps, decay_steps),
            end_value=_times(alpha, warmup_target),
        )


def CosineDecayRestarts(
    initial_learning_rate: jax.typing.ArrayLike,
    first_decay_steps: jax.typing.ArrayLike,
    t_mul: jax.typing.ArrayLike = 2.0,
    m_mul: jax.typing.ArrayLike = 1.0,
    alpha: jax.typing.ArrayLike = 0.0,
) -> Schedule:
    r"""Keras ``CosineDecayRestarts`` (SGDR).

    Cycle :math:`i` lasts :math:`T_0 t_{mul}^i` counts; in it, with :math:`f` the fraction of
    the cycle done, :math:`\eta(t) = \eta_0 \left[(1 - \alpha) m_{mul}^i \tfrac12 (1 + \cos
    \pi f) + \alpha\right]`. Returns :func:`jaxdecay.cosine_restarts` with the same arguments.

    Domain: every count. Keras finds the cycle with a floating-point logarithm; jaxdecay
    corrects that estimate, so a count exactly on a restart always starts the new cycle (the
    float64 values agree with Keras at every count tested). As for :func:`CosineDecay`, Keras 3
    evaluates the cosine itself in float32 (differences up to about ``1e-7`` of the height).

    Args:
      initial_learning_rate: :math:`\eta_0`.
      first_decay_steps: :math:`T_0 > 0`.
      t_mul: :math:`t_{mul} \ge 1`, the growth of each cycle's length.
      m_mul: :math:`m_{mul} \ge 0`, the factor on each cycle's height.
      alpha: the floor, as a fraction of ``initial_learning_rate``.

    Returns:
      A :class:`jaxdecay.Schedule`.

    Raises:
      ValueError: ``first_decay_steps <= 0``, ``t_mul < 1``, ``m_mul < 0`` or NaN (concrete
        values only).

    Examples:
      >>> from jaxdecay.compat import keras as schedules
      >>> s = schedules.CosineDecayRestarts(0.1, first_decay_steps=2, m_mul=0.5)
      >>> print(*[f"{float(s(t)):.4f}" for t in range(7)])
      0.1000 0.0500 0.0500 0.0427 0.0250 0.0073 0.0250

    References:
      Keras, `CosineDecayRestarts
      <https://keras.io/api/optimizers/learning_rate_schedules/cosine_decay_restarts/>`_;
      Loshchilov & Hutter, `SGDR <https://arxiv.org/abs/1608.03983>`_, 2017
    """
    with V.renamed_arguments({"init_value": "initial_learning_rate"}):
        return cosine_restarts(initial_learning_rate, first_decay_steps, t_mul, m_mul, alpha)


def _is_python_number(x: Any) -> bool:
    return isinstance(x, int | float | np.integer | np.floating) and not isinstance(x, bool)


def _plus(a: Any, b: Any) -> Any:
    """``a + b``, kept a Python number when both are (so ``repr`` stays readable)."""
    if _is_python_number(a) and _is_python_number(b):
        return a + b
    return jnp.asarray(a) + jnp.asarray(b)


def _times(a: Any, b: Any) -> Any:
    if _is_python_number(a) and _is_python_number(b):
        return a * b
    return jnp.asarray(a) * jnp.asarray(b)
