"""Combinators: schedules made from other schedules (``warmup``, ``scale``, ``shift``, ...).

Every combinator takes jaxdecay schedules or any callables ``count -> value`` (Optax schedules,
lambdas; :func:`jaxdecay.to_config` then refuses the plain callables), and every numeric argument
may be traced (``jax.vmap`` over ``warmup_steps``, ``factor``, ``period``, ``steps_per_epoch``...).

Each wrapped schedule only ever sees counts ``>= 0``. When the count and the combinator's step
argument are both integers, the count passed on stays an integer (exact integer arithmetic); with
a float step argument it becomes a float.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxdecay import _validate as V
from jaxdecay._core import schedule_factory
from jaxdecay._numeric import (
    as_count,
    compute_dtype,
    float_dtype,
    floor_div,
    floor_divmod,
    offset,
    ramp,
)

__all__ = ["warmup", "scale", "multiply", "add", "clip", "shift", "repeat", "per_epoch", "stretch"]

ScheduleLike = Callable[[jax.typing.ArrayLike], jax.typing.ArrayLike]


def _float(x: Any, *hps: Any) -> jax.Array:
    """A schedule's output as a floating array (promoted with the float hyperparameters)."""
    x = jnp.asarray(x)
    return x.astype(jnp.result_type(x.dtype, float_dtype(*hps)))


def _is_int(x: Any) -> bool:
    return jnp.issubdtype(jnp.result_type(x), jnp.integer)


def _shifted(t: jax.Array, steps: Any) -> jax.Array:
    """``max(t - steps, 0)``: an integer for an integer count and step, else a float (at least
    float32) computed from the exact difference when both are integer-valued (float32 cannot
    hold counts past 2**24, ``shift(s, 7.0)`` at ``2**30 + 7`` must pass 0)."""
    if _is_int(t) and _is_int(steps):
        st = jnp.asarray(steps, t.dtype)
        # A negative shift must not overflow: hold the value reached at the largest count.
        t = jnp.minimum(t, jnp.iinfo(t.dtype).max + jnp.minimum(st, 0))
        return jnp.maximum(t - st, 0)
    dt = compute_dtype(float_dtype(steps, t if not _is_int(t) else None))
    return jnp.maximum(offset(t, steps, dtype=dt), 0)


# --------------------------------------------------------------------------------------------
# warmup
# --------------------------------------------------------------------------------------------


@schedule_factory
@V.scalar_arguments(steps=("warmup_steps",))
def warmup(
    schedule: ScheduleLike,
    warmup_steps: jax.typing.ArrayLike,
    init_value: jax.typing.ArrayLike = 0.0,
    kind: str = "linear",
) -> Callable[[jax.typing.ArrayLike], jax.Array]:
    r"""Ramp from ``init_value`` to ``schedule(0)``, then run ``schedule`` from its own step 0.

    .. math::

      v(t) = \begin{cases}
        r\!\left(v_0, f(0), t / W\right) & t < W \\
        f(t - W) & t \ge W
      \end{cases}

    with :math:`f` the wrapped ``schedule``, :math:`W` the ``warmup_steps``, :math:`v_0` the
    ``init_value`` and the ramp :math:`r(a, b, p)` one of

    - ``"linear"``: :math:`a + (b - a)\,p`;
    - ``"cosine"``: :math:`a + (b - a)\,\tfrac{1}{2}(1 - \cos(\pi p))`;
    - ``"exponential"``: :math:`a\,(b / a)^{p}` (geometric; needs :math:`a > 0` and
      :math:`b > 0`).

    The warmup is *not* part of the wrapped schedule's length: ``schedule`` starts at step 0 when
    the warmup ends, so no decay happens during the warmup and there is no jump after it (the
    value at ``t = W`` is exactly ``schedule(0)``); the run lasts ``W`` + the schedule's own
    length. (Optax's ``warmup_cosine_decay_schedule`` counts ``decay_steps`` from step 0, warmup
    included.)

    Args:
      schedule: the schedule after the warmup (any callable ``count -> value``).
      warmup_steps: :math:`W \ge 0`, in steps, traceable; 0 (also a traced 0) means no warmup.
      init_value: the value at step 0, traceable; ``> 0`` for ``kind="exponential"``.
      kind: ``"linear"``, ``"cosine"`` or ``"exponential"`` (static).

    Returns:
      The schedule ``count -> value``.

    Raises:
      ValueError: a negative/NaN/infinite ``warmup_steps``, an unknown ``kind``, a NaN
        ``init_value``, or with ``kind="exponential"`` an ``init_value <= 0`` or a
        ``schedule(0) <= 0`` (when concrete; a traced ``schedule(0) <= 0`` gives a ramp that
        ends near 0, never NaN).
      TypeError: ``schedule`` is not callable.

    Examples:
      >>> import jaxdecay
      >>> s = jaxdecay.warmup(jaxdecay.piecewise_linear([0, 100], [1.0, 0.0]), warmup_steps=10)
      >>> print(", ".join(f"{float(s(t)):.2f}" for t in (0, 5, 9, 10, 60, 110)))
      0.00, 0.50, 0.90, 1.00, 0.50, 0.00

    References:
      Goyal et al., 2017, `Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour
      <https://arxiv.org/abs/1706.02677>`_ (gradual warmup).
    """
    V.check_callable("schedule", schedule)
    V.check_nonnegative("warmup_steps", warmup_steps)
    V.check_choice("kind", kind, ("linear", "cosine", "exponential"))
    V.check_number("init_value", init_value)
    if kind == "exponential":
        V.check_positive("init_value", init_value)
        peak0 = schedule(0)
        if V.is_concrete(peak0) and not np.all(np.asarray(peak0) > 0):
            raise ValueError(
                f"`kind`='exponential' needs `schedule(0)` > 0 (a geometric ramp from "
                f"`init_value`), got {np.asarray(peak0).item()!r}"
            )

    def fn(count: jax.typing.ArrayLike) -> jax.Array:
        t = as_count(count)
        w = warmup_steps
        main = _float(schedule(_shifted(t, w)), init_value)
        peak = _float(schedule(jnp.zeros((), t.dtype)), init_value)
        dtype = jnp.result_type(main.dtype, peak.dtype)
        cdt = compute_dtype(dtype)  # the ramp's arithmetic in at least float32
        start = jnp.asarray(init_value, cdt)
        peak = peak.astype(cdt)
        tf = jnp.asarray(t, cdt)
        # Progress through the warmup; a (traced) zero-length warmup counts as done: no NaN.
        w_f = jnp.asarray(w, cdt)
        if kind == "linear":
            value = ramp(start, peak, tf, w_f)
        else:
            ok = w_f > 0
            p = jnp.where(ok, tf / jnp.where(ok, w_f, 1), 1.0)
            p = jnp.clip(p, 0.0, 1.0)
            if kind == "cosine":
                value = start + (peak - start) * (0.5 * (1 - jnp.cos(jnp.pi * p)))
            else:
                tiny = jnp.finfo(cdt).tiny
                ratio = jnp.maximum(peak / start, tiny)
                value = start * jnp.power(ratio, p)
        in_warmup = t < w if _is_int(t) and _is_int(w) else offset(t, w, dtype=cdt) < 0
        return jnp.where(in_warmup, value.astype(dtype), main).astype(dtype)

    return fn


# --------------------------------------------------------------------------------------------
# Pointwise arithmetic
# --------------------------------------------------------------------------------------------


@schedule_factory
@V.scalar_arguments()
def scale(schedule: ScheduleLike, factor: jax.typing.ArrayLike) -> Callable[..., jax.Array]:
    r"""Multiply a schedule by a constant factor.

    .. math::

      v(t) = c \, f(t),

    with :math:`f` the ``schedule`` and :math:`c` the ``factor``.

    Args:
      schedule: any callable ``count -> value``.
      factor: :math:`c`, a finite number (any sign), traceable.

    Returns:
      The schedule ``count -> value``.

    Raises:
      ValueError: a NaN or infinite ``factor`` (when concrete).
      TypeError: ``schedule`` is not callable.

    Examples:
      >>> import jaxdecay
      >>> s = jaxdecay.scale(jaxdecay.piecewise_constant([10], [1.0, 0.5]), 0.1)
      >>> print(", ".join(f"{float(s(t)):.3f}" for t in (0, 10)))
      0.100, 0.050
    """
    V.check_callable("schedule", schedule)
    V.check_number("factor", factor)

    def fn(count: jax.typing.ArrayLike) -> jax.Array:
        t = as_count(count)
        return _float(schedule(t), factor) * factor

    return fn


def _pointwise(name: str, op: Callable[[Any, Any], Any], schedules: tuple[Any, ...]) -> Any:
    V.check_schedule_list("schedules", list(schedules), min_len=1)

    def fn(count: jax.typing.ArrayLike) -> jax.Array:
        t = as_count(count)
        return functools.reduce(op, (_float(s(t)) for s in schedules))

    return fn


@schedule_factory
def multiply(*schedules: ScheduleLike) -> Callable[[jax.typing.ArrayLike], jax.Array]:
    r"""The pointwise product of schedules.

    .. math::

      v(t) = \prod_i f_i(t).

    Args:
      *schedules: one or more callables ``count -> value``.

    Returns:
      The schedule ``count -> value``.

    Raises:
      ValueError: no schedule given.
      TypeError: an argument is not callable.

    Examples:
      >>> import jaxdecay
      >>> s = jaxdecay.multiply(jaxdecay.piecewise_linear([0, 10], [0.0, 1.0]),
      ...                       jaxdecay.multistep_decay(0.1, [5]))
      >>> print(", ".join(f"{float(s(t)):.3f}" for t in (0, 4, 5, 10)))
      0.000, 0.040, 0.005, 0.010
    """
    return _pointwise("multiply", operator.mul, schedules)


@schedule_factory
def add(*schedules: ScheduleLike) -> Callable[[jax.typing.ArrayLike], jax.Array]:
    r"""The pointwise sum of schedules.

    .. math::

      v(t) = \sum_i f_i(t).

    Args:
      *schedules: one or more callables ``count -> value``.

    Returns:
      The schedule ``count -> value``.

    Raises:
      ValueError: no schedule given.
      TypeError: an argument is not callable.

    Examples:
      >>> import jaxdecay
      >>> s = jaxdecay.add(jaxdecay.piecewise_linear([0, 10], [1.0, 0.0]),
      ...                  jaxdecay.piecewise_constant([], [0.01]))
      >>> print(", ".join(f"{float(s(t)):.3f}" for t in (0, 5, 10, 20)))
      1.010, 0.510, 0.010, 0.010
    """
    return _pointwise("add", operator.add, schedules)


@schedule_factory
@V.scalar_arguments()
def clip(
    schedule: ScheduleLike,
    min_value: jax.typing.ArrayLike | None = None,
    max_value: jax.typing.ArrayLike | None = None,
) -> Callable[[jax.typing.ArrayLike], jax.Array]:
    r"""Clamp a schedule's value to ``[min_value, max_value]``.

    .. math::

      v(t) = \min(\max(f(t), a), b),

    with :math:`a` the ``min_value`` and :math:`b` the ``max_value`` (``None``: no bound on that
    side; both ``None`` leaves the schedule unchanged).

    Args:
      schedule: any callable ``count -> value``.
      min_value: the floor, or ``None``; traceable.
      max_value: the ceiling, or ``None``; traceable; ``>= min_value``.

    Returns:
      The schedule ``count -> value``.

    Raises:
      ValueError: a NaN bound, or ``min_value > max_value`` (when concrete).
      TypeError: ``schedule`` is not callable.

    Examples:
      >>> import jaxdecay
      >>> s = jaxdecay.clip(jaxdecay.piecewise_linear([0, 100], [1.0, 0.0]), min_value=0.1)
      >>> print(", ".join(f"{float(s(t)):.2f}" for t in (0, 50, 95, 200)))
      1.00, 0.50, 0.10, 0.10
    """
    V.check_callable("schedule", schedule)
    if min_value is not None:
        V.check_number("min_value", min_value, finite=False)
    if max_value is not None:
        V.check_number("max_value", max_value, finite=False)
    if min_value is not None and max_value is not None:
        lo = V.concrete_value("min_value", min_value)
        hi = V.concrete_value("max_value", max_value)
        if lo is not None and hi is not None and np.any(lo > hi):
            raise ValueError(
                f"`min_value` must be <= `max_value`, got min_value={lo.tolist()!r}, "
                f"max_value={hi.tolist()!r}"
            )

    def fn(count: jax.typing.ArrayLike) -> jax.Array:
        t = as_count(count)
        v = _float(schedule(t), *(x for x in (min_value, max_value) if x is not None))
        if min_value is not None:
            v = jnp.maximum(v, jnp.asarray(min_value, v.dtype))
        if max_value is not None:
            v = jnp.minimum(v, jnp.asarray(max_value, v.dtype))
        return v

    return fn


# --------------------------------------------------------------------------------------------
# Time transforms
# --------------------------------------------------------------------------------------------


@schedule_factory
@V.scalar_arguments(signed=("steps",))
def shift(schedule: ScheduleLike, steps: jax.typing.ArrayLike) -> Callable[..., jax.Array]:
    r"""Delay a schedule by ``steps`` (hold its first value meanwhile).

    .. math::

      v(t) = f(\max(t - s, 0)),

    with :math:`s` the ``steps``. A negative ``steps`` starts the schedule part-way
    (:math:`v(0) = f(|s|)`), e.g. to resume a run.

    Args:
      schedule: any callable ``count -> value``.
      steps: :math:`s`, in steps, a finite number of any sign, traceable.

    Returns:
      The schedule ``count -> value``.

    Raises:
      ValueError: a NaN or infinite ``steps`` (when concrete).
      TypeError: ``schedule`` is not callable.

    Examples:
      >>> import jaxdecay
      >>> s = jaxdecay.shift(jaxdecay.piecewise_linear([0, 10], [1.0, 0.0]), 5)
      >>> print(", ".join(f"{float(s(t)):.2f}" for t in (0, 5, 10, 15)))
      1.00, 1.00, 0.50, 0.00
    """
    V.check_callable("schedule", schedule)
    V.check_number("steps", steps)

    def fn(count: jax.typing.ArrayLike) -> jax.Array:
        return _float(schedule(_shifted(as_count(count), steps)))

    return fn


@schedule_factory
@V.scalar_arguments(steps=("period",))
def repeat(schedule: ScheduleLike, period: jax.typing.ArrayLike) -> Callable[..., jax.Array]:
    r"""Restart a schedule every ``period`` steps.

    .. math::

      v(t) = f(t - P \lfloor t / P \rfloor) = f(t \bmod P),

    with :math:`P` the ``period``. The floor is exact (integer arithmetic for integer counts and
    period; a corrected float floor otherwise), so each restart lands exactly on a multiple of
    :math:`P`.

    Args:
      schedule: any callable ``count -> value``.
      period: :math:`P > 0`, in steps, traceable.

    Returns:
      The schedule ``count -> value``.

    Raises:
      ValueError: a ``period <= 0``, NaN or infinite (when concrete).
      TypeError: ``schedule`` is not callable.

    Examples:
      >>> import jaxdecay
      >>> s = jaxdecay.repeat(jaxdecay.piecewise_linear([0, 10], [1.0, 0.0]), period=10)
      >>> print(", ".join(f"{float(s(t)):.2f}" for t in (0, 5, 9, 10, 15, 20)))
      1.00, 0.50, 0.10, 1.00, 0.50, 1.00
    """
    V.check_callable("schedule", schedule)
    V.check_positive("period", period)

    def fn(count: jax.typing.ArrayLike) -> jax.Array:
        t = as_count(count)
        if _is_int(t) and _is_int(period):
            _, local = floor_divmod(t, period, t.dtype)  # the remainder, an exact integer
            return _float(schedule(local.astype(t.dtype)))
        dt = compute_dtype(float_dtype(period, t if not _is_int(t) else None))
        _, local = floor_divmod(t, period, dt)
        return _float(schedule(local))

    return fn


@schedule_factory
@V.scalar_arguments(steps=("steps_per_epoch",))
def per_epoch(
    schedule: ScheduleLike, steps_per_epoch: jax.typing.ArrayLike
) -> Callable[[jax.typing.ArrayLike], jax.Array]:
    r"""Run a schedule written in epochs on a count of updates.

    .. math::

      v(t) = f(\lfloor t / E \rfloor),

    with :math:`E` the ``steps_per_epoch``: the value changes only at epoch boundaries (exact
    floor, integer arithmetic for integer counts).

    Args:
      schedule: a schedule whose count is the epoch (any callable).
      steps_per_epoch: :math:`E > 0`, updates per epoch, traceable.

    Returns:
      The schedule ``count -> value``.

    Raises:
      ValueError: a ``steps_per_epoch <= 0``, NaN or infinite (when concrete).
      TypeError: ``schedule`` is not callable.

    Examples:
      >>> import jaxdecay
      >>> s = jaxdecay.per_epoch(jaxdecay.multistep_decay(0.1, [2], gamma=0.1), 100)
      >>> print(", ".join(f"{float(s(t)):.3f}" for t in (0, 199, 200, 1000)))
      0.100, 0.100, 0.010, 0.010
    """
    V.check_callable("schedule", schedule)
    V.check_positive("steps_per_epoch", steps_per_epoch)

    def fn(count: jax.typing.ArrayLike) -> jax.Array:
        t = as_count(count)
        if _is_int(t) and _is_int(steps_per_epoch):
            return _float(schedule(floor_div(t, steps_per_epoch, t.dtype)))
        dt = compute_dtype(float_dtype(steps_per_epoch, t if not _is_int(t) else None))
        return _float(schedule(floor_div(t, steps_per_epoch, dt)))

    return fn


@schedule_factory
@V.scalar_arguments()
def stretch(schedule: ScheduleLike, factor: jax.typing.ArrayLike) -> Callable[..., jax.Array]:
    r"""The same curve over a longer (``factor > 1``) or shorter (``factor < 1``) run.

    .. math::

      v(t) = f(t / c),

    with :math:`c` the ``factor``. The wrapped schedule receives a float count; when
    :math:`t / c` is an integer it is passed exactly (the quotient is snapped to the integer
    when ``round(t / c) * c == t``), so a staircase inside ``f`` steps exactly at ``c`` times its
    own boundaries, under ``jit`` too.

    Args:
      schedule: any callable ``count -> value`` (it must accept float counts).
      factor: :math:`c > 0`, traceable.

    Returns:
      The schedule ``count -> value``.

    Raises:
      ValueError: a ``factor <= 0``, NaN or infinite (when concrete).
      TypeError: ``schedule`` is not callable.

    Examples:
      >>> import jaxdecay
      >>> s = jaxdecay.stretch(jaxdecay.piecewise_constant([10], [1.0, 0.1]), factor=3)
      >>> print(", ".join(f"{float(s(t)):.2f}" for t in (0, 29, 30, 100)))
      1.00, 1.00, 0.10, 0.10
    """
    V.check_callable("schedule", schedule)
    V.check_positive("factor", factor)

    def fn(count: jax.typing.ArrayLike) -> jax.Array:
        t = as_count(count)
        dtype = compute_dtype(float_dtype(factor, t if not _is_int(t) else None))
        tf = jnp.asarray(t, dtype)
        c = jnp.asarray(factor, dtype)
        q = tf / c
        r = jnp.round(q)
        # Snap to the exact integer (value only: the gradient stays that of t / c).
        q = jnp.where(r * c == tf, q + jax.lax.stop_gradient(r - q), q)
        return _float(schedule(q))

    return fn
