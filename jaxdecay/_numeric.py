"""Numeric helpers the schedule formulas share: result dtype, counts, floor division, phases.

Every helper is written for ``jit`` as well as eager use (XLA rewrites ``x / c`` into
``x * (1 / c)``), and without implicit dtype promotion (``jax_numpy_dtype_promotion="strict"``).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "as_count",
    "float_dtype",
    "floor_div",
    "floor_divmod",
    "fraction",
    "half_cosine",
    "remaining",
    "safe_div",
    "safe_pow",
    "saturate",
]


def float_dtype(*values: Any) -> jnp.dtype:
    """The floating dtype of a schedule's result.

    The widest floating dtype among the hyperparameters given as arrays (NumPy or JAX, traced or
    not); Python numbers and integer arrays are weak and add nothing. Without such an array it is
    JAX's default float: ``float32``, or ``float64`` when x64 is enabled. Never an integer dtype.
    Written without implicit promotion, so it also holds under
    ``jax_numpy_dtype_promotion="strict"``.
    """
    dt = None
    for v in values:
        if v is None or isinstance(v, str | bool):
            continue
        if isinstance(v, int | float) and not isinstance(v, np.generic):
            continue
        d = jax.dtypes.canonicalize_dtype(np.result_type(v) if not hasattr(v, "dtype") else v.dtype)
        if jnp.issubdtype(d, jnp.floating):
            dt = d if dt is None else jax.dtypes.canonicalize_dtype(np.promote_types(dt, d))
    return dt if dt is not None else jnp.result_type(float)


def as_count(count: jax.typing.ArrayLike) -> jax.Array:
    """``count`` as an array, negatives clamped to 0 (keeps an integer dtype when given one)."""
    t = jnp.asarray(count)
    if t.dtype == jnp.bool_:
        t = t.astype(jnp.int32)
    return jnp.maximum(t, 0)


def floor_div(t: jax.Array, s: jax.Array, dtype: Any) -> jax.Array:
    """``floor(t / s)`` as a float of ``dtype``, exact for integer-valued inputs.

    Integer operands use integer floor division. Otherwise the float quotient is corrected by one
    in either direction, so that XLA's rewrite of ``t / s`` into ``t * (1 / s)`` under ``jit``
    cannot move a staircase step by one count.
    """
    t = jnp.asarray(t)
    s = jnp.asarray(s)
    if jnp.issubdtype(t.dtype, jnp.integer) and jnp.issubdtype(s.dtype, jnp.integer):
        s = jnp.maximum(s, 1)
        dt = jax.dtypes.canonicalize_dtype(np.promote_types(t.dtype, s.dtype))
        return jnp.floor_divide(t.astype(dt), s.astype(dt)).astype(dtype)
    tf = t.astype(dtype)
    sf = s.astype(dtype)
    q = jnp.floor(tf / sf)
    q = jnp.where((q + 1) * sf <= tf, q + 1, q)
    q = jnp.where(q * sf > tf, q - 1, q)
    return q


def floor_divmod(t: jax.Array, s: jax.Array, dtype: Any) -> tuple[jax.Array, jax.Array]:
    """``(floor(t / s), t - s * floor(t / s))`` as floats of ``dtype``; the remainder in ``[0, s]``.

    Exact for integer counts and an integer ``s`` (integer arithmetic: float32 cannot hold counts
    past 2**24, and periodic schedules need the exact position in their period); otherwise the
    corrected float floor of :func:`floor_div`, with the remainder clamped to ``[0, s]``.
    """
    t = jnp.asarray(t)
    s = jnp.asarray(s)
    if jnp.issubdtype(t.dtype, jnp.integer) and jnp.issubdtype(s.dtype, jnp.integer):
        dt = jax.dtypes.canonicalize_dtype(np.promote_types(t.dtype, s.dtype))
        ti, si = t.astype(dt), jnp.maximum(s, 1).astype(dt)
        q = jnp.floor_divide(ti, si)
        return q.astype(dtype), (ti - q * si).astype(dtype)
    q = floor_div(t, s, dtype)
    sf = s.astype(dtype)
    return q, jnp.clip(t.astype(dtype) - q * sf, 0, jnp.maximum(sf, 0))


def safe_div(num: jax.Array, den: jax.Array) -> jax.Array:
    """``num / den`` where ``den != 0``, else 0, with a finite gradient on both branches."""
    ok = den != 0
    return jnp.where(ok, num / jnp.where(ok, den, 1), 0)


def fraction(t: jax.Array, begin: Any, length: Any, dtype: Any) -> jax.Array:
    """Progress through a phase, clamped to ``[0, 1]``; a phase of length 0 counts as done."""
    length = jnp.asarray(length, dtype)
    x = jnp.asarray(t, dtype) - jnp.asarray(begin, dtype)
    ok = length > 0
    frac = jnp.where(ok, x / jnp.where(ok, length, 1), jnp.where(x >= 0, 1.0, 0.0))
    return jnp.clip(frac, 0.0, 1.0).astype(dtype)


def safe_pow(base: jax.Array, p: jax.Array) -> jax.Array:
    """``base ** p`` for ``base >= 0``, with ``0 ** p`` = ``0`` (``1`` when ``p == 0``).

    Gradients stay finite at ``base == 0`` (where ``log(base)`` would give NaN).
    """
    pos = base > 0
    safe = jnp.where(pos, base, 1)
    zero = jnp.where(p == 0, 1, 0).astype(safe.dtype)
    return jnp.where(pos, safe**p, zero)


def remaining(x: jax.Array, length: jax.Array) -> jax.Array:
    """``(length - x) / length`` clamped to ``[0, 1]``: the part of a phase still ahead.

    Written as a difference over the length (not ``1 - x / length``) so that it is accurate
    near the end of the phase and identical under ``jit``. A phase of length 0 is over (0).
    """
    ok = length > 0
    r = jnp.where(ok, (length - x) / jnp.where(ok, length, 1), 0)
    return jnp.clip(r, 0, 1)


def half_cosine(left: jax.Array) -> jax.Array:
    """``(1 + cos(pi * (1 - left))) / 2`` computed as ``sin(pi/2 * left) ** 2``.

    ``left`` is the remaining fraction of a cosine phase; this form keeps full relative precision
    at the end of the decay, where ``1 + cos(.)`` would cancel catastrophically in float32.
    """
    return jnp.sin((jnp.pi / 2) * left) ** 2


def saturate(x: jax.Array) -> jax.Array:
    """Clamp to the finite range of ``x``'s dtype (growth schedules never return inf)."""
    big = jnp.finfo(x.dtype).max
    return jnp.clip(x, -big, big)
