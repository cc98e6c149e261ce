"""Find the hyperparameters an Optax optimizer state holds, for logging."""

from __future__ import annotations

import sys
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from optax.tree_utils import NamedTupleKey, tree_get_all_with_path

from jaxdecay._plateau import ReduceOnPlateauState

__all__ = ["hyperparams", "effective_learning_rate"]

_INJECT_NAMES = ("InjectHyperparamsState", "InjectStatefulHyperparamsState")
_PLATEAU_NAMES = ("ReduceOnPlateauState", "ReduceLROnPlateauState")
# Fields that only wrap another optimizer's state: they add nothing to a key's path.
_WRAPPER_FIELDS = frozenset({"inner_state", "inner_opt_state", "inner_states"})


class _Step(NamedTuple):
    # "seq" (chain index), "key" (dict key, e.g. a multi_transform label), "field", "wrap"
    kind: str
    label: Any

    def __str__(self) -> str:
        return str(self.label)


class _Entry(NamedTuple):
    name: str
    path: tuple[_Step, ...]
    value: jax.Array
    is_scale: bool


def _unwrap(node: Any) -> Any:
    # flax.nnx.Optimizer keeps its opt_state's leaves in `nnx.OptState` variables.
    if "flax.nnx" in sys.modules:
        from flax import nnx

        if isinstance(node, nnx.Variable):
            return node.get_value()
    return node


def _opt_state(obj: Any) -> Any:
    # Accept a flax.nnx.Optimizer itself for its `opt_state`.
    if "flax.nnx" in sys.modules:
        from flax import nnx

        if isinstance(obj, nnx.Optimizer):
            return obj.opt_state
    return obj


def _is_plateau_state(node: Any) -> bool:
    if isinstance(node, ReduceOnPlateauState):
        return True
    contrib = sys.modules.get("optax.contrib")
    return contrib is not None and isinstance(node, contrib.ReduceLROnPlateauState)


def _steps(state: Any, path: tuple[Any, ...]) -> tuple[tuple[int, ...], tuple[_Step, ...]]:
    """A key path from ``optax.tree_utils`` as our steps, and its position in the state's order
    (the index of each element among its siblings)."""
    node, order, steps = state, [], []
    for k in path:
        if isinstance(k, NamedTupleKey):
            order.append(node._fields.index(k.name))
            kind = "wrap" if k.name in _WRAPPER_FIELDS else "field"
            steps.append(_Step(kind, k.name))
            node = getattr(node, k.name)
        elif isinstance(k, jax.tree_util.SequenceKey):
            order.append(k.idx)
            steps.append(_Step("seq", k.idx))
            node = node[k.idx]
        elif isinstance(k, jax.tree_util.DictKey):
            order.append(list(node).index(k.key))
            steps.append(_Step("key", k.key))
            node = node[k.key]
        elif isinstance(k, jax.tree_util.GetAttrKey):  # a field of another pytree node
            order.append(0)
            steps.append(_Step("field", k.name))
            node = getattr(node, k.name)
        else:  # a child of a node without names (e.g. a flax.nnx variable): no element
            order.append(k.key)
            node = jax.tree_util.tree_leaves(node, is_leaf=lambda x, n=node: x is not n)[k.key]
    return tuple(order), tuple(steps)


def _entries(opt_state: Any) -> list[_Entry]:
    """Every injected hyperparameter and plateau scale in the state, in the state's order.

    ``optax.tree_utils.tree_get_all_with_path`` finds the states (at any depth, nested
    ``inject_hyperparams`` included); their paths give the keys."""
    state = _opt_state(opt_state)
    found: list[tuple[tuple[int, ...], list[_Entry]]] = []
    for path, value in tree_get_all_with_path(state, "hyperparams"):
        if not (isinstance(path[-1], NamedTupleKey) and path[-1].tuple_name in _INJECT_NAMES):
            continue
        order, steps = _steps(state, path[:-1])
        entries = [
            _Entry(str(k), steps, jnp.asarray(_unwrap(v)), False) for k, v in _unwrap(value).items()
        ]
        found.append((order, entries))
    for name in _PLATEAU_NAMES:
        for path, node in tree_get_all_with_path(state, name):
            if _is_plateau_state(node):
                order, steps = _steps(state, path)
                found.append(
                    (order, [_Entry("scale", steps, jnp.asarray(_unwrap(node.scale)), True)])
                )
    found.sort(key=lambda f: f[0])
    return [e for _, entries in found for e in entries]


def _shown(path: tuple[_Step, ...]) -> tuple[str, ...]:
    return tuple(str(s) for s in path if s.kind != "wrap")


def _keys(entries: list[_Entry]) -> list[str]:
    """One key per entry: the name, or ``path/name`` for names that occur more than once."""
    groups: dict[str, list[int]] = {}
    for i, e in enumerate(entries):
        groups.setdefault(e.name, []).append(i)
    keys = [e.name for e in entries]
    for name, idx in groups.items():
        if len(idx) == 1:
            continue
        paths = [_shown(entries[i].path) for i in idx]
        if len(set(paths)) < len(paths):  # only wrappers tell them apart: show the wrappers
            paths = [tuple(str(s) for s in entries[i].path) for i in idx]
        # Drop the leading elements every occurrence shares (e.g. the chain index of a
        # multi_transform), keeping at least one element per path...
        common = 0
        while all(len(p) > common + 1 for p in paths) and len({p[common] for p in paths}) == 1:
            common += 1
        paths = [p[common:] for p in paths]
        # ...and the trailing ones that are not needed to tell them apart (`x/0` -> `x`).
        for i, p in zip(idx, paths, strict=True):
            n = next(
                (n for n in range(1, len(p)) if all(q[:n] != p[:n] for q in paths if q != p)),
                len(p),
            )
            keys[i] = "/".join(p[:n] or ("root",)) + "/" + name
    if len(set(keys)) < len(keys):  # labels that contain "/" can collide: number them
        seen: dict[str, int] = {}
        for i, k in enumerate(keys):
            seen[k] = seen.get(k, 0) + 1
            if seen[k] > 1:
                keys[i] = f"{k}#{seen[k] - 1}"
    return keys


def hyperparams(opt_state: Any) -> dict[str, jax.Array]:
    """Every injected hyperparameter and every plateau scale in an Optax state, in a flat dict.

    Walks the whole (nested) state: ``optax.chain`` tuples, ``optax.multi_transform`` /
    ``optax.partition`` groups, ``optax.MultiSteps``, ``optax.masked`` and other wrappers,
    ``optax.inject_hyperparams`` (nested ones included), and the state of a
    ``flax.nnx.Optimizer`` (``optimizer.opt_state``, whose ``nnx.OptState`` variables are
    unwrapped). It reports

    - each hyperparameter stored by ``optax.inject_hyperparams`` (``InjectHyperparamsState`` /
      ``InjectStatefulHyperparamsState``): the value the most recent update used (after ``init``,
      the value the first update will use);
    - the ``scale`` of each :func:`jaxdecay.reduce_on_plateau` (and
      ``optax.contrib.reduce_on_plateau``) state: the scale the most recent update applied.

    Keys are the hyperparameter names (``learning_rate``, ``b1``, ``scale``). A name that occurs
    more than once is prefixed, at every occurrence, with the path that leads to it, joined by
    ``/``: ``multi_transform`` group labels and chain indices (``"adam/learning_rate"``,
    ``"sgd/learning_rate"``, ``"0/learning_rate"``, ``"1/scale"``). The path is shortened: the
    leading elements all occurrences share are dropped (a ``multi_transform`` behind a
    ``clip_by_global_norm`` still gives ``"adam/learning_rate"``, not ``"1/adam/..."``), so are
    trailing elements not needed to tell the occurrences apart (``"adam"`` rather than
    ``"adam/0"`` for a chain inside group ``adam``), and wrappers (``MultiSteps``, ``masked``,
    ``inject_hyperparams``) add no element. An occurrence at the top of the state (an
    ``inject_hyperparams`` that holds another with the same name) is ``"root/<name>"``. Order:
    the order of the state. Only numeric hyperparameters appear: ``inject_hyperparams`` keeps
    booleans and ``None`` (e.g. ``sgd``'s default ``momentum=None``) out of its state.

    Args:
      opt_state: an Optax optimizer state (any nesting), or a ``flax.nnx.Optimizer`` (or its
        ``opt_state``).

    Returns:
      A dict from key to ``jax.Array`` (empty when nothing was found). Under ``jax.jit`` the
      values are tracers; the function is pure and can run inside the training step.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optax
      >>> import jaxdecay
      >>> opt = optax.inject_hyperparams(optax.sgd)(
      ...     learning_rate=optax.linear_schedule(0.1, 0.0, 10), momentum=0.9)
      >>> params = jnp.zeros(2)
      >>> state = opt.init(params)
      >>> for _ in range(3):
      ...     updates, state = opt.update(jnp.ones(2), state, params)
      >>> for key, value in sorted(jaxdecay.hyperparams(state).items()):
      ...     print(f"{key}: {float(value):.4f}")
      learning_rate: 0.0800
      momentum: 0.9000
    """
    entries = _entries(opt_state)
    return dict(zip(_keys(entries), (e.value for e in entries), strict=True))


def _scales_learning_rate(lr: tuple[_Step, ...], scale: tuple[_Step, ...]) -> bool:
    """Whether the plateau at path ``scale`` multiplies the updates the learning rate at ``lr``
    made: it sits inside the transformation the learning rate controls, or later in the same
    chain (and not inside a parameter group)."""
    n = 0
    while n < min(len(lr), len(scale)) and lr[n] == scale[n]:
        n += 1
    if n == len(lr):
        return True
    if n == len(scale):
        return False
    a, b = lr[n], scale[n]
    return (
        a.kind == b.kind == "seq"
        and a.label < b.label
        and all(s.kind != "key" for s in scale[n + 1 :])
    )


def effective_learning_rate(opt_state: Any, *, key: str | None = None) -> jax.Array:
    """The learning rate in use: an injected ``learning_rate`` times the plateau scales on it.

    The learning rate is the one ``optax.inject_hyperparams`` stored (see :func:`hyperparams`),
    multiplied by the ``scale`` of every :func:`jaxdecay.reduce_on_plateau` that acts on its
    updates: one later in the same ``optax.chain`` (``optax.chain(optax.sgd(lr),
    reduce_on_plateau())`` with ``sgd`` injected, or ``optax.chain(inject_hyperparams(sgd)(...),
    reduce_on_plateau())``), or one inside the injected transformation. A plateau *before* the
    optimizer in a chain is not counted (Adam-like optimizers are invariant to it); nor is one
    in another ``multi_transform`` group.

    Args:
      opt_state: an Optax optimizer state, or a ``flax.nnx.Optimizer`` (or its ``opt_state``).
      key: which learning rate, by its :func:`hyperparams` key (``"adam/learning_rate"``);
        needed only when the state holds more than one.

    Returns:
      A scalar ``jax.Array``.

    Raises:
      ValueError: no injected ``learning_rate`` in the state; several and ``key`` is not given;
        ``key`` is not one of them. The message lists the keys there are.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optax
      >>> import jaxdecay
      >>> opt = optax.chain(
      ...     optax.inject_hyperparams(optax.sgd)(learning_rate=0.1),
      ...     jaxdecay.reduce_on_plateau(factor=0.5, patience=0))
      >>> params = jnp.zeros(2)
      >>> state = opt.init(params)
      >>> for loss in [1.0, 2.0]:
      ...     updates, state = opt.update(jnp.ones(2), state, params, value=loss)
      >>> print(f"{float(jaxdecay.effective_learning_rate(state)):.3f}")
      0.050
    """
    entries = _entries(opt_state)
    keys = _keys(entries)
    lrs = [
        (k, e)
        for k, e in zip(keys, entries, strict=True)
        if e.name == "learning_rate" and not e.is_scale
    ]
    if not lrs:
        raise ValueError(
            "no injected `learning_rate` in the optimizer state (wrap the optimizer in "
            "`optax.inject_hyperparams(...)(learning_rate=...)`); found "
            f"{sorted(keys) if keys else 'no hyperparameters'}"
        )
    if key is None:
        if len(lrs) > 1:
            raise ValueError(
                f"the optimizer state holds {len(lrs)} learning rates; pass `key`, one of "
                f"{[k for k, _ in lrs]}"
            )
        lr = lrs[0][1]
    else:
        found = [e for k, e in lrs if k == key]
        if not found:
            raise ValueError(f"`key` must be one of {[k for k, _ in lrs]}, got {key!r}")
        lr = found[0]
    out = lr.value
    for e in entries:
        if e.is_scale and _scales_learning_rate(lr.path, e.path):
            out = out * e.value
    return out
