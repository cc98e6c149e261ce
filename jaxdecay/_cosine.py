"""Cosine decays: plain, with warmup, and with warm restarts (SGDR)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxdecay import _validate as V
from jaxdecay._core import ScheduleFn, schedule_factory
from jaxdecay._numeric import (
    as_count,
    dtypes,
    floor_divmod,
    half_cosine,
    offset,
    ramp,
    remaining,
    safe_pow,
    saturate,
)
from jaxdecay._piecewise import join_schedules, piecewise_constant

__all__ = [
    "cosine_decay_schedule",
    "cosine_decay",
    "warmup_cosine_decay_schedule",
    "sgdr_schedule",
    "cosine_restarts",
]


def cosine_value(t, init, end, steps, exponent) -> jax.Array:
    """``end + (init - end) * (0.5 * (1 + cos(pi * min(t, T) / T))) ** exponent`` (floating)."""
    left = remaining(jnp.clip(t, 0, jnp.maximum(steps, 0)), steps)
    return end + (init - end) * safe_pow(half_cosine(left), exponent)


@schedule_factory
@V.scalar_arguments(steps=("decay_steps",))
def cosine_decay_schedule(
    init_value: jax.typing.ArrayLike,
    decay_steps: jax.typing.ArrayLike,
    alpha: jax.typing.ArrayLike = 0.0,
    exponent: jax.typing.ArrayLike = 1.0,
) -> ScheduleFn:
    r"""Cosine decay from ``init_value`` to ``alpha * init_value`` (Optax-compatible).

    .. math::
      \eta(t) = I \left[(1 - \alpha) \left(\tfrac12\left(1 + \cos\frac{\pi \min(t, T)}{T}
      \right)\right)^{p} + \alpha\right]

    where :math:`T` is ``decay_steps`` and :math:`p` is ``exponent``. The factor
    :math:`\tfrac12(1 + \cos(\pi t / T))` is computed as :math:`\sin^2(\tfrac{\pi}{2}
    (T - t) / T)`: the same value, without float32 cancellation at the end of the decay.

    Args:
      init_value: the value at count 0.
      decay_steps: :math:`T > 0`, the length of the decay in counts.
      alpha: the final value as a fraction of ``init_value``.
      exponent: :math:`p \ge 0`.

    Returns:
      A :class:`jaxdecay.Schedule`.

    Raises:
      ValueError: ``decay_steps <= 0``, ``exponent < 0`` or NaN (concrete values only).

    Examples:
      >>> import jaxdecay
      >>> s = jaxdecay.cosine_decay_schedule(1.0, decay_steps=100, alpha=0.1)
      >>> print(*[f"{float(s(t)):.4f}" for t in (0, 50, 100, 200)])
      1.0000 0.5500 0.1000 0.1000

    References:
      Loshchilov & Hutter, `SGDR: Stochastic Gradient Descent with Warm Restarts
      <https://arxiv.org/abs/1608.03983>`_, 2017
    """
    V.check_number("init_value", init_value)
    V.check_positive("decay_steps", decay_steps)
    V.check_number("alpha", alpha)
    V.check_nonnegative("exponent", exponent)

    def schedule(count):
        out, dt = dtypes(init_value, decay_steps, alpha, exponent)
        t = as_count(count).astype(dt)
        init = jnp.asarray(init_value, dt)
        a = jnp.asarray(alpha, dt)
        unit = cosine_value(t, 1.0, 0.0, jnp.asarray(decay_steps, dt), jnp.asarray(exponent, dt))
        return (init * ((1 - a) * unit + a)).astype(out)

    return schedule


@schedule_factory
@V.scalar_arguments(steps=("decay_steps",))
def cosine_decay(
    init_value: jax.typing.ArrayLike,
    decay_steps: jax.typing.ArrayLike,
    end_value: jax.typing.ArrayLike = 0.0,
    exponent: jax.typing.ArrayLike = 1.0,
) -> ScheduleFn:
    r"""Cosine decay from ``init_value`` to ``end_value`` over ``decay_steps`` counts.

    .. math::
      \eta(t) = E + (I - E) \left(\tfrac12\left(1 + \cos\frac{\pi \min(t, T)}{T}\right)
      \right)^{p}

    where :math:`I` is ``init_value``, :math:`E` is ``end_value``, :math:`T` is
    ``decay_steps`` and :math:`p` is ``exponent``. Holds :math:`E` after :math:`T` (PyTorch's
    ``CosineAnnealingLR`` would rise again). Same curve as Optax's ``cosine_decay_schedule``
    with ``alpha = end_value / init_value``, but parameterised by the end value.

    Args:
      init_value: the value at count 0.
      decay_steps: :math:`T > 0`.
      end_value: the value at and after :math:`T`.
      exponent: :math:`p \ge 0`.

    Returns:
      A :class:`jaxdecay.Schedule`.

    Raises:
      ValueError: ``decay_steps <= 0``, ``exponent < 0`` or NaN (concrete values only).

    Examples:
      >>> import jaxdecay
      >>> s = jaxdecay.cosine_decay(0.1, decay_steps=1000)
      >>> print(*[f"{float(s(t)):.4f}" for t in (0, 250, 500, 1000, 5000)])
      0.1000 0.0854 0.0500 0.0000 0.0000

    References:
      Loshchilov & Hutter, `SGDR: Stochastic Gradient Descent with Warm Restarts
      <https://arxiv.org/abs/1608.03983>`_, 2017
    """
    V.check_number("init_value", init_value)
    V.check_positive("decay_steps", decay_steps)
    V.check_number("end_value", end_value)
    V.check_nonnegative("exponent", exponent)

    def schedule(count):
        out, dt = dtypes(init_value, decay_steps, end_value, exponent)
        t = as_count(count).astype(dt)
        return cosine_value(
            t,
            jnp.asarray(init_value, dt),
            jnp.asarray(end_value, dt),
            jnp.asarray(decay_steps, dt),
            jnp.asarray(exponent, dt),
        ).astype(out)

    return schedule


def warmup_cosine_value(
    count, init_value, peak_value, warmup_steps, decay_steps, end_value, exponent
) -> jax.Array:
    out, dt = dtypes(init_value, peak_value, warmup_steps, decay_steps, end_value, exponent)
    t = as_count(count)
    W = jnp.asarray(warmup_steps, dt)
    D = jnp.maximum(offset(decay_steps, warmup_steps, dtype=dt), 0)
    peak = jnp.asarray(peak_value, dt)
    x = offset(t, warmup_steps, dtype=dt)  # exact t - W (integer arithmetic where it can be)
    warm = ramp(jnp.asarray(init_value, dt), peak, t.astype(dt), W)
    decay = cosine_value(x, peak, jnp.asarray(end_value, dt), D, jnp.asarray(exponent, dt))
    return jnp.where(x < 0, warm, decay).astype(out)


def _check_warmup_cosine(init_value, peak_value, warmup_steps, decay_steps, end_value, exponent):
    V.check_scalar("init_value", init_value)
    V.check_scalar("peak_value", peak_value)
    V.check_steps("warmup_steps", warmup_steps)
    V.check_steps("decay_steps", decay_steps)
    V.check_scalar("end_value", end_value)
    V.check_scalar("exponent", exponent)
    V.check_number("init_value", init_value)
    V.check_number("peak_value", peak_value)
    V.check_nonnegative("warmup_steps", warmup_steps)
    V.check_nonnegative("decay_steps", decay_steps)
    V.check_number("end_value", end_value)
    V.check_nonnegative("exponent", exponent)
    w = V.concrete_value("warmup_steps", warmup_steps)
    d = V.concrete_value("decay_steps", decay_steps)
    if w is not None and d is not None and (d < w).any():
        raise ValueError(
            f"`decay_steps` must be >= `warmup_steps` (it includes the warmup), got "
            f"decay_steps={decay_steps!r}, warmup_steps={warmup_steps!r}"
        )


@schedule_factory
@V.scalar_arguments(steps=("warmup_steps", "decay_steps"))
def warmup_cosine_decay_schedule(
    init_value: jax.typing.ArrayLike,
    peak_value: jax.typing.ArrayLike,
    warmup_steps: jax.typing.ArrayLike,
    decay_steps: jax.typing.ArrayLike,
    end_value: jax.typing.ArrayLike = 0.0,
    exponent: jax.typing.ArrayLike = 1.0,
) -> ScheduleFn:
    r"""Linear warmup, then cosine decay (Optax-compatible).

    .. math::
      \eta(t) = \begin{cases}
        I + (P - I)\, t / W, & t < W \\
        E + (P - E) \left(\tfrac12\left(1 + \cos\frac{\pi \min(t - W, D)}{D}\right)\right)^{p},
          & t \ge W
      \end{cases}

    with :math:`D` = ``decay_steps - warmup_steps``: ``decay_steps`` is the length of the whole
    schedule, warmup included (as in Optax). ``warmup_steps=0`` starts at the peak;
    ``decay_steps == warmup_steps`` drops to ``end_value`` right after the warmup (Optax raises
    there).

    Args:
      init_value: the value at count 0.
      peak_value: the value at the end of the warmup.
      warmup_steps: :math:`W \ge 0`.
      decay_steps: total length, ``>= warmup_steps``.
      end_value: the value at and after ``decay_steps``.
      exponent: :math:`p \ge 0`.

    Returns:
      A :class:`jaxdecay.Schedule`.

    Raises:
      ValueError: negative lengths, ``decay_steps < warmup_steps`` or NaN (concrete values only).

    Examples:
      >>> import jaxdecay
      >>> s = jaxdecay.warmup_cosine_decay_schedule(0.0, 1.0, warmup_steps=10, decay_steps=110)
      >>> print(*[f"{float(s(t)):.3f}" for t in (0, 5, 10, 60, 110)])
      0.000 0.500 1.000 0.500 0.000
    """
    _check_warmup_cosine(init_value, peak_value, warmup_steps, decay_steps, end_value, exponent)
    return lambda count: warmup_cosine_value(
        count, init_value, peak_value, warmup_steps, decay_steps, end_value, exponent
    )


_WARMUP_COSINE_ARGS = (
    "init_value",
    "peak_value",
    "warmup_steps",
    "decay_steps",
    "end_value",
    "exponent",
)
_WARMUP_COSINE_DEFAULTS = {"end_value": 0.0, "exponent": 1.0}


def _cycle_kwargs(i: int, kw: Any) -> dict[str, Any]:
    if not isinstance(kw, Mapping):
        raise TypeError(f"`cosine_kwargs[{i}]` must be a dict, got {kw!r}")
    unknown = sorted(set(kw) - set(_WARMUP_COSINE_ARGS))
    if unknown:
        raise ValueError(
            f"`cosine_kwargs[{i}]` has unknown keys {unknown}; valid keys: "
            f"{list(_WARMUP_COSINE_ARGS)}"
        )
    missing = [k for k in _WARMUP_COSINE_ARGS if k not in kw and k not in _WARMUP_COSINE_DEFAULTS]
    if missing:
        raise ValueError(f"`cosine_kwargs[{i}]` is missing {missing}")
    out = dict(_WARMUP_COSINE_DEFAULTS)
    out.update(kw)
    return out


@schedule_factory
def sgdr_schedule(cosine_kwargs: Iterable[Mapping[str, jax.typing.ArrayLike]]) -> ScheduleFn:
    r"""SGD with warm restarts: warmup-cosine cycles one after another (Optax-compatible).

    Cycle :math:`i` is :func:`warmup_cosine_decay_schedule` with ``cosine_kwargs[i]``, run on
    the count since the cycle began; cycle :math:`i` lasts ``cosine_kwargs[i]["decay_steps"]``
    counts and the last cycle holds its end value.

    Args:
      cosine_kwargs: a non-empty list of dicts of :func:`warmup_cosine_decay_schedule`
        arguments (``init_value``, ``peak_value``, ``warmup_steps``, ``decay_steps``, optional
        ``end_value`` and ``exponent``). The number of cycles is static; every value may be
        traced.

    Returns:
      A :class:`jaxdecay.Schedule`.

    Raises:
      ValueError: an empty list, unknown or missing keys, or invalid values in a cycle.

    Examples:
      >>> import jaxdecay
      >>> cycle = dict(init_value=0.0, peak_value=1.0, warmup_steps=0, decay_steps=10)
      >>> s = jaxdecay.sgdr_schedule([cycle, cycle])
      >>> print(*[f"{float(s(t)):.2f}" for t in (0, 5, 9, 10, 15)])
      1.00 0.50 0.02 1.00 0.50

    References:
      Loshchilov & Hutter, `SGDR: Stochastic Gradient Descent with Warm Restarts
      <https://arxiv.org/abs/1608.03983>`_, 2017
    """
    if isinstance(cosine_kwargs, Mapping) or not isinstance(cosine_kwargs, Iterable):
        raise TypeError(f"`cosine_kwargs` must be a list of dicts, got {cosine_kwargs!r}")
    cycles = [_cycle_kwargs(i, kw) for i, kw in enumerate(cosine_kwargs)]
    if not cycles:
        raise ValueError("`cosine_kwargs` must hold at least one cycle, got []")
    for i, kw in enumerate(cycles):
        with V.renamed_arguments({k: f"cosine_kwargs[{i}][{k!r}]" for k in kw}):
            _check_warmup_cosine(**kw)
    # The cycles run one after another: join_schedules, each cycle from its own count 0. A
    # concrete empty cycle (decay_steps == 0) before the last is never active: dropped, so that
    # the boundaries increase strictly.
    lengths = [kw["decay_steps"] for kw in cycles]
    keep = [
        i
        for i, n in enumerate(lengths)
        if i == len(cycles) - 1 or not (V.is_concrete(n) and np.all(np.asarray(n) == 0))
    ]
    pieces = [warmup_cosine_decay_schedule(**cycles[i]) for i in keep]
    bounds: list = []
    start: Any = 0
    for i in keep[:-1]:
        start = start + lengths[i]
        bounds.append(start)
    joined = join_schedules(pieces, bounds)
    return lambda count: joined(count)


@schedule_factory
@V.scalar_arguments(steps=("first_decay_steps",))
def cosine_restarts(
    init_value: jax.typing.ArrayLike,
    first_decay_steps: jax.typing.ArrayLike,
    t_mul: jax.typing.ArrayLike = 2.0,
    m_mul: jax.typing.ArrayLike = 1.0,
    alpha: jax.typing.ArrayLike = 0.0,
) -> ScheduleFn:
    r"""Cosine decay with warm restarts (SGDR), exactly Keras ``CosineDecayRestarts``.

    Cycle :math:`i = 0, 1, \dots` lasts :math:`T_0 \, t_{mul}^i` counts and starts at
    :math:`S_i = T_0 (t_{mul}^i - 1) / (t_{mul} - 1)` (:math:`T_0 i` when :math:`t_{mul} = 1`).
    In cycle :math:`i`, with :math:`f = (t - S_i) / (T_0 t_{mul}^i)`:

    .. math::
      \eta(t) = I \left[(1 - \alpha)\, m_{mul}^i \, \tfrac12 (1 + \cos \pi f) + \alpha\right]

    The cycle index is computed from a logarithm and then corrected against :math:`S_i`, so a
    count that lands exactly on a restart starts the new cycle (also in float32 and under
    ``jit``).

    Args:
      init_value: the value at count 0.
      first_decay_steps: :math:`T_0 > 0`, the length of the first cycle.
      t_mul: :math:`t_{mul} \ge 1`, the growth of each cycle's length.
      m_mul: :math:`m_{mul} \ge 0`, the factor on each cycle's height.
      alpha: the floor, as a fraction of ``init_value``.

    Returns:
      A :class:`jaxdecay.Schedule`.

    Raises:
      ValueError: ``first_decay_steps <= 0``, ``t_mul < 1``, ``m_mul < 0`` or NaN (concrete
        values only).

    Examples:
      >>> import jaxdecay
      >>> s = jaxdecay.cosine_restarts(1.0, first_decay_steps=10, t_mul=2.0, m_mul=0.5)
      >>> print(*[f"{float(s(t)):.3f}" for t in (0, 5, 10, 20, 30)])
      1.000 0.500 0.500 0.250 0.250

    References:
      Loshchilov & Hutter, `SGDR <https://arxiv.org/abs/1608.03983>`_, 2017; Keras,
      `CosineDecayRestarts
      <https://keras.io/api/optimizers/learning_rate_schedules/cosine_decay_restarts/>`_
    """
    V.check_number("init_value", init_value)
    V.check_positive("first_decay_steps", first_decay_steps)
    V.check_range("t_mul", t_mul, 1.0)
    V.check_nonnegative("m_mul", m_mul)
    V.check_number("alpha", alpha)
    table = _restart_table(first_decay_steps, t_mul)

    def schedule(count):
        out, dt = dtypes(init_value, first_decay_steps, t_mul, m_mul, alpha)
        t_raw = as_count(count)
        t = t_raw.astype(dt)
        T0 = jnp.asarray(first_decay_steps, dt)
        tm = jnp.asarray(t_mul, dt)
        # A concrete t_mul picks one branch at trace time (same values, half the work); a traced
        # one computes both and selects.
        static = float(np.asarray(t_mul)) if V.is_concrete(t_mul) and np.ndim(t_mul) == 0 else None
        geometric = tm != 1
        parts = []
        if static is None or static != 1:
            parts.append(_geometric_cycle(t_raw, t, T0, jnp.where(geometric, tm, 2), table, dt))
        if static is None or static == 1:
            i1, p1, l1 = _equal_cycle(t_raw, T0, first_decay_steps, dt)
            if static is None:
                # Exactly the equal cycles at t_mul == 1, with the derivative of the geometric
                # ones there (d start_i / d t_mul = T0 i (i - 1) / 2, d length_i / d t_mul =
                # T0 i): a traced t_mul of 1 keeps its gradient. (tm - 1) is 0: values unchanged.
                p1 = p1 - (tm - 1) * T0 * (i1 * (i1 - 1) / 2)
                l1 = l1 + (tm - 1) * T0 * i1
            parts.append((i1, p1, l1))
        if len(parts) == 1:
            i, pos, length = parts[0]
        else:
            (ig, pg, lg), (il, pl, ll) = parts
            i = jnp.where(geometric, ig, il)
            pos = jnp.where(geometric, pg, pl)
            length = jnp.where(geometric, lg, ll)
        left = remaining(jnp.clip(pos, 0, length), length)
        # Growth (m_mul > 1) saturates at the largest float instead of overflowing to inf.
        m = saturate(safe_pow(jnp.asarray(m_mul, dt), i))
        a = jnp.asarray(alpha, dt)
        return saturate(jnp.asarray(init_value, dt) * ((1 - a) * m * half_cosine(left) + a), out)

    return schedule


# Restarts tabulated (exactly, in float64) for a concrete T0 and t_mul > 1 up to this many cycles.
_TABLE_MAX = 256


def _restart_table(first_decay_steps, t_mul):
    """The restarts below 2**31 of concrete geometric cycles, or ``None``.

    ``(ceil_starts, floor_starts, frac_starts, lengths)``: cycle ``i`` starts at
    ``T0 (t_mul**i - 1) / (t_mul - 1)``, computed in float64 (exact for the integer ``T0`` and
    ``t_mul`` of PyTorch and Keras), so that an int32 count finds its cycle by comparing
    integers (``t >= ceil(start)``) and its position by an integer difference.
    """
    if not (V.is_concrete(first_decay_steps) and V.is_concrete(t_mul)):
        return None
    if np.ndim(first_decay_steps) or np.ndim(t_mul):
        return None
    T0, tm = float(np.asarray(first_decay_steps)), float(np.asarray(t_mul))
    if tm == 1 or T0 < 1:
        return None
    starts, lengths = [0.0], [T0]
    while starts[-1] + lengths[-1] < V.max_steps() and len(starts) < _TABLE_MAX:
        starts.append(starts[-1] + lengths[-1])
        lengths.append(lengths[-1] * tm)
    if starts[-1] + lengths[-1] < V.max_steps():
        return None  # too many cycles to tabulate (t_mul very close to 1)
    st = np.asarray(starts)
    idt = np.dtype(jax.dtypes.canonicalize_dtype(np.int64))
    # The cycle of an integer count: the number of restarts ceil(S_i) <= t (i >= 1), looked up
    # by piecewise_constant (T0 >= 1, so the ceilings increase strictly).
    index = piecewise_constant(
        np.ceil(st[1:]).astype(np.int64), np.arange(len(st), dtype=np.float64)
    )
    return index, np.floor(st).astype(idt), st - np.floor(st), np.asarray(lengths)


def _geometric_cycle(t_raw, t, T0, tm, table, dt):
    """Cycle index, position and length for cycles growing by ``tm > 1``.

    Cycle ``i`` starts at ``S_i = T0 (tm**i - 1) / (tm - 1)`` and lasts ``T0 tm**i``. The index
    is estimated from a logarithm and corrected by one in either direction by comparing
    ``t (tm - 1)`` with ``T0 (tm**i - 1)``: products, no division (XLA turns ``x / c`` into
    ``x * (1 / c)`` under ``jit``, which put a count exactly on a restart at the end of the
    previous cycle), so a count on a restart starts the new cycle, eager and under ``jit``. For
    a concrete ``T0`` and ``t_mul`` and integer-valued counts the cycle comes from a table of
    the restarts (integer comparisons: exact up to 2**31 - 1).
    """
    g = tm - 1
    i0 = jnp.floor(jnp.log1p(t / T0 * g) / jnp.log(tm))
    i0 = jax.lax.stop_gradient(jnp.maximum(i0, 0))
    tg = t * g
    p = tm**i0  # a power, not exp(i0 * log(tm)): exact for integer t_mul
    up = T0 * (p * tm - 1) <= tg
    down = (T0 * (p - 1) > tg) & (i0 > 0)
    i = i0 + up.astype(dt) - down.astype(dt)
    p = tm**i
    pos = (tg - T0 * (p - 1)) / g  # 0 exactly on a restart
    length = T0 * p
    if table is None:
        return i, pos, length
    index, floor_s, frac_s, lengths = table
    idt = jax.dtypes.canonicalize_dtype(np.int64)
    if jnp.issubdtype(t_raw.dtype, jnp.integer):
        ti, ok = t_raw.astype(idt), True
    else:
        ok = (t == jnp.floor(t)) & (t < float(V.max_steps()))
        ti = jnp.where(ok, t, 0).astype(idt)
    k = index(ti).astype(idt)
    pos_i = offset(ti, jnp.asarray(floor_s)[k], dtype=dt) - jnp.asarray(frac_s, dt)[k]
    len_i = jnp.asarray(lengths, dt)[k]
    if ok is True:
        return k.astype(dt), pos_i, len_i
    return (
        jnp.where(ok, k.astype(dt), i),
        jnp.where(ok, pos_i, pos),
        jnp.where(ok, len_i, length),
    )


def _equal_cycle(t_raw, T0, first_decay_steps, dt):
    """Cycle index, position and length for equal cycles (``t_mul == 1``).

    Exact integer arithmetic for integer-valued counts and ``T0`` (:func:`floor_divmod`).
    """
    i, pos = floor_divmod(t_raw, first_decay_steps, dt)
    return i, pos, T0
