"""Argument checks shared by every constructor.

Every check runs only when the value is concrete (a Python number, a NumPy value or a concrete JAX
array). Tracers pass through untouched: inside `jax.jit`/`jax.vmap`/`jax.grad` nothing is checked,
which is what makes every hyperparameter traceable. Every error has the same shape::

    ValueError: `decay_steps` must be > 0, got 0
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.core
import jax.numpy as jnp
import numpy as np

__all__ = [
    "is_concrete",
    "concrete_value",
    "check_entries",
    "check_number",
    "check_positive",
    "check_nonnegative",
    "check_range",
    "check_bool",
    "check_sequence",
    "check_increasing",
    "check_choice",
    "check_callable",
    "check_schedule_list",
    "check_same_length",
]


def _fmt(x: Any) -> str:
    if isinstance(x, np.ndarray):
        if x.ndim == 0:
            return repr(x.item())
        return repr(x.tolist())
    return repr(x)


def _is_real(dtype: Any) -> bool:
    """An integer or floating dtype, JAX's own (``bfloat16``, ``float8_*``) included."""
    return dtype != np.bool_ and (
        jnp.issubdtype(dtype, jnp.integer) or jnp.issubdtype(dtype, jnp.floating)
    )


def is_concrete(x: Any) -> bool:
    """True when ``x`` holds a value known now (not a tracer)."""
    return not isinstance(x, jax.core.Tracer)


def concrete_value(name: str, x: Any) -> np.ndarray | None:
    """``x`` as a float64 NumPy array, or ``None`` when ``x`` is traced.

    Raises:
      TypeError: ``x`` is not a number, a NumPy value or a JAX array.
      ValueError: ``x`` contains NaN.
    """
    if not is_concrete(x):
        return None
    if isinstance(x, bool | np.bool_):
        raise TypeError(f"`{name}` must be a number, got {x!r}")
    if isinstance(x, numbers.Number):
        if isinstance(x, complex):
            raise TypeError(f"`{name}` must be a real number, got {x!r}")
        arr = np.asarray(x, dtype=np.float64)
    elif isinstance(x, np.ndarray | np.generic | jax.Array):
        arr = np.asarray(x)
        if not _is_real(arr.dtype):
            raise TypeError(f"`{name}` must be a real number or array, got dtype {arr.dtype}")
        arr = arr.astype(np.float64)
    else:
        raise TypeError(f"`{name}` must be a number or an array, got {x!r}")
    if np.any(np.isnan(arr)):
        raise ValueError(f"`{name}` must not be NaN, got {_fmt(np.asarray(x))}")
    return arr


def check_number(name: str, x: Any, *, finite: bool = True) -> None:
    """A real number (or array), not NaN and, by default, not infinite."""
    v = concrete_value(name, x)
    if v is not None and finite and not np.all(np.isfinite(v)):
        raise ValueError(f"`{name}` must be finite, got {_fmt(np.asarray(x))}")


def check_positive(name: str, x: Any) -> None:
    """``x > 0`` (and finite)."""
    check_number(name, x)
    v = concrete_value(name, x)
    if v is not None and np.any(v <= 0):
        raise ValueError(f"`{name}` must be > 0, got {_fmt(np.asarray(x))}")


def check_nonnegative(name: str, x: Any) -> None:
    """``x >= 0`` (and finite)."""
    check_number(name, x)
    v = concrete_value(name, x)
    if v is not None and np.any(v < 0):
        raise ValueError(f"`{name}` must be >= 0, got {_fmt(np.asarray(x))}")


def check_range(
    name: str,
    x: Any,
    low: float = -math.inf,
    high: float = math.inf,
    *,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> None:
    """``low <= x <= high`` (strict where ``*_inclusive`` is False), and finite."""
    check_number(name, x)
    v = concrete_value(name, x)
    if v is None:
        return
    bad_low = np.any(v < low) if low_inclusive else np.any(v <= low)
    bad_high = np.any(v > high) if high_inclusive else np.any(v >= high)
    if bad_low or bad_high:
        lo = "[" if low_inclusive else "("
        hi = "]" if high_inclusive else ")"
        raise ValueError(
            f"`{name}` must be in {lo}{low:g}, {high:g}{hi}, got {_fmt(np.asarray(x))}"
        )


def _entries(name: str, xs: Any) -> tuple[np.ndarray, np.ndarray, Callable[[int], Any]]:
    """The entries of a list or 1-D array as float64 (traced ones as 0), which are concrete, and
    a function giving entry ``i`` as the caller wrote it (for messages). One NumPy conversion for
    a list of numbers or a concrete array; a per-entry conversion only when some entry is traced.
    """
    if isinstance(xs, np.ndarray | jax.Array) and is_concrete(xs):
        arr = np.asarray(xs).reshape(-1)
        if not _is_real(arr.dtype):
            raise TypeError(f"`{name}` must be a real number or array, got dtype {arr.dtype}")
        return arr.astype(np.float64), np.ones(arr.shape, bool), lambda i: arr[i].item()
    items = list(xs) if isinstance(xs, list | tuple) else [xs]
    if all(type(x) is int or type(x) is float for x in items):
        vals = np.asarray(items, np.float64).reshape(-1)
        return vals, np.ones(vals.shape, bool), items.__getitem__
    known = np.asarray([is_concrete(x) for x in items], bool)
    vals = np.zeros(len(items))
    for i, x in enumerate(items):
        v = concrete_value(f"{name}[{i}]", x)
        if v is not None:
            if v.ndim != 0:
                raise TypeError(f"`{name}[{i}]` must be a scalar, got shape {v.shape}")
            vals[i] = v
    return vals, known, lambda i: np.asarray(items[i]).item()


def check_entries(
    name: str,
    xs: Any,
    *,
    low: float | None = None,
    finite: bool = True,
    increasing: bool = False,
    labels: Sequence[Any] | None = None,
) -> None:
    """Check every concrete entry of a list or 1-D array at once (vectorised).

    In order, for each entry: not NaN, finite (unless ``finite=False``), ``>= low``; the first
    entry that fails is named (``boundaries[3]``, or ``name[label]`` with ``labels``). Then, with
    ``increasing``, each concrete neighbour pair must increase strictly. Traced entries pass.
    """
    vals, known, entry = _entries(name, xs)

    def where(i: int) -> str:
        return f"`{name}[{labels[i]!r}]`" if labels is not None else f"`{name}[{i}]`"

    checks: list[tuple[np.ndarray, str]] = [(np.isnan(vals), "must not be NaN")]
    if finite:
        checks.append((np.isinf(vals), "must be finite"))
    if low is not None:
        checks.append((vals < low, f"must be >= {low:g}"))
    bad = [known & mask for mask, _ in checks]
    if any(b.any() for b in bad):
        i = min(int(np.argmax(b)) for b in bad if b.any())
        msg = next(m for b, (_, m) in zip(bad, checks, strict=True) if b[i])
        raise ValueError(f"{where(i)} {msg}, got {entry(i)!r}")
    if increasing and vals.size > 1:
        pair = known[:-1] & known[1:] & (vals[1:] <= vals[:-1])
        if pair.any():
            i = int(np.argmax(pair))
            shown = repr(vals.tolist()) if vals.size <= 20 else f"{vals.size} entries"
            raise ValueError(
                f"`{name}` must be strictly increasing, got {shown} (entries {i} and {i + 1}: "
                f"{vals[i]!r}, {vals[i + 1]!r})"
            )


def check_increasing(name: str, xs: Any) -> None:
    """Each concrete neighbour pair of the list or 1-D array ``xs`` increases strictly."""
    check_entries(name, xs, finite=False, increasing=True)


def check_choice(name: str, x: Any, choices: Sequence[str]) -> None:
    """``x`` is one of the strings ``choices``."""
    if not isinstance(x, str) or x not in choices:
        raise ValueError(f"`{name}` must be one of {list(choices)}, got {x!r}")


def check_bool(name: str, x: Any) -> None:
    """A static Python (or NumPy) boolean."""
    if not isinstance(x, bool | np.bool_):
        raise TypeError(f"`{name}` must be a bool, got {x!r}")


def check_callable(name: str, x: Any) -> None:
    """``x`` is callable (a schedule)."""
    if not callable(x):
        raise TypeError(f"`{name}` must be a schedule (a callable), got {x!r}")


def check_schedule_list(name: str, xs: Any, *, min_len: int = 1) -> None:
    """A list/tuple of at least ``min_len`` callables."""
    if not isinstance(xs, list | tuple):
        raise TypeError(f"`{name}` must be a list of schedules, got {xs!r}")
    if len(xs) < min_len:
        raise ValueError(f"`{name}` must hold at least {min_len} schedule(s), got {len(xs)}")
    for i, s in enumerate(xs):
        check_callable(f"{name}[{i}]", s)


def check_same_length(name_a: str, a: Any, name_b: str, b: Any, offset: int = 0) -> None:
    """``len(a) == len(b) + offset`` (lists, tuples or arrays: checked after `check_sequence`)."""
    if len(a) != len(b) + offset:
        extra = f" + {offset}" if offset else ""
        raise ValueError(
            f"`{name_a}` must have len(`{name_b}`){extra} = {len(b) + offset} entries, got {len(a)}"
        )


def check_sequence(name: str, xs: Any, *, min_len: int = 0) -> None:
    """A list, tuple or 1-D array (its length is static)."""
    if isinstance(xs, list | tuple):
        n = len(xs)
    elif isinstance(xs, np.ndarray | jax.Array) and np.ndim(xs) == 1:
        n = xs.shape[0]
    else:
        raise TypeError(f"`{name}` must be a list or a 1-D array, got {xs!r}")
    if n < min_len:
        raise ValueError(f"`{name}` must have at least {min_len} entries, got {n}")
