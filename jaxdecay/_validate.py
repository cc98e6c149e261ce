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
import numpy as np

__all__ = [
    "is_concrete",
    "concrete_value",
    "check_number",
    "check_positive",
    "check_nonnegative",
    "check_range",
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
        arr = np.asarray(float(x), dtype=np.float64)
    elif isinstance(x, np.ndarray | np.generic | jax.Array):
        arr = np.asarray(x)
        if arr.dtype == np.bool_ or not (
            np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
        ):
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


def check_increasing(name: str, xs: Sequence[Any] | Any, *, strict: bool = True) -> None:
    """Each concrete neighbour pair of ``xs`` increases (strictly by default)."""
    if not is_concrete(xs):
        return
    if isinstance(xs, np.ndarray | jax.Array):
        if np.ndim(xs) != 1:
            raise ValueError(f"`{name}` must be one-dimensional, got shape {np.shape(xs)}")
        vals = [concrete_value(name, v) for v in np.asarray(xs)]
    else:
        vals = [concrete_value(name, v) for v in xs]
    for i in range(len(vals) - 1):
        a, b = vals[i], vals[i + 1]
        if a is None or b is None:
            continue
        if (strict and np.any(b <= a)) or (not strict and np.any(b < a)):
            word = "strictly increasing" if strict else "non-decreasing"
            shown = [None if v is None else v.tolist() for v in vals]
            raise ValueError(
                f"`{name}` must be {word}, got {shown} (entries {i} and {i + 1}: {a.tolist()}, "
                f"{b.tolist()})"
            )


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


def check_same_length(name_a: str, a: Sized, name_b: str, b: Sized, offset: int = 0) -> None:
    """``len(a) == len(b) + offset``."""
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


Sized = Any
Check = Callable[[str, Any], None]
