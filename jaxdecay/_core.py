"""The `Schedule` object every constructor returns, and the registry of constructors.

The numeric helpers the formulas share live in :mod:`jaxdecay._numeric`.

A constructor is written as a plain function that validates its (concrete) arguments and returns
the closure ``count -> value``; the :func:`schedule_factory` decorator binds the call's arguments,
runs it and wraps the closure in a :class:`Schedule`, which

- is an ``optax.Schedule`` (callable on a count);
- knows the call that made it: ``repr`` reads like that call, :func:`jaxdecay.to_config` turns it
  into a JSON-able dict, and it pickles (by rebuilding from its arguments, not by pickling the
  closure);
- is a JAX pytree whose leaves are the hyperparameters given as arrays (and nested schedules), so
  a schedule can be passed *into* a jitted function, and a change of those values re-uses the
  compiled program.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any, ParamSpec

import jax
import numpy as np

from jaxdecay import _validate as V

__all__ = [
    "HorizonRule",
    "Registered",
    "Schedule",
    "ScheduleFn",
    "format_float",
    "horizon_rule",
    "horizon_rules",
    "rebuild",
    "registered",
    "registry",
    "schedule_factory",
]

P = ParamSpec("P")

ScheduleFn = Callable[[jax.typing.ArrayLike], jax.Array]
"""What a builder returns: the closure ``count -> value`` that a :class:`Schedule` wraps."""


@dataclasses.dataclass(frozen=True)
class Registered:
    """What the registry knows about one constructor name."""

    name: str
    """The registry name (``"cosine_decay"``, ``"torch.LinearLR"``)."""
    factory: Callable[..., Schedule]
    """The public constructor (binds, validates, returns a :class:`Schedule`)."""
    builder: Callable[..., Callable[[Any], jax.Array]]
    """The undecorated function: validates and returns the closure ``count -> value``."""
    signature: inspect.Signature
    """The constructor's signature (parameter names, kinds and defaults)."""

    def build(self, arguments: Mapping[str, Any]) -> Callable[[Any], jax.Array]:
        """Run the builder on stored arguments (``{parameter: value}``, ``*args`` as a tuple)."""
        bound = inspect.BoundArguments(self.signature, dict(arguments))  # type: ignore[arg-type]
        return self.builder(*bound.args, **bound.kwargs)


_REGISTRY: dict[str, Registered] = {}


def registry() -> Mapping[str, Callable[..., Schedule]]:
    """Every registered constructor (schedules and combinators), by name."""
    return {name: r.factory for name, r in _REGISTRY.items()}


def registered(name: str) -> Registered:
    """The registry record of ``name``.

    Raises:
      KeyError: ``name`` is not a registered constructor.
    """
    return _REGISTRY[name]


HorizonRule = Callable[[Mapping[str, Any]], Any]
"""``rule(arguments) -> horizon or None``: a constructor's horizon, read off its arguments."""

_HORIZON_RULES: dict[str, HorizonRule] = {}


def horizon_rule(*names: str) -> Callable[[HorizonRule], HorizonRule]:
    """Register the decorated function as the horizon rule of the constructors ``names``.

    :attr:`Schedule.horizon` applies it to the schedule's arguments. The rules of jaxdecay's own
    constructors live in :mod:`jaxdecay._horizon`, with the definition of a horizon.
    """

    def deco(rule: HorizonRule) -> HorizonRule:
        for name in names:
            _HORIZON_RULES[name] = rule
        return rule

    return deco


def horizon_rules() -> Mapping[str, HorizonRule]:
    """Every registered horizon rule, by constructor name."""
    return dict(_HORIZON_RULES)


def rebuild(name: str, args: Mapping[str, Any], passed: tuple[str, ...]) -> Schedule:
    """The schedule ``name(**args)``, built again from stored arguments (validated again).

    What unpickling calls, and what rebuilds a schedule with some arguments replaced
    (:func:`jaxdecay.unconstrained`). ``passed`` names the arguments the caller gave (``repr``).
    """
    return Schedule(name, args, passed, _REGISTRY[name].build(args))


_rebuild = rebuild  # the name that pickles made by jaxdecay 0.1.0 refer to


# --------------------------------------------------------------------------------------------
# Pytree support: array-valued hyperparameters and nested schedules are leaves/children,
# everything else (Python numbers, strings, bools, plain functions) is static.
# --------------------------------------------------------------------------------------------


def _is_dynamic(v: Any) -> bool:
    if isinstance(v, Schedule | jax.Array | np.ndarray | np.generic):
        return True
    if isinstance(v, list | tuple):
        return any(_is_dynamic(e) for e in v)
    if isinstance(v, dict):
        return any(_is_dynamic(e) for e in v.values())
    return False


def _freeze(v: Any) -> Any:
    if isinstance(v, list | tuple):
        return (type(v).__name__, tuple(_freeze(e) for e in v))
    if isinstance(v, dict):
        return ("dict", tuple(sorted(((repr(k), _freeze(e)) for k, e in v.items()))))
    try:
        hash(v)
    except TypeError:
        return ("id", id(v))
    return v


class _Static:
    """Hashable wrapper for a static argument (lists and dicts compare by content)."""

    __slots__ = ("value", "_key")

    def __init__(self, value: Any):
        self.value = value
        self._key = _freeze(value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Static) and self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)


class Schedule:
    """An ``optax.Schedule`` that carries the call that made it.

    Call it with a count (a Python int or an array of any shape) to get the value(s). ``repr``,
    :func:`jaxdecay.to_config`, pickling and the pytree protocol all work from the stored
    arguments.
    """

    __slots__ = ("_name", "_args", "_passed", "_impl", "_dyn", "__weakref__")

    def __init__(
        self,
        name: str,
        args: Mapping[str, Any],
        passed: tuple[str, ...],
        impl: Callable[[Any], jax.Array] | None = None,
        dyn: tuple[str, ...] | None = None,
    ):
        self._name = name
        self._args = dict(args)
        self._passed = tuple(passed)
        self._impl = impl
        # The arguments that are pytree children. Decided from their types when the schedule is
        # built, and kept when it is rebuilt from a pytree: JAX's transformations (`jacfwd`,
        # `hessian`, sharding specs) put other objects in the leaves' places and flatten again.
        self._dyn = dyn

    @property
    def name(self) -> str:
        """The constructor's name (``"cosine_decay"``)."""
        return self._name

    @property
    def arguments(self) -> dict[str, Any]:
        """Every argument of the constructor call, defaults included."""
        return dict(self._args)

    @property
    def passed_arguments(self) -> dict[str, Any]:
        """The arguments the caller gave explicitly (what ``repr`` shows)."""
        return {k: self._args[k] for k in self._passed}

    @property
    def horizon(self) -> Any:
        """The count from which the value is constant (``None`` if never).

        See :func:`jaxdecay.horizon`: a Python number for concrete arguments, a ``jax.Array``
        when one is an array or a tracer.

        Raises:
          NotImplementedError: the constructor has no horizon rule (:func:`horizon_rule`).
        """
        rule = _HORIZON_RULES.get(self._name)
        if rule is None:
            raise NotImplementedError(
                f"no horizon rule for the schedule {self._name!r}; register one with "
                "jaxdecay._core.horizon_rule"
            )
        h = rule(self._args)
        # NumPy scalars as Python numbers (``1000`` rather than ``np.int64(1000)``).
        return h.item() if isinstance(h, np.ndarray | np.generic) and np.ndim(h) == 0 else h

    def __call__(self, count: jax.typing.ArrayLike) -> jax.Array:
        if self._impl is None:  # rebuilt from a pytree: build the closure on first use
            self._impl = _REGISTRY[self._name].build(self._args)
        return self._impl(count)

    def __repr__(self) -> str:
        sig = _REGISTRY[self._name].signature
        parts = []
        for p in sig.parameters.values():
            if p.name not in self._passed:
                continue
            v = self._args[p.name]
            if p.kind is p.VAR_POSITIONAL:
                parts.extend(_fmt_value(e) for e in v)
            else:
                parts.append(f"{p.name}={_fmt_value(v)}")
        return f"{self._name}({', '.join(parts)})"

    def __reduce__(self):
        return (rebuild, (self._name, self._args, self._passed))

    # pytree protocol ------------------------------------------------------------------------
    def _tree_flatten(self):
        dyn = self._dyn
        if dyn is None:
            dyn = tuple(k for k, v in self._args.items() if _is_dynamic(v))
        static = tuple((k, _Static(v)) for k, v in self._args.items() if k not in dyn)
        children = tuple(self._args[k] for k in dyn)
        return children, (self._name, self._passed, dyn, static)

    @classmethod
    def _tree_unflatten(cls, aux, children):
        name, passed, dyn, static = aux
        args = {k: s.value for k, s in static}
        args.update(zip(dyn, children, strict=True))
        # Keep the constructor's argument order.
        order = list(_REGISTRY[name].signature.parameters)
        args = {k: args[k] for k in order if k in args}
        return cls(name, args, passed, None, dyn)


jax.tree_util.register_pytree_node(Schedule, lambda s: s._tree_flatten(), Schedule._tree_unflatten)


def format_float(x: Any) -> str:
    """The shortest text that reads back as the same value of ``x``'s dtype (a NumPy or JAX
    scalar): ``0.1`` for ``float32(0.1)``; ``bfloat16(...)`` and ``float16(...)`` where the dtype
    must be kept. What ``repr`` of a schedule and :func:`jaxdecay.to_config` write."""
    x = np.asarray(x)
    if x.dtype.name == "bfloat16":  # ml_dtypes: not a NumPy floating type
        v = float(x)  # exact: every bfloat16 is a float32
        return f"bfloat16({v!r})" if np.isfinite(v) else repr(v)
    if np.issubdtype(x.dtype, np.floating):
        v = x.item()
        if not np.isfinite(v):
            return repr(float(v))
        if x.dtype == np.float64:
            return repr(float(v))
        text = np.format_float_positional(x[()], unique=True, trim="0")
        if x.dtype == np.float16:  # parse reads it back as a float16
            return f"{x.dtype.name}({text})"
        return text
    return repr(x.item())


def _fmt_value(v: Any) -> str:
    """Source text for one argument value, as `parse` reads it back."""
    if isinstance(v, Schedule):
        return repr(v)
    if not V.is_concrete(v):
        return f"<traced {v.aval.str_short()}>"
    if isinstance(v, bool | np.bool_ | str) or v is None:
        return repr(v if not isinstance(v, np.bool_) else bool(v))
    if isinstance(v, float):
        return repr(float(v))  # np.float64 is a float: no "np.float64(...)" in the text
    if isinstance(v, int):
        return repr(v)
    if isinstance(v, jax.Array | np.ndarray | np.generic):
        a = np.asarray(v)
        if a.ndim == 0:
            return format_float(a)
        if a.ndim == 1 and (a.dtype == np.float64 or np.issubdtype(a.dtype, np.integer)):
            # Fast path (repr runs whenever jax.jit names a schedule: 10,000 boundaries).
            return "[" + ", ".join(map(repr, a.tolist())) + "]"
        return "[" + ", ".join(_fmt_value(e) for e in a) + "]"
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_fmt_value(e) for e in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_fmt_value(k)}: {_fmt_value(e)}" for k, e in v.items()) + "}"
    if callable(v):
        return f"<{getattr(v, '__name__', type(v).__name__)}>"
    return repr(v)


def schedule_factory(fn: Callable[P, Callable[[Any], jax.Array]]) -> Callable[P, Schedule]:
    """Turn a builder (validates, returns ``count -> value``) into a public constructor.

    The constructor keeps the builder's parameters, for ``inspect`` (``functools.wraps``) and
    for type checkers (``ParamSpec``), and returns a :class:`Schedule`. It is registered under
    the builder's ``__name__``.
    """
    name = fn.__name__
    sig = inspect.signature(fn)

    @functools.wraps(fn)
    def factory(*args: P.args, **kwargs: P.kwargs) -> Schedule:
        try:
            bound = sig.bind(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"{name}(): {e}. Parameters: {list(sig.parameters)}") from None
        passed = tuple(bound.arguments)
        bound.apply_defaults()
        impl = fn(*bound.args, **bound.kwargs)
        return Schedule(name, bound.arguments, passed, impl)

    factory.__signature__ = sig  # type: ignore[attr-defined]
    _REGISTRY[name] = Registered(name, factory, fn, sig)
    return factory
