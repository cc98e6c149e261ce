"""Unconstrained parameters for a schedule: what an outer optimiser steps.

A schedule is a pytree, so ``jax.grad`` of a loss with respect to it is a schedule-shaped pytree
of gradients. An optimiser that steps those hyperparameters directly can leave their domain (a
negative learning rate, a decay rate above 1). :func:`unconstrained` maps chosen arguments to
real numbers through a fixed bijection, and gives back the function that rebuilds the schedule:

.. code-block:: python

    params, constrain = jaxdecay.unconstrained(schedule, {"decay_rate": "sigmoid"})
    loss, grads = jax.value_and_grad(lambda p: val_loss(constrain(p)))(params)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeAlias

import jax
import jax.numpy as jnp
import numpy as np

from jaxdecay import _core
from jaxdecay import _validate as V

__all__ = ["unconstrained", "Constraint"]

Constraint: TypeAlias = Literal["softplus", "exp", "sigmoid", "identity"] | tuple[float, float]
"""A bijection from the real line onto an argument's domain (see :func:`unconstrained`)."""

_NAMED = ("softplus", "exp", "sigmoid", "identity")


# --------------------------------------------------------------------------------------------
# Arguments by path: "decay_rate", "schedule.decay_rate", "schedules.1.init_value".
# --------------------------------------------------------------------------------------------


def _is_number(v: Any) -> bool:
    if isinstance(v, bool | np.bool_) or v is None:
        return False
    if isinstance(v, int | float | np.generic | np.ndarray | jax.Array):
        return jnp.issubdtype(jnp.result_type(v), jnp.number)
    if isinstance(v, list | tuple):
        return len(v) > 0 and all(_is_number(e) for e in v)
    return False


def _children(v: Any) -> list[tuple[str, Any]]:
    if isinstance(v, _core.Schedule):
        return list(v.arguments.items())
    if isinstance(v, dict):
        return [(str(k), e) for k, e in v.items()]
    if isinstance(v, list | tuple) and not _is_number(v):
        return [(str(i), e) for i, e in enumerate(v)]
    return []


def numeric_arguments(schedule: _core.Schedule) -> dict[str, Any]:
    """Every numeric argument of ``schedule`` and of the schedules inside it, by dotted path.

    A list of numbers (``boundaries``, ``values``) is one entry; nested schedules, lists of
    schedules and dicts (``sgdr_schedule``'s ``cosine_kwargs``) are walked into. ``None`` and
    strings are left out.
    """
    out: dict[str, Any] = {}

    def walk(v: Any, prefix: str) -> None:
        for k, e in _children(v):
            path = f"{prefix}{k}"
            if _is_number(e):
                out[path] = e
            else:
                walk(e, path + ".")

    walk(schedule, "")
    return out


def _replace(v: Any, parts: list[str], new: Any) -> Any:
    if not parts:
        return new
    head, rest = parts[0], parts[1:]
    if isinstance(v, _core.Schedule):
        args = v.arguments
        args[head] = _replace(args[head], rest, new)
        passed = tuple(v.passed_arguments) + ((head,) if head not in v.passed_arguments else ())
        return _core.rebuild(v.name, args, passed)
    if isinstance(v, dict):
        key = next(k for k in v if str(k) == head)
        return {**v, key: _replace(v[key], rest, new)}
    items = list(v)
    items[int(head)] = _replace(items[int(head)], rest, new)
    return type(v)(items)


def with_arguments(schedule: _core.Schedule, values: Mapping[str, Any]) -> _core.Schedule:
    """``schedule`` rebuilt with the arguments at the given paths replaced (constructors re-run)."""
    for path, value in values.items():
        schedule = _replace(schedule, path.split("."), value)
    return schedule


# --------------------------------------------------------------------------------------------
# The bijections.
# --------------------------------------------------------------------------------------------


def _forward(c: Constraint, u: jax.Array) -> jax.Array:
    if c == "softplus":
        return jax.nn.softplus(u)
    if c == "exp":
        return jnp.exp(u)
    if c == "sigmoid":
        return jax.nn.sigmoid(u)
    if c == "identity":
        return u
    low, high = c
    return low + (high - low) * jax.nn.sigmoid(u)


def _inverse(c: Constraint, x: jax.Array) -> jax.Array:
    if c == "softplus":  # log(expm1(x)), stable for small and large x
        return x + jnp.log(-jnp.expm1(-x))
    if c == "exp":
        return jnp.log(x)
    if c == "sigmoid":
        return jnp.log(x) - jnp.log1p(-x)
    if c == "identity":
        return x
    low, high = c
    p = (x - low) / (high - low)
    return jnp.log(p) - jnp.log1p(-p)


def _domain(c: Constraint) -> str:
    if c in ("softplus", "exp"):
        return "(0, inf)"
    if c == "sigmoid":
        return "(0, 1)"
    if c == "identity":
        return "(-inf, inf)"
    return f"({c[0]!r}, {c[1]!r})"


def _check_constraint(path: str, c: Any) -> Constraint:
    if isinstance(c, str):
        if c not in _NAMED:
            raise ValueError(
                f"constraint for `{path}` must be one of {', '.join(map(repr, _NAMED))} or a "
                f"(low, high) pair, got {c!r}"
            )
        return c  # type: ignore[return-value]
    if isinstance(c, tuple) and len(c) == 2 and all(isinstance(e, int | float) for e in c):
        low, high = float(c[0]), float(c[1])
        if not (np.isfinite(low) and np.isfinite(high) and low < high):
            raise ValueError(
                f"constraint for `{path}` must be a finite (low, high) with low < high, got {c!r}"
            )
        return (low, high)
    raise TypeError(
        f"constraint for `{path}` must be one of {', '.join(map(repr, _NAMED))} or a (low, high) "
        f"pair of numbers, got {c!r}"
    )


def unconstrained(
    schedule: _core.Schedule, constraints: Mapping[str, Constraint]
) -> tuple[dict[str, jax.Array], Callable[[Mapping[str, jax.Array]], _core.Schedule]]:
    r"""Real-valued parameters for some of a schedule's arguments, and the way back.

    Each named argument :math:`x` gets an unconstrained parameter :math:`u = g^{-1}(x)`, where
    :math:`g` maps the real line onto the argument's domain:

    .. math::

      \begin{array}{ll}
        \texttt{"softplus"}: & x = \log(1 + e^u) \in (0, \infty) \\
        \texttt{"exp"}: & x = e^u \in (0, \infty) \\
        \texttt{"sigmoid"}: & x = 1 / (1 + e^{-u}) \in (0, 1) \\
        (a, b): & x = a + (b - a) / (1 + e^{-u}) \in (a, b) \\
        \texttt{"identity"}: & x = u
      \end{array}

    Use ``"softplus"`` (or ``"exp"``, whose steps are relative: Adam on :math:`\log x`) for
    values, rates and lengths that must stay positive, ``"sigmoid"`` for a decay rate in (0, 1)
    and ``(0.0, total_steps)`` for a warmup length that must stay inside the run. An argument
    given as a list (``values`` of :func:`jaxdecay.piecewise_linear`) is mapped element-wise.

    Count-valued arguments (steps, boundaries) only have a useful gradient where the schedule
    uses them continuously (a linear warmup's length does; a staircase's ``transition_steps``
    does not): see the table in the hypergradients guide.

    Args:
      schedule: a jaxdecay schedule (combinators included).
      constraints: argument path -> constraint. A path is the argument's name, prefixed by the
        names of the arguments that lead to it through nested schedules, lists (by index) and
        dicts (by key), joined by dots: ``"peak_value"``, ``"schedule.decay_rate"``,
        ``"schedules.1.init_value"``, ``"cosine_kwargs.0.peak_value"``.

    Returns:
      ``(params, constrain)``: ``params`` maps each path to a floating array
      :math:`g^{-1}(x)` (in the argument's dtype when that is float32 or wider, float32 for
      bfloat16/float16, the default float dtype for Python numbers and integers);
      ``constrain(params)`` returns ``schedule`` with each named argument replaced by
      :math:`g(u)`, rebuilt by its constructor. ``constrain`` is differentiable and traceable,
      so ``jax.grad(lambda p: loss(constrain(p)))(params)`` is a dict of gradients with the
      keys of ``params``.

    Raises:
      ValueError: a path does not name a numeric argument (the message lists those that exist),
        a constraint is unknown, or a concrete argument lies outside its constraint's open
        domain (a decay rate of exactly 1 for ``"sigmoid"``, a warmup of 0 for ``"softplus"``).
        ``constrain`` raises when ``params`` does not have exactly the keys of ``constraints``.
      TypeError: ``schedule`` is not a jaxdecay schedule or a constraint is not a string or a
        pair of numbers.

    Examples:
      >>> import jax, jaxdecay
      >>> s = jaxdecay.warmup(jaxdecay.exponential_decay(0.1, 100, 0.5), warmup_steps=20)
      >>> params, constrain = jaxdecay.unconstrained(
      ...     s, {"schedule.init_value": "exp", "schedule.decay_rate": "sigmoid",
      ...         "warmup_steps": (0.0, 100.0)})
      >>> print(f"{float(params['schedule.decay_rate']):.4f}")
      0.0000
      >>> print(f"{float(constrain(params)(120)):.4f}")
      0.0500
      >>> grads = jax.grad(lambda p: constrain(p)(120))(params)
      >>> print(f"{float(grads['schedule.decay_rate']):.4f}")
      0.0250
    """
    if not isinstance(schedule, _core.Schedule):
        raise TypeError(f"unconstrained needs a jaxdecay schedule, got {schedule!r}")
    available = numeric_arguments(schedule)
    checked: dict[str, Constraint] = {}
    params: dict[str, jax.Array] = {}
    for path, c in constraints.items():
        if path not in available:
            raise ValueError(
                f"`{path}` is not a numeric argument of {schedule!r}; numeric arguments: "
                f"{', '.join(available) or '(none)'}"
            )
        checked[path] = c = _check_constraint(path, c)
        x = jnp.asarray(available[path])
        if not jnp.issubdtype(x.dtype, jnp.floating):  # a count: the default float dtype
            x = x.astype(jnp.asarray(1.0).dtype)
        elif jnp.finfo(x.dtype).bits < 32:  # no bfloat16/float16 parameters for an optimiser
            x = x.astype(jnp.float32)
        u = _inverse(c, x)
        if V.is_concrete(u) and not bool(np.all(np.isfinite(np.asarray(u)))):
            raise ValueError(
                f"`{path}` must lie in {_domain(c)} for constraint {c!r}, got "
                f"{np.asarray(available[path]).tolist()!r}"
            )
        params[path] = u

    def constrain(params: Mapping[str, jax.Array]) -> _core.Schedule:
        if set(params) != set(checked):
            raise ValueError(f"`params` must have the keys {sorted(checked)}, got {sorted(params)}")
        return with_arguments(schedule, {k: _forward(c, params[k]) for k, c in checked.items()})

    return params, constrain
