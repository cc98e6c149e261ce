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
    "compute_dtype",
    "dtypes",
    "offset",
    "ramp",
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


def compute_dtype(dtype: Any) -> jnp.dtype:
    """The dtype a schedule computes in: ``dtype`` promoted to at least ``float32``.

    Counts and step arithmetic never run in ``float16``/``bfloat16`` because a hyperparameter is
    given in that dtype (float16 holds integers only up to 2048); the result is cast back to the
    hyperparameters' dtype (:func:`float_dtype`) at the end.
    """
    return jax.dtypes.canonicalize_dtype(np.promote_types(np.dtype(dtype), np.float32))


def dtypes(*values: Any) -> tuple[jnp.dtype, jnp.dtype]:
    """``(result dtype, compute dtype)`` of a schedule with these hyperparameters."""
    out = float_dtype(*values)
    return out, compute_dtype(out)


def _int_dtype() -> Any:
    return jax.dtypes.canonicalize_dtype(np.int64)  # int32, or int64 under x64


def _as_integer(x: jax.Array, wdt: Any, idt: Any) -> tuple[jax.Array, Any]:
    """``x`` as an integer of ``idt`` and whether that is exact (a bool array, or ``True``)."""
    if jnp.issubdtype(x.dtype, jnp.integer):
        return x.astype(idt), True
    big = float(np.nextafter(np.asarray(np.iinfo(idt).max, wdt), 0))  # largest float < max
    xf = x.astype(wdt)
    ok = (xf == jnp.floor(xf)) & (jnp.abs(xf) <= big)
    return jnp.where(ok, xf, 0).astype(idt), ok


def _wide(*xs: jax.Array) -> Any:
    fl = [x.dtype for x in xs if jnp.issubdtype(x.dtype, jnp.floating)]
    return compute_dtype(np.result_type(*fl) if fl else np.float32)


def offset(t: jax.typing.ArrayLike, *begins: jax.typing.ArrayLike, dtype: Any) -> jax.Array:
    """``t - begins[0] - begins[1] - ...`` as a float of ``dtype``, exact near the boundaries.

    When the count and every ``begin`` are integer-valued (an integer dtype, or an integral float
    such as ``100.0``, traced or not), the difference is taken in integer arithmetic, so a phase
    boundary at ``2**30 + 65`` is met exactly although float32 cannot hold that count. A
    negative difference is only guaranteed to be negative (it saturates at ``-1`` before each
    further subtraction: no integer overflow). Otherwise the difference is taken in floating
    point (at least float32).
    """
    t = jnp.asarray(t)
    bs = [jnp.asarray(b) for b in begins]
    wdt = _wide(t, *bs)
    idt = _int_dtype()
    acc, ok = _as_integer(t, wdt, idt)
    flt = t.astype(wdt)
    for i, b in enumerate(bs):
        bi, bok = _as_integer(b, wdt, idt)
        if i:
            acc = jnp.maximum(acc, -1)
        acc = acc - bi
        ok = ok & bok if not (ok is True and bok is True) else True
        flt = flt - b.astype(wdt)
    flt = flt.astype(dtype)
    # The exact value, with the derivative of the float difference (d/dbegin = -1): a float
    # length such as a warmup of 100.0 steps keeps its gradient (docs/guides/hypergradients.md).
    exact = _with_gradient_of(acc.astype(dtype), flt)
    return exact if ok is True else jnp.where(ok, exact, flt)


def _with_gradient_of(value: jax.Array, like: jax.Array) -> jax.Array:
    """``value`` in the forward pass, the derivative of ``like`` in the backward pass.

    ``like`` equals ``value`` up to rounding (the same quantity computed in floating point), so
    ``like - stop_gradient(like)`` is exactly ``0`` and the value is ``value`` to the last bit.
    """
    return value + (like - jax.lax.stop_gradient(like))


def _divmod(t: jax.Array, s: jax.Array) -> tuple[jax.Array, jax.Array, Any]:
    """Exact ``floor(t / s)`` (unsigned integer) and ``t mod s`` (float), for ``t >= 0``.

    Integer arithmetic (``uint32``, ``uint64`` under x64: no overflow for counts up to 2**31 - 1
    and periods up to 2**32 - 1) when ``t`` and ``s`` are integer-valued; otherwise a float
    floor (at least float32) corrected by one in either direction with products only, so that
    ``jit`` (which rewrites ``t / s`` as ``t * (1 / s)``) and eager agree.
    """
    wdt = _wide(t, s)
    udt = jax.dtypes.canonicalize_dtype(np.uint64)
    if jnp.issubdtype(t.dtype, jnp.integer):
        ti, tok = jnp.maximum(t, 0).astype(udt), True
    else:
        big = float(np.nextafter(np.asarray(np.iinfo(udt).max, wdt), 0))
        tf0 = jnp.maximum(t.astype(wdt), 0)
        tok = tf0 == jnp.floor(tf0)
        ti = jnp.where(tok, jnp.minimum(tf0, big), 0).astype(udt)
    if jnp.issubdtype(s.dtype, jnp.integer):
        si, sok = jnp.maximum(s, 1).astype(udt), True
    else:
        big = float(np.nextafter(np.asarray(np.iinfo(udt).max, wdt), 0))
        sf0 = s.astype(wdt)
        sok = (sf0 == jnp.floor(sf0)) & (sf0 >= 1) & (sf0 <= big)
        si = jnp.where(sok, sf0, 1).astype(udt)
    qi = ti // si
    ri = (ti - qi * si).astype(wdt)
    if tok is True and sok is True:
        return qi, ri, True
    tf = jnp.maximum(t.astype(wdt), 0)
    sf = jnp.maximum(s.astype(wdt), jnp.finfo(wdt).tiny)
    # The exact remainder with the derivative of t - q * s (q piecewise constant): d/ds = -q.
    ri = _with_gradient_of(ri, tf - jax.lax.stop_gradient(qi.astype(wdt)) * sf)
    q = jnp.floor(tf / sf)
    q = jnp.where((q + 1) * sf <= tf, q + 1, q)
    q = jnp.where(q * sf > tf, q - 1, q)
    r = jnp.clip(tf - q * sf, 0, sf)
    ok = tok & sok
    big_q = float(np.nextafter(np.asarray(np.iinfo(udt).max, wdt), 0))
    qf = jnp.clip(q, 0, big_q).astype(udt)
    return jnp.where(ok, qi, qf), jnp.where(ok, ri, r), ok


def floor_divmod(
    t: jax.typing.ArrayLike, s: jax.typing.ArrayLike, dtype: Any
) -> tuple[jax.Array, jax.Array]:
    """``(floor(t / s), t - s * floor(t / s))`` for a count ``t >= 0`` and a step ``s > 0``.

    The one floor division of the library (staircases, cycles, periods, epochs). Exact for
    integer-valued counts up to 2**31 - 1 (also float counts, which are integers above 2**24) and
    integer-valued steps, given as integers or floats (``100`` or ``100.0``), traced or not, in
    eager mode and under ``jit`` alike, without int32 overflow. Otherwise a float floor (at least
    float32) corrected by one in either direction. The quotient comes back in ``dtype`` (float,
    or an integer dtype: clamped to its range), the remainder, in ``[0, s]``, as a float of
    ``dtype``; for an integer ``dtype`` and integer ``t`` and ``s`` both are exact integers.
    """
    t, s = jnp.asarray(t), jnp.asarray(s)
    if jnp.issubdtype(np.dtype(dtype), jnp.integer) and all(
        jnp.issubdtype(x.dtype, jnp.integer) for x in (t, s)
    ):
        udt = jax.dtypes.canonicalize_dtype(np.uint64)
        ti, si = jnp.maximum(t, 0).astype(udt), jnp.maximum(s, 1).astype(udt)
        q = ti // si
        return q.astype(dtype), (ti - q * si).astype(dtype)  # the remainder is < s: fits
    q, r, _ = _divmod(t, s)
    if jnp.issubdtype(np.dtype(dtype), jnp.integer):
        top = np.iinfo(np.dtype(dtype)).max
        q = jnp.minimum(q, np.asarray(top, q.dtype))
        return q.astype(dtype), r
    return q.astype(dtype), r.astype(dtype)


def floor_div(t: jax.typing.ArrayLike, s: jax.typing.ArrayLike, dtype: Any) -> jax.Array:
    """``floor(t / s)`` in ``dtype``, exactly as :func:`floor_divmod` computes it."""
    return floor_divmod(t, s, dtype)[0]


def ramp(a: jax.Array, b: jax.Array, x: jax.Array, length: jax.Array) -> jax.Array:
    """Linear from ``a`` (at ``x <= 0``) to ``b`` (at ``x >= length``); ``length == 0`` gives ``b``.

    The one linear interpolation of the library (warmups, linear decays, one-cycle phases).
    Computed as ``a * (length - x) / length + b * x / length`` with both fractions clamped to
    ``[0, 1]``: full relative precision at both ends (``linear_schedule(0.0, 0.1, 100000)(1)`` is
    ``1e-6`` to the last bit, where ``b + (a - b) * (1 - x / length)`` loses three digits), the
    end values exactly, and the same value under ``jit``.
    """
    ok = length > 0
    den = jnp.where(ok, length, 1)
    xc = jnp.clip(x, 0, jnp.maximum(length, 0))
    p = jnp.where(ok, jnp.clip(xc / den, 0, 1), 1)
    left = jnp.where(ok, jnp.clip((length - xc) / den, 0, 1), 0)
    return a * left + b * p


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


def saturate(x: jax.Array, dtype: Any = None) -> jax.Array:
    """``x`` clamped to the finite range of ``dtype`` (default: ``x``'s) and cast to it.

    Growth schedules never return inf: a value computed in float32 for a float16 or bfloat16
    result is clamped to that dtype's largest finite value before it is rounded to it. NaN stays
    NaN.
    """
    dtype = x.dtype if dtype is None else jnp.dtype(dtype)
    big = float(jnp.finfo(dtype).max)  # exact in x's (wider or equal) dtype
    return jnp.clip(x, -big, big).astype(dtype)
