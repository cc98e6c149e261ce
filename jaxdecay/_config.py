"""Schedules as data: `to_config`, `from_config` and `parse`.

``to_config`` turns a schedule into a JSON-able dict, ``from_config`` builds one back, and
``parse`` reads the text a user would write in a config file or on a command line::

    warmup(cosine_decay(0.1, 1000), warmup_steps=100)

``parse`` walks Python's ``ast`` of that text over a restricted grammar (calls of registered
constructors, positional and keyword arguments, numbers, strings, booleans, ``None``, lists and
dicts of those). Nothing is ever ``eval``-ed.
"""

from __future__ import annotations

import ast
import difflib
import inspect
import math
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np

from jaxdecay import _core
from jaxdecay import _validate as V

__all__ = ["to_config", "from_config", "parse", "ParseError", "ConfigError"]


class ConfigError(ValueError):
    """A configuration names an unknown schedule or argument, or has a malformed value."""


class ParseError(ValueError):
    """The schedule text is not in the accepted grammar; the message shows where."""


#: The deepest nesting ``parse`` and ``from_config`` accept (calls, lists, dicts, signs): deeper
#: input raises a ``ParseError``/``ConfigError`` instead of exhausting Python's recursion limit.
MAX_DEPTH = 100

# Floating dtypes that a Python float does not round-trip: written as {"value", "dtype"} by
# `to_config` and as `float16(0.1)` in `parse` text.
_LOW_PRECISION = ("float16", "bfloat16")


# --------------------------------------------------------------------------------------------
# to_config
# --------------------------------------------------------------------------------------------


def _jsonable(v: Any, where: str) -> Any:
    if isinstance(v, _core.Schedule):
        return to_config(v)
    if v is None or isinstance(v, bool | str):
        return v
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, int | float):
        return v
    if not V.is_concrete(v):
        raise TypeError(f"to_config: `{where}` is a traced value; it has no concrete value yet")
    if isinstance(v, jax.Array | np.ndarray | np.generic):
        a = np.asarray(v)
        if a.dtype.name in _LOW_PRECISION:
            values = a.astype(np.float64)
            return {"value": values.tolist() if a.ndim else float(values), "dtype": a.dtype.name}
        if np.issubdtype(a.dtype, np.floating):
            if a.ndim == 0:
                return float(_core.format_float(a)) if np.isfinite(a) else float(a)
            return [_jsonable(e, where) for e in a]
        return a.tolist()
    if isinstance(v, list | tuple):
        return [_jsonable(e, f"{where}[{i}]") for i, e in enumerate(v)]
    if isinstance(v, dict):
        return {k: _jsonable(e, f"{where}[{k!r}]") for k, e in v.items()}
    if callable(v):
        raise TypeError(
            f"to_config: `{where}` is a plain function ({v!r}), which has no configuration; "
            "use a jaxdecay schedule there"
        )
    raise TypeError(f"to_config: `{where}` has a value of type {type(v).__name__}: {v!r}")


def to_config(schedule: _core.Schedule) -> dict[str, Any]:
    """A JSON-able description of ``schedule`` (every argument, defaults included).

    Args:
      schedule: a schedule made by a jaxdecay constructor (nested ones are described too).

    Returns:
      ``{"name": <constructor>, <argument>: <value>, ...}``; nested schedules become nested dicts,
      arrays become (nested) lists of Python numbers.

    Raises:
      TypeError: ``schedule`` is not a jaxdecay schedule, or holds a traced value or a plain
        Python function.

    Examples:
      >>> import jaxdecay
      >>> jaxdecay.to_config(jaxdecay.cosine_decay(0.1, 1000))
      {'name': 'cosine_decay', 'init_value': 0.1, 'decay_steps': 1000, 'end_value': 0.0, 'exponent': 1.0}
    """  # noqa: E501
    if not isinstance(schedule, _core.Schedule):
        raise TypeError(
            f"to_config needs a jaxdecay schedule, got {schedule!r} (plain functions and Optax "
            "closures carry no description)"
        )
    cfg: dict[str, Any] = {"name": schedule.name}
    for k, v in schedule.arguments.items():
        cfg[k] = _jsonable(v, f"{schedule.name}.{k}")
    return cfg


# --------------------------------------------------------------------------------------------
# from_config
# --------------------------------------------------------------------------------------------


def _unknown_name(name: Any) -> str:
    valid = sorted(_core.registry())
    close = difflib.get_close_matches(str(name), valid, n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    return f"unknown schedule {name!r}.{hint} Valid names: {', '.join(valid)}"


def _check_arguments(name: str, keys: list[str]) -> None:
    params = _core.registered(name).signature.parameters
    valid = [p for p in params if p != "name"]
    for k in keys:
        if k not in params:
            close = difflib.get_close_matches(k, valid, n=2)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(
                f"{name}() has no argument {k!r}.{hint} Valid arguments: {', '.join(valid)}"
            )


def _typed(value: Any, dtype: Any) -> Any:
    if dtype not in _LOW_PRECISION:
        raise ConfigError(
            f"a typed value's 'dtype' must be one of {list(_LOW_PRECISION)}, got {dtype!r}"
        )
    import jax.numpy as jnp

    return jnp.asarray(np.asarray(value, np.float64), dtype)


def _from_value(v: Any, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise ConfigError(f"a schedule config may nest at most {MAX_DEPTH} levels deep")
    if isinstance(v, Mapping) and "name" in v:
        return _from_config(v, depth)
    if isinstance(v, Mapping) and set(v) == {"value", "dtype"}:
        return _typed(v["value"], v["dtype"])  # what to_config writes for a float16 value
    if isinstance(v, list | tuple):
        return [_from_value(e, depth + 1) for e in v]
    if isinstance(v, Mapping):
        return {k: _from_value(e, depth + 1) for k, e in v.items()}
    return v


def from_config(config: Mapping[str, Any]) -> _core.Schedule:
    """Build a schedule from a dict made by :func:`to_config` (or written by hand).

    Nested dicts with a ``"name"`` key become nested schedules (combinators nest). Values may be
    Python numbers, lists, NumPy or JAX arrays, or tracers (then nothing is validated, so a sweep
    can rebuild a schedule with a traced hyperparameter inside ``jax.jit``/``jax.vmap``).

    Args:
      config: ``{"name": <constructor>, <argument>: <value>, ...}``.

    Returns:
      The schedule.

    Raises:
      ConfigError: the name or an argument is unknown (the message lists the valid ones),
        ``config`` is not a dict with a ``"name"``, or it nests deeper than ``MAX_DEPTH`` (100)
        levels.

    Examples:
      >>> import jaxdecay
      >>> s = jaxdecay.from_config({"name": "step_decay", "init_value": 0.1, "step_size": 10})
      >>> print(f"{float(s(25)):.4f}")
      0.0010
    """
    return _from_config(config, 0)


def _from_config(config: Mapping[str, Any], depth: int) -> _core.Schedule:
    if not isinstance(config, Mapping) or "name" not in config:
        raise ConfigError(f"a schedule config must be a dict with a 'name' key, got {config!r}")
    name = config["name"]
    if not isinstance(name, str):
        raise ConfigError(f"a schedule config's 'name' must be a string, got {name!r}")
    factories = _core.registry()
    if name not in factories:
        raise ConfigError(_unknown_name(name))
    kwargs = {k: v for k, v in config.items() if k != "name"}
    _check_arguments(name, list(kwargs))
    entry = _core.registered(name)
    arguments: dict[str, Any] = {}
    for p in entry.signature.parameters.values():
        if p.name not in kwargs:
            continue
        v = _from_value(kwargs[p.name], depth + 1)
        if p.kind is p.VAR_POSITIONAL:
            if not isinstance(v, list):
                raise ConfigError(f"{name}(): `{p.name}` must be a list, got {v!r}")
            v = tuple(v)
        arguments[p.name] = v
    bound = inspect.BoundArguments(entry.signature, arguments)  # type: ignore[arg-type]
    return entry.factory(*bound.args, **bound.kwargs)


# --------------------------------------------------------------------------------------------
# parse
# --------------------------------------------------------------------------------------------


def _where(text: str, node: ast.AST) -> str:
    line = getattr(node, "lineno", 1)
    col = getattr(node, "col_offset", 0)
    src_line = text.splitlines()[line - 1] if text.splitlines() else ""
    return f" at line {line}, column {col + 1}:\n  {src_line}\n  {' ' * col}^"


class _Reader:
    def __init__(self, text: str, names: Mapping[str, Any]):
        self.text = text
        self.names = names
        self.depth = 0

    def fail(self, msg: str, node: ast.AST) -> ParseError:
        return ParseError(msg + _where(self.text, node))

    def value(self, node: ast.AST) -> Any:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise self.fail(f"the expression nests deeper than {MAX_DEPTH} levels", node)
            return self._value(node)
        finally:
            self.depth -= 1

    def _value(self, node: ast.AST) -> Any:
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in _LOW_PRECISION
            and node.func.id not in self.names
        ):
            if len(node.args) != 1 or node.keywords:
                raise self.fail(f"{node.func.id}(...) takes one number", node)
            x = self.value(node.args[0])
            if not _is_number(x):
                raise self.fail(f"{node.func.id}(...) takes one number", node)
            return _typed(x, node.func.id)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, bool) or v is None or isinstance(v, int | float | str):
                if isinstance(v, float) and math.isnan(v):
                    raise self.fail("NaN is not a valid value", node)
                return v
            raise self.fail(f"unsupported literal {v!r}", node)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            v = self.value(node.operand)
            if isinstance(v, bool) or not _is_number(v):
                raise self.fail("a sign must be followed by a number", node)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.List | ast.Tuple):
            return [self.value(e) for e in node.elts]
        if isinstance(node, ast.Dict):
            out = {}
            for k, v in zip(node.keys, node.values, strict=True):
                if k is None:
                    raise self.fail("'**' is not allowed in a dict", v)
                key = self.value(k)
                if isinstance(key, list | dict | _core.Schedule):
                    raise self.fail("a dict key must be a number or a string", k)
                out[key] = self.value(v)
            return out
        if isinstance(node, ast.Name):
            if node.id in self.names:
                return self.names[node.id]
            if node.id in ("inf", "Infinity"):
                return math.inf
            if node.id in _core.registry():
                raise self.fail(f"{node.id!r} must be called: write {node.id}(...)", node)
            given = ", ".join(sorted(self.names)) if self.names else "none"
            raise self.fail(
                f"unknown name {node.id!r} (names given: {given}): only numbers, strings, "
                "True/False/None, lists, dicts, schedule calls and the names given are allowed",
                node,
            )
        kind = type(node).__name__
        raise self.fail(
            f"unsupported syntax ({kind}): only numbers, strings, True/False/None, lists, dicts "
            "and schedule calls are allowed",
            node,
        )

    def call(self, node: ast.Call) -> _core.Schedule:
        func = node.func
        factories = _core.registry()
        dotted = None
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            dotted = f"{func.value.id}.{func.attr}"
        if dotted is not None and dotted in factories:  # a migration name (torch.LinearLR)
            name = dotted
        elif dotted is not None and any(
            k.startswith(dotted.split(".")[0] + ".") for k in factories
        ):
            raise self.fail(_unknown_name(dotted), func)
        elif isinstance(func, ast.Name):
            name = func.id
        else:
            raise self.fail(
                "only plain schedule names can be called (no attributes, except the migration "
                "names such as torch.LinearLR)",
                func,
            )
        if name not in factories:
            raise self.fail(_unknown_name(name), node.func)
        args = []
        for a in node.args:
            if isinstance(a, ast.Starred):
                raise self.fail("'*' arguments are not allowed", a)
            args.append(self.value(a))
        kwargs: dict[str, Any] = {}
        for kw in node.keywords:
            arg = kw.arg
            if arg is None:
                raise self.fail("'**' arguments are not allowed", kw.value)
            try:
                _check_arguments(name, [arg])
            except ConfigError as e:
                raise self.fail(str(e), kw.value) from None
            if arg in kwargs:
                raise self.fail(f"{name}() got argument {arg!r} twice", kw.value)
            kwargs[arg] = self.value(kw.value)
        try:
            return factories[name](*args, **kwargs)
        except TypeError as e:
            raise self.fail(str(e), node) from None
        except ValueError as e:
            raise self.fail(f"{name}(): {e}", node) from None


def _is_number(v: Any) -> bool:
    """A Python number, a NumPy/JAX array or scalar, or a tracer (what a name may stand for)."""
    if isinstance(v, bool | np.bool_):
        return False
    return isinstance(v, int | float | np.ndarray | np.generic | jax.Array)


def _check_names(names: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if names is None:
        return {}
    if not isinstance(names, Mapping):
        raise TypeError(f"`names` must be a mapping of identifiers to values, got {names!r}")
    for k, v in names.items():
        if not isinstance(k, str) or not k.isidentifier():
            raise TypeError(f"`names` keys must be identifiers, got {k!r}")
        if not _is_number(v):
            raise TypeError(
                f"`names[{k!r}]` must be a number or an array (NumPy, JAX or a tracer), got "
                f"{type(v).__name__}: names never stand for functions, modules or schedules"
            )
    return names


def parse(text: str, names: Mapping[str, Any] | None = None) -> _core.Schedule:
    """Build a schedule from text such as ``"warmup(cosine_decay(0.1, 1000), warmup_steps=100)"``.

    The text is read with Python's ``ast`` on a restricted grammar and never evaluated: calls of
    jaxdecay constructors (by their registered names), positional and keyword arguments, numbers
    (``1e-3``, ``-2``, ``inf``; ``float16(0.1)`` and ``bfloat16(0.1)`` for values of those dtypes),
    strings, ``True``/``False``/``None``, lists and dicts, nested at most ``MAX_DEPTH`` (100)
    levels. ``repr`` of
    any schedule made from concrete values parses back to a schedule with the same values.

    ``names`` binds identifiers that stand in an argument's place to values: Python numbers,
    NumPy or JAX arrays, or tracers. Inside ``jax.vmap`` over ``r``,
    ``parse("exponential_decay(0.1, steps_per_epoch, rate)", names={"steps_per_epoch": 469,
    "rate": r})`` is a sweep over the decay rate. A name never resolves to a function, a module
    or an attribute; a name given in ``names`` takes precedence over ``inf``.

    Args:
      text: the schedule expression.
      names: identifiers the text may use as argument values, and their values.

    Returns:
      The schedule.

    Raises:
      ParseError: (a ``ValueError``) on a syntax error, an unknown schedule or argument (the
        message lists the valid ones), an unsupported construct or an invalid argument value; the
        message points at the line and column.

    Examples:
      >>> import jaxdecay
      >>> s = jaxdecay.parse("exponential_decay(0.1, transition_steps=1, decay_rate=0.9)")
      >>> print(", ".join(f"{float(s(t)):.4f}" for t in range(4)))
      0.1000, 0.0900, 0.0810, 0.0729
      >>> s = jaxdecay.parse("exponential_decay(0.1, steps, rate)", names={"steps": 1, "rate": 0.5})
      >>> print(f"{float(s(2)):.4f}")
      0.0250
    """
    names = _check_names(names)
    if not isinstance(text, str):
        raise TypeError(f"parse needs a string, got {text!r}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (RecursionError, MemoryError):
        raise ParseError(
            f"the expression nests too deeply to parse (at most {MAX_DEPTH} levels are accepted)"
        ) from None
    except SyntaxError as e:
        col = (e.offset or 1) - 1
        line = (e.text or text).rstrip("\n")
        raise ParseError(
            f"invalid syntax ({e.msg}) at line {e.lineno or 1}, column {col + 1}:\n  {line}\n"
            f"  {' ' * col}^"
        ) from None
    reader = _Reader(text.strip(), names)
    if not isinstance(tree.body, ast.Call):
        raise reader.fail(
            "a schedule expression must be a call such as cosine_decay(...)", tree.body
        )
    return reader.call(tree.body)
