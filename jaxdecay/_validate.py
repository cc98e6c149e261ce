"""Argument checks shared by every constructor: the one place that says what is valid.

Every check runs only when the value is concrete (a Python number, a NumPy value or a concrete JAX
array: :func:`is_concrete`). Tracers pass through untouched: inside `jax.jit`/`jax.vmap`/`jax.grad`
nothing is checked, which is what makes every hyperparameter traceable. Every error has the same
shape::

    ValueError: `decay_steps` must be > 0, got 0

Two kinds of check:

- on the *kind and range* of a scalar, run before a constructor's own checks by the
  :func:`scalar_arguments` decorator: ``Decimal`` and ``Fraction`` values (``TypeError``; JAX
  refuses them at call time), a Python integer too large for a float (``10**400``:
  ``ValueError``, not ``OverflowError``), and a count-valued argument (a number of steps) at or
  above :func:`max_steps`: counts are int32 (int64 under ``jax_enable_x64``), so such a phase
  would never end inside the count domain, and integer arithmetic on it would overflow. A
  schedule built under x64 with such an argument refuses, at call time, to run without x64;
- on *values* (positive, finite, in a range, increasing): ``check_*``.

:func:`renamed_arguments` lets a migration constructor (``compat.torch.StepLR``) report errors
with its own argument names.
"""

from __future__ import annotations

import contextlib
import decimal
import fractions
import functools
import inspect
import math
import numbers
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

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
    "check_scalar",
    "check_steps",
    "max_steps",
    "scalar_arguments",
    "renamed_arguments",
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


# --------------------------------------------------------------------------------------------
# The kind and range of scalar hyperparameters
# --------------------------------------------------------------------------------------------

F = TypeVar("F", bound=Callable[..., Any])


def check_scalar(name: str, x: Any) -> None:
    """``x`` is a real number of a kind the schedules compute with.

    Arrays are accepted (a schedule of an array hyperparameter broadcasts with the count).

    Raises:
      TypeError: ``Decimal`` or ``Fraction`` (``float()`` would silently round them, and JAX
        refuses them at call time).
      ValueError: a Python integer too large for a float (``10**400``).
    """
    if x is None or not is_concrete(x):
        return
    if isinstance(x, decimal.Decimal | fractions.Fraction):
        raise TypeError(
            f"`{name}` must be a float, an int or an array, got {type(x).__name__} {x!r} "
            "(convert it with float())"
        )
    if isinstance(x, int) and not isinstance(x, bool):
        try:
            float(x)
        except OverflowError:
            raise ValueError(
                f"`{name}` is too large for a float, got an integer of {len(str(abs(x)))} digits"
            ) from None
        return


def max_steps() -> int:
    """The bound on count-valued arguments: one past the largest count (``2**31``; ``2**63``
    under ``jax_enable_x64``, where counts are int64)."""
    return int(np.iinfo(jax.dtypes.canonicalize_dtype(np.int64)).max) + 1


def _bits(limit: int) -> str:
    return f"2**{limit.bit_length() - 1}"


def _step_values(x: Any) -> np.ndarray | None:
    """A concrete count-valued argument as float64 values, or None (traced, ``None``, a bool or
    a string, or not a number)."""
    if x is None or not is_concrete(x) or isinstance(x, bool | str):
        return None
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        return None


def check_steps(name: str, x: Any, *, signed: bool = False) -> None:
    """A count-valued argument (concrete) is below :func:`max_steps` (in magnitude when
    ``signed``): such a phase ends inside the counts' range, and the integer arithmetic on it
    does not overflow."""
    check_scalar(name, x)
    a = _step_values(x)
    if a is None or a.size != 1:
        return  # traced, not a number (the constructor's own check names it), or an array
    v = float(a.reshape(()))
    if np.isnan(v):
        return
    limit = max_steps()
    if (abs(v) if signed else v) >= limit:
        kind = "int64" if limit > 2**31 else "int32 without jax_enable_x64"
        raise ValueError(
            f"`{name}` must be < {_bits(limit)} (counts are {kind}, so such a phase would "
            f"never end), got {x!r}"
        )


def _is_scalar_annotation(annotation: Any) -> bool:
    text = annotation if isinstance(annotation, str) else repr(annotation)
    return "ArrayLike" in text and not re.search(r"Sequence|Iterable|Mapping|list|dict", text)


def scalar_arguments(steps: tuple[str, ...] = (), signed: tuple[str, ...] = ()) -> Callable[[F], F]:
    """Decorate a builder: every ``ArrayLike`` argument passes :func:`check_scalar`, and the
    count-valued ones (``steps``, ``signed``) are below :func:`max_steps`.

    The checks run before the builder's own, so its value checks never see a ``Decimal`` or an
    integer that overflows a float.
    """

    def deco(fn: F) -> F:
        sig = inspect.signature(fn)
        scalars = [n for n, p in sig.parameters.items() if _is_scalar_annotation(p.annotation)]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            bound = sig.bind(*args, **kwargs)
            for n in scalars:
                if n in bound.arguments:
                    check_scalar(n, bound.arguments[n])
            long: dict[str, Any] = {}  # count-valued arguments that need int64 counts
            for n in (*steps, *signed):
                if n in bound.arguments:
                    x = bound.arguments[n]
                    check_steps(n, x, signed=n in signed)
                    if _needs_int64(x):
                        long[n] = x
            schedule = fn(*args, **kwargs)
            return _refusing_int32(schedule, long) if long else schedule

        wrapper.step_arguments = (*steps, *signed)  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return deco


def _needs_int64(x: Any) -> bool:
    """A concrete count-valued argument at or above ``2**31`` (valid only under x64)."""
    a = _step_values(x)
    return a is not None and bool(np.any(np.abs(a) >= 2**31))


def _refusing_int32(schedule: Callable[[Any], Any], long: Mapping[str, Any]) -> Callable:
    """``schedule``, refusing to be called while counts are int32 (x64 off since construction).

    Its phases end beyond the int32 counts, and its integer arithmetic would overflow: the call
    raises (at trace time under ``jit``: the check reads the configuration, not the count).
    """

    @functools.wraps(schedule)
    def checked(count: Any) -> Any:
        if max_steps() <= 2**31:
            name, x = next(iter(long.items()))
            raise ValueError(
                f"`{name}`={x!r} needs int64 counts: this schedule was built under "
                "jax_enable_x64 and is called without it (counts are int32); enable x64 again "
                "or use a value < 2**31"
            )
        return schedule(count)

    return checked


@contextlib.contextmanager
def renamed_arguments(names: Mapping[str, str]) -> Iterator[None]:
    """Re-raise a ``ValueError``/``TypeError`` with the caller's argument names.

    A migration constructor (``compat.torch.StepLR(lr, step_size)``) delegates to a jaxdecay
    constructor (``step_decay(init_value, step_size)``); an error must name ``lr``, the argument
    the user wrote, not ``init_value``. Names appear in messages as ```name```.
    """
    try:
        yield
    except (ValueError, TypeError) as e:
        msg = str(e)
        new = re.sub(r"`([A-Za-z_][A-Za-z0-9_]*)`", lambda m: f"`{names.get(m[1], m[1])}`", msg)
        if new == msg:
            raise
        raise type(e)(new) from None
