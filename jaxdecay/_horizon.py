r"""A schedule's horizon: the count from which its value is constant.

The *horizon* of a schedule :math:`f` is the count :math:`H` from which its value is constant,
:math:`f(t) = f(H)` for every :math:`t \ge H` (``None`` when there is none: the value keeps
changing, or restarts). It is read off the schedule's own arguments by one rule per constructor
name (below), so it is as traceable as the arguments: a schedule built from traced arguments has
a traced horizon. The rule gives the end of the last phase the arguments define; for special
values the value may settle earlier (a cosine decay with ``exponent=0``, a :func:`jaxdecay.clip`
that cuts the tail off), which makes :math:`H` an upper bound, never too early.

The horizon is what :func:`jaxdecay.replan` re-times and what :func:`jaxdecay.budget` maps
progress 1 to. The rules register themselves with :func:`jaxdecay._core.horizon_rule`, which
:attr:`jaxdecay.Schedule.horizon` reads: the core knows that a schedule has a horizon rule, and
nothing of what uses it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxdecay._core import Schedule, horizon_rule
from jaxdecay._numeric import float_dtype

__all__ = ["horizon", "required_horizon"]


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
        no horizon rule (every registered constructor has one).

    Examples:
      >>> import jaxdecay
      >>> print(jaxdecay.warmup(jaxdecay.cosine_decay(0.1, 1000), warmup_steps=100).horizon)
      1100
      >>> print(jaxdecay.exponential_decay(0.1, 100, 0.5).horizon)
      None
    """
    if not isinstance(schedule, Schedule):
        return None
    return schedule.horizon


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


@horizon_rule(*_NEVER)
def _never(a: Mapping[str, Any]) -> None:
    # Decays that approach their limit without reaching it, and schedules that restart
    # (`repeat` of a constant schedule is constant, but a repetition is there to restart).
    return None


@horizon_rule("constant_schedule")
def _constant(a: Mapping[str, Any]) -> Any:
    return 0


@horizon_rule("linear_schedule", "polynomial_schedule")
def _transition(a: Mapping[str, Any]) -> Any:
    return a["transition_begin"] + a["transition_steps"]


@horizon_rule("polynomial_decay")
def _polynomial_decay(a: Mapping[str, Any]) -> Any:
    return None if a["cycle"] else a["decay_steps"]


@horizon_rule("cosine_decay", "cosine_decay_schedule")
def _decay_steps(a: Mapping[str, Any]) -> Any:
    return a["decay_steps"]


@horizon_rule("warmup_cosine_decay_schedule")
def _warmup_cosine(a: Mapping[str, Any]) -> Any:
    # `decay_steps` includes the warmup; a (traced) shorter one ends the schedule at the warmup.
    return _max(a["decay_steps"], a["warmup_steps"])


@horizon_rule("sgdr_schedule")
def _sgdr(a: Mapping[str, Any]) -> Any:
    cycles = list(a["cosine_kwargs"])
    start = sum((kw["decay_steps"] for kw in cycles[:-1]), 0)
    return start + _warmup_cosine(cycles[-1])


@horizon_rule("warmup_constant_schedule")
def _warmup_constant(a: Mapping[str, Any]) -> Any:
    return a["warmup_steps"]


@horizon_rule("warmup_stable_decay")
def _wsd(a: Mapping[str, Any]) -> Any:
    return a["warmup_steps"] + a["stable_steps"] + a["decay_steps"]


@horizon_rule("linear_onecycle_schedule", "cosine_onecycle_schedule")
def _onecycle_optax(a: Mapping[str, Any]) -> Any:
    return a["transition_steps"]


@horizon_rule("one_cycle")
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


@horizon_rule("exponential_decay")
def _exponential_decay(a: Mapping[str, Any]) -> Any:
    return _exponential(a)


@horizon_rule("warmup_exponential_decay_schedule")
def _warmup_exponential(a: Mapping[str, Any]) -> Any:
    # The exponential decay starts at `peak_value` when the warmup ends.
    h = _exponential({**a, "init_value": a["peak_value"]})
    return None if h is None else a["warmup_steps"] + h


@horizon_rule("piecewise_constant", "piecewise_linear")
def _piecewise(a: Mapping[str, Any]) -> Any:
    return _last(a["boundaries"])


@horizon_rule("multistep_decay")
def _multistep(a: Mapping[str, Any]) -> Any:
    return _last(a["milestones"])


@horizon_rule("piecewise_constant_schedule", "piecewise_interpolate_schedule")
def _boundaries_and_scales(a: Mapping[str, Any]) -> Any:
    keys = list((a["boundaries_and_scales"] or {}).keys())
    return max([0, *keys])


@horizon_rule("keras.PiecewiseConstantDecay")
def _keras_piecewise(a: Mapping[str, Any]) -> Any:
    # Keras switches one count after each boundary.
    return _last(a["boundaries"]) + 1


@horizon_rule("join_schedules")
def _join(a: Mapping[str, Any]) -> Any:
    last = horizon(list(a["schedules"])[-1])
    return None if last is None else _last(a["boundaries"]) + last


@horizon_rule("torch.LinearLR", "torch.ConstantLR", "torch.PolynomialLR")
def _total_iters(a: Mapping[str, Any]) -> Any:
    return a["total_iters"]


@horizon_rule("warmup")
def _warmup(a: Mapping[str, Any]) -> Any:
    h = horizon(a["schedule"])
    return None if h is None else a["warmup_steps"] + h


@horizon_rule("scale", "clip")
def _same(a: Mapping[str, Any]) -> Any:
    return horizon(a["schedule"])


@horizon_rule("multiply", "add")
def _pointwise(a: Mapping[str, Any]) -> Any:
    hs = [horizon(s) for s in a["schedules"]]
    return None if any(h is None for h in hs) else _max(*hs)


@horizon_rule("shift")
def _shift(a: Mapping[str, Any]) -> Any:
    h = horizon(a["schedule"])
    return None if h is None else _max(h + a["steps"], 0)


@horizon_rule("per_epoch")
def _per_epoch(a: Mapping[str, Any]) -> Any:
    h = horizon(a["schedule"])
    if h is None:
        return None
    return (h if isinstance(h, int) else _xp(h).ceil(h)) * a["steps_per_epoch"]


@horizon_rule("stretch")
def _stretch(a: Mapping[str, Any]) -> Any:
    h = horizon(a["schedule"])
    return None if h is None else h * a["factor"]


@horizon_rule("replan")
def _replan(a: Mapping[str, Any]) -> Any:
    return _max(a["new_end"], a["at_count"])
