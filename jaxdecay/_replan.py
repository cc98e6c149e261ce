r"""A schedule's horizon, and changing a run's length in the middle (SPEC §7).

The *horizon* of a schedule :math:`f` is the count :math:`H` from which its value is constant,
:math:`f(t) = f(H)` for every :math:`t \ge H` (``None`` when there is none: the value keeps
changing, or restarts). It is read off the schedule's own arguments by one rule per constructor
name (:data:`RULES`), so it is as traceable as the arguments: a schedule built from traced
arguments has a traced horizon. The rule gives the end of the last phase the arguments define;
for special values the value may settle earlier (a cosine decay with ``exponent=0``, a
:func:`jaxdecay.clip` that cuts the tail off), which makes :math:`H` an upper bound, never too
early.

:func:`replan` re-times what is left of a schedule: a run planned for :math:`H` updates that
is extended (or cut) to :math:`N` at update :math:`a` continues from :math:`f(a)` and reaches
:math:`f(H)` at :math:`N`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxdecay import _validate as V
from jaxdecay._core import Schedule, schedule_factory
from jaxdecay._numeric import as_count, float_dtype, remaining

__all__ = ["horizon", "replan", "RULES"]

Rule = Callable[[Mapping[str, Any]], Any]

RULES: dict[str, Rule] = {}
"""Constructor name -> ``rule(arguments) -> horizon or None`` (every registered name has one)."""


def _rule(*names: str) -> Callable[[Rule], Rule]:
    def deco(fn: Rule) -> Rule:
        for name in names:
            RULES[name] = fn
        return fn

    return deco


# --------------------------------------------------------------------------------------------
# Arithmetic on Python numbers, NumPy values, JAX arrays and tracers alike: concrete Python /
# NumPy inputs give NumPy (then Python) numbers, anything from JAX gives a JAX array.
# --------------------------------------------------------------------------------------------


def _uses_jax(*xs: Any) -> bool:
    return any(isinstance(leaf, jax.Array) for leaf in jax.tree.leaves(xs))


def _xp(*xs: Any) -> Any:
    return jnp if _uses_jax(*xs) else np


def _max(*xs: Any) -> Any:
    if not xs:
        raise ValueError("_max of nothing")
    xp = _xp(*xs)
    out = xs[0]
    for x in xs[1:]:
        out = xp.maximum(out, x)
    return out


def _last(seq: Any) -> Any:
    """The largest entry of a list/array of counts (0 for an empty one)."""
    if isinstance(seq, list | tuple):
        if not seq:
            return 0
        return _max(*seq)
    arr = seq
    if np.shape(arr)[0] == 0:
        return 0
    return _xp(arr).max(arr)


def _plain(x: Any) -> Any:
    """NumPy scalars as Python numbers (``1000`` rather than ``np.int64(1000)``)."""
    if isinstance(x, np.ndarray | np.generic) and np.ndim(x) == 0:
        return x.item()
    return x


def required_horizon(schedule: Any, argument: str, hint: str) -> jax.typing.ArrayLike:
    """``horizon(schedule)``, or a ``ValueError`` saying that ``argument`` must be given."""
    end = horizon(schedule)
    if end is None:
        raise ValueError(
            f"`{argument}` is required: {schedule!r} has no horizon (its value never becomes "
            f"constant), so {hint}"
        )
    return end


def horizon(schedule: Any) -> Any:
    r"""The count from which ``schedule``'s value is constant, or ``None``.

    .. math::

      H = \min\{h : f(t) = f(h) \text{ for all } t \ge h\}

    as far as the arguments tell (an upper bound for special values, see the module docstring).
    Examples: ``cosine_decay(init_value, decay_steps)`` has :math:`H` = ``decay_steps``;
    ``warmup(f, warmup_steps)`` has ``warmup_steps`` + :math:`H_f`; ``exponential_decay`` without
    ``end_value`` and the cyclic schedules have ``None``.

    Args:
      schedule: a :class:`jaxdecay.Schedule`, or any callable (a plain callable's horizon is
        unknown: ``None``).

    Returns:
      A Python number for concrete Python/NumPy arguments, a ``jax.Array`` when an argument is
      one (or a tracer), or ``None`` when the value never becomes constant. A traced argument
      for which the value never settles (``exponential_decay`` towards ``end_value=0``) gives
      ``inf``.

    Raises:
      NotImplementedError: ``schedule`` is a :class:`jaxdecay.Schedule` whose constructor has
        no rule in :data:`RULES` (every registered constructor has one).

    Examples:
      >>> import jaxdecay
      >>> print(jaxdecay.warmup(jaxdecay.cosine_decay(0.1, 1000), warmup_steps=100).horizon)
      1100
      >>> print(jaxdecay.exponential_decay(0.1, 100, 0.5).horizon)
      None
    """
    if not isinstance(schedule, Schedule):
        return None
    rule = RULES.get(schedule.name)
    if rule is None:
        raise NotImplementedError(
            f"no horizon rule for the schedule {schedule.name!r}; add one to jaxdecay._replan.RULES"
        )
    return _plain(rule(schedule.arguments))


def _h(schedule: Any) -> Any:
    return horizon(schedule)


# --------------------------------------------------------------------------------------------
# The rules, one per constructor name.
# --------------------------------------------------------------------------------------------

_NEVER = (
    "natural_exp_decay",
    "inverse_time_decay",
    "inverse_sqrt_decay",
    "step_decay",
    "cosine_restarts",
    "cyclic",
    "repeat",
    "torch.CosineAnnealingWarmRestarts",
)


@_rule(*_NEVER)
def _never(a: Mapping[str, Any]) -> None:
    # Decays that approach their limit without reaching it, and schedules that restart
    # (`repeat` of a constant schedule is constant, but a repetition is there to restart).
    return None


@_rule("constant_schedule")
def _constant(a: Mapping[str, Any]) -> Any:
    return 0


@_rule("linear_schedule", "polynomial_schedule")
def _transition(a: Mapping[str, Any]) -> Any:
    return a["transition_begin"] + a["transition_steps"]


@_rule("polynomial_decay")
def _polynomial_decay(a: Mapping[str, Any]) -> Any:
    return None if a["cycle"] else a["decay_steps"]


@_rule("cosine_decay", "cosine_decay_schedule")
def _decay_steps(a: Mapping[str, Any]) -> Any:
    return a["decay_steps"]


@_rule("warmup_cosine_decay_schedule")
def _warmup_cosine(a: Mapping[str, Any]) -> Any:
    # `decay_steps` includes the warmup; a (traced) shorter one ends the schedule at the warmup.
    return _max(a["decay_steps"], a["warmup_steps"])


@_rule("sgdr_schedule")
def _sgdr(a: Mapping[str, Any]) -> Any:
    cycles = list(a["cosine_kwargs"])
    start = sum((kw["decay_steps"] for kw in cycles[:-1]), 0)
    return start + _warmup_cosine(cycles[-1])


@_rule("warmup_constant_schedule")
def _warmup_constant(a: Mapping[str, Any]) -> Any:
    return a["warmup_steps"]


@_rule("warmup_stable_decay")
def _wsd(a: Mapping[str, Any]) -> Any:
    return a["warmup_steps"] + a["stable_steps"] + a["decay_steps"]


@_rule("linear_onecycle_schedule", "cosine_onecycle_schedule")
def _onecycle_optax(a: Mapping[str, Any]) -> Any:
    return a["transition_steps"]


@_rule("one_cycle")
def _one_cycle(a: Mapping[str, Any]) -> Any:
    # PyTorch's OneCycleLR reaches its final value at step total_steps - 1.
    return _max(a["total_steps"] - 1, 0)


def _exponential(a: Mapping[str, Any]) -> Any:
    r"""Where :math:`I r^{(t - B)/T}` meets ``end_value`` :math:`E`: :math:`k = \log(E/I)/\log r`
    transitions after :math:`B` (:math:`\lceil k \rceil` for the staircase), 0 when :math:`E` is
    on the other side of :math:`I` (the clamp holds :math:`E` from the start)."""
    end = a["end_value"]
    if end is None:
        return None
    init, rate = a["init_value"], a["decay_rate"]
    steps, begin = a["transition_steps"], a["transition_begin"]
    xp = _xp(init, rate, steps, begin, end)
    dt = float_dtype(init, rate, steps, begin, end) if xp is jnp else np.float64
    init, rate, end = (xp.asarray(x, dt) for x in (init, rate, end))
    ratio = end / xp.where(init == 0, 1, init)
    reaches = (ratio > 0) & (init != 0)
    log_rate = xp.log(xp.where(rate > 0, rate, 1))
    k = xp.log(xp.where(reaches, ratio, 1)) / xp.where(log_rate == 0, 1, log_rate)
    k = xp.where(log_rate == 0, 0, k)  # rate 1: constant from the start
    if a["staircase"]:
        k = xp.ceil(k)
    h = xp.where(k > 0, xp.asarray(begin, dt) + xp.asarray(steps, dt) * k, 0)
    h = xp.where(reaches | (log_rate == 0), h, xp.inf)
    if xp is np:
        h = float(h)
        if math.isinf(h):
            return None
        return int(h) if h == int(h) else h
    return h


@_rule("exponential_decay")
def _exponential_decay(a: Mapping[str, Any]) -> Any:
    return _exponential(a)


@_rule("warmup_exponential_decay_schedule")
def _warmup_exponential(a: Mapping[str, Any]) -> Any:
    # The exponential decay starts at `peak_value` when the warmup ends.
    h = _exponential({**a, "init_value": a["peak_value"]})
    return None if h is None else a["warmup_steps"] + h


@_rule("piecewise_constant", "piecewise_linear")
def _piecewise(a: Mapping[str, Any]) -> Any:
    return _last(a["boundaries"])


@_rule("multistep_decay")
def _multistep(a: Mapping[str, Any]) -> Any:
    return _last(a["milestones"])


@_rule("piecewise_constant_schedule", "piecewise_interpolate_schedule")
def _boundaries_and_scales(a: Mapping[str, Any]) -> Any:
    keys = list((a["boundaries_and_scales"] or {}).keys())
    return max([0, *keys])


@_rule("keras.PiecewiseConstantDecay")
def _keras_piecewise(a: Mapping[str, Any]) -> Any:
    # Keras switches one count after each boundary.
    return _last(a["boundaries"]) + 1


@_rule("join_schedules")
def _join(a: Mapping[str, Any]) -> Any:
    last = _h(list(a["schedules"])[-1])
    return None if last is None else _last(a["boundaries"]) + last


@_rule("torch.LinearLR", "torch.ConstantLR", "torch.PolynomialLR")
def _total_iters(a: Mapping[str, Any]) -> Any:
    return a["total_iters"]


@_rule("warmup")
def _warmup(a: Mapping[str, Any]) -> Any:
    h = _h(a["schedule"])
    return None if h is None else a["warmup_steps"] + h


@_rule("scale", "clip")
def _same(a: Mapping[str, Any]) -> Any:
    return _h(a["schedule"])


@_rule("multiply", "add")
def _pointwise(a: Mapping[str, Any]) -> Any:
    hs = [_h(s) for s in a["schedules"]]
    return None if any(h is None for h in hs) else _max(*hs)


@_rule("shift")
def _shift(a: Mapping[str, Any]) -> Any:
    h = _h(a["schedule"])
    return None if h is None else _max(h + a["steps"], 0)


@_rule("per_epoch")
def _per_epoch(a: Mapping[str, Any]) -> Any:
    h = _h(a["schedule"])
    if h is None:
        return None
    return (h if isinstance(h, int) else _xp(h).ceil(h)) * a["steps_per_epoch"]


@_rule("stretch")
def _stretch(a: Mapping[str, Any]) -> Any:
    h = _h(a["schedule"])
    return None if h is None else h * a["factor"]


@_rule("replan")
def _replan(a: Mapping[str, Any]) -> Any:
    return _max(a["new_end"], a["at_count"])


# --------------------------------------------------------------------------------------------
# replan
# --------------------------------------------------------------------------------------------


@schedule_factory
def replan(
    schedule: Callable[[jax.typing.ArrayLike], jax.typing.ArrayLike],
    at_count: jax.typing.ArrayLike,
    new_end: jax.typing.ArrayLike,
    *,
    old_end: jax.typing.ArrayLike | None = None,
) -> Callable[[jax.typing.ArrayLike], jax.Array]:
    r"""Change a run's length in the middle: the rest of ``schedule`` ends at ``new_end``.

    .. math::

      g(t) = \begin{cases}
        f(t) & t \le a \\
        f\!\left(H' - (H' - a)\,\dfrac{N - t}{N - a}\right) & a < t < N \\
        f(H') & t \ge N
      \end{cases}
      \qquad H' = \max(H, a),

    with :math:`f` the ``schedule``, :math:`a` the ``at_count``, :math:`N` the ``new_end`` and
    :math:`H` the ``old_end`` (by default ``schedule.horizon``, the count from which
    :math:`f` is constant). The part of the curve still ahead at :math:`a`,
    :math:`[a, H]`, is stretched (:math:`N > H`: a longer run) or squeezed (:math:`N < H`: a
    shorter one) onto :math:`[a, N]`, so that

    - the value is continuous at :math:`a` (:math:`g(a) = f(a)`, and the step from
      :math:`a - 1` to :math:`a` is :math:`f`'s own);
    - the final value :math:`f(H)` is reached exactly at :math:`N` (the fraction is computed as
      :math:`(N - t)/(N - a)`, which is 0 at :math:`t = N`, also under ``jit``);
    - a stretched curve changes no faster than :math:`f` did; a squeezed one about
      :math:`(H - a)/(N - a)` times faster (its jumps, if any, keep their size).

    A run already past its horizon (:math:`a \ge H`, e.g. resuming a finished run with more
    epochs) stays at :math:`f(a)`: the schedule is over and there is nothing left to stretch.
    The value after :math:`N` is held (also when :math:`f` itself would go on, as a cyclic
    schedule replanned with an explicit ``old_end`` does), so ``replan(...).horizon`` is
    :math:`\max(N, a)`. Counts from :math:`a` on reach ``schedule`` as floats.

    Args:
      schedule: the schedule of the run so far (any callable ``count -> value``; one with no
        horizon needs ``old_end``).
      at_count: :math:`a \ge 0`, the number of updates done (the first count of the new plan),
        traceable.
      new_end: :math:`N > a`, the new total number of updates, traceable. (A traced
        :math:`N \le a` ends the schedule at :math:`a`: :math:`f(H')` from there on, never NaN.)
      old_end: :math:`H \ge 0`, the count at which ``schedule``'s curve ends, traceable;
        ``None`` (default) uses ``schedule.horizon``.

    Returns:
      The schedule ``count -> value``.

    Raises:
      ValueError: ``old_end`` is ``None`` and ``schedule`` has no horizon; a negative,
        NaN or infinite ``at_count``/``old_end``; ``new_end <= at_count`` (when concrete).
      TypeError: ``schedule`` is not callable.

    Examples:
      >>> import jaxdecay
      >>> s = jaxdecay.cosine_decay(1.0, decay_steps=100)
      >>> longer = jaxdecay.replan(s, at_count=50, new_end=150)
      >>> print(", ".join(f"{float(longer(t)):.3f}" for t in (49, 50, 51, 100, 150, 200)))
      0.516, 0.500, 0.492, 0.146, 0.000, 0.000
      >>> print(longer.horizon)
      150
      >>> shorter = jaxdecay.replan(s, at_count=50, new_end=75)
      >>> print(", ".join(f"{float(shorter(t)):.3f}" for t in (50, 60, 75)))
      0.500, 0.206, 0.000
    """
    V.check_callable("schedule", schedule)
    V.check_nonnegative("at_count", at_count)
    V.check_number("new_end", new_end)
    if old_end is None:
        end = required_horizon(
            schedule, "old_end", "say where its curve ends, e.g. `old_end=<planned updates>`"
        )
    else:
        V.check_nonnegative("old_end", old_end)
        end = old_end
    a_val = V.concrete_value("at_count", at_count)
    n_val = V.concrete_value("new_end", new_end)
    if a_val is not None and n_val is not None and np.any(n_val <= a_val):
        raise ValueError(
            f"`new_end` must be > `at_count`, got new_end={np.asarray(new_end).tolist()!r}, "
            f"at_count={np.asarray(at_count).tolist()!r}"
        )

    def fn(count: jax.typing.ArrayLike) -> jax.Array:
        t = as_count(count)
        dt = float_dtype(at_count, new_end, end)
        tf = t.astype(dt)
        a = jnp.asarray(at_count, dt)
        n = jnp.asarray(new_end, dt)
        h = jnp.maximum(jnp.asarray(end, dt), a)
        # (N - t) / (N - a): 1 at a, exactly 0 from N on (0 too for a traced N <= a).
        left = remaining(tf - a, n - a)
        warped = h - left * (h - a)
        before = jnp.asarray(schedule(t))
        after = jnp.asarray(schedule(warped))
        out = jnp.result_type(before.dtype, after.dtype)
        return jnp.where(tf <= a, before.astype(out), after.astype(out))

    return fn
