"""Checks on the range and kind of scalar hyperparameters, run before the constructor's own.

:mod:`jaxdecay._validate` checks values (positive, finite, in a range). This module refuses,
at construction and with the argument's name, what would only fail later, at call time:

- ``Decimal`` and ``Fraction`` values (``TypeError``; JAX refuses them at call time);
- a Python integer too large for a float (``10**400``: ``ValueError``, not ``OverflowError``);
- a count-valued argument (a number of steps) ``>= 2**31``: counts are int32, so such a phase
  would never end inside the count domain, and ``int32`` arithmetic on it would overflow.

Tracers pass through untouched, as everywhere in jaxdecay.
"""

from __future__ import annotations

import contextlib
import decimal
import fractions
import functools
import inspect
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import numpy as np
from jax.core import Tracer

__all__ = ["MAX_STEPS", "check_scalar", "check_steps", "scalar_arguments", "renamed_arguments"]

#: Count-valued arguments must be below this (counts are int32: ``[0, 2**31 - 1]``).
MAX_STEPS = 2**31

F = TypeVar("F", bound=Callable[..., Any])


def check_scalar(name: str, x: Any) -> None:
    """``x`` is a real number of a kind the schedules compute with.

    Arrays are accepted (a schedule of an array hyperparameter broadcasts with the count).

    Raises:
      TypeError: ``Decimal`` or ``Fraction`` (``float()`` would silently round them, and JAX
        refuses them at call time).
      ValueError: a Python integer too large for a float (``10**400``).
    """
    if x is None or isinstance(x, Tracer):
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


def check_steps(name: str, x: Any, *, signed: bool = False) -> None:
    """A count-valued argument (concrete) is below ``2**31`` (in magnitude when ``signed``)."""
    check_scalar(name, x)
    if x is None or isinstance(x, Tracer) or isinstance(x, bool | str):
        return
    try:
        v = float(np.asarray(x, dtype=np.float64)) if not isinstance(x, int) else float(x)
    except (TypeError, ValueError):
        return  # not a number: the constructor's own check names it
    if np.isnan(v):
        return
    if (abs(v) if signed else v) >= MAX_STEPS:
        raise ValueError(
            f"`{name}` must be < 2**31 (counts are int32, so such a phase would never end), "
            f"got {x!r}"
        )


def _is_scalar_annotation(annotation: Any) -> bool:
    text = annotation if isinstance(annotation, str) else repr(annotation)
    return "ArrayLike" in text and not re.search(r"Sequence|Iterable|Mapping|list|dict", text)


def scalar_arguments(steps: tuple[str, ...] = (), signed: tuple[str, ...] = ()) -> Callable[[F], F]:
    """Decorate a builder: every ``ArrayLike`` argument passes :func:`check_scalar`, and the
    count-valued ones (``steps``, ``signed``) are below ``2**31``.

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
            for n in steps:
                if n in bound.arguments:
                    check_steps(n, bound.arguments[n])
            for n in signed:
                if n in bound.arguments:
                    check_steps(n, bound.arguments[n], signed=True)
            return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return deco


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
