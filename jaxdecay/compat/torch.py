r"""PyTorch's ``torch.optim.lr_scheduler`` classes as jaxdecay schedules.

Each constructor is named and parameterised like the PyTorch class it mirrors (without the
``optimizer`` and ``last_epoch`` arguments; the learning rate the optimizer was built with is the
first argument) and returns a :class:`jaxdecay.Schedule` whose value at ``count`` is the learning
rate PyTorch's scheduler holds after ``count`` calls of ``scheduler.step()`` (``count = 0`` is the
freshly constructed scheduler). The values are checked against PyTorch's own schedulers (the
versions in docs/versions.md), stepped for real, at every count of each documented domain
(``rtol = 1e-6`` in float64).

**Mapping one** ``scheduler.step()`` **to a count.** Optax calls a schedule with the number of
updates applied so far. A scheduler stepped once per optimizer update (``OneCycleLR``,
``CyclicLR``, or any scheduler stepped inside the batch loop) is used as is. A scheduler stepped
once per *epoch* (the usual ``StepLR(step_size=30)`` recipe) becomes
``jaxdecay.per_epoch(schedule, steps_per_epoch)``, or multiply its step arguments by
``steps_per_epoch``.

Where a class matches a core jaxdecay schedule exactly, the constructor returns that schedule
(``StepLR(0.1, 30)`` is ``step_decay(init_value=0.1, step_size=30)``: ``repr`` and
:func:`jaxdecay.to_config` name the native call). Classes that need a formula of their own
(``LinearLR``, ``ConstantLR``, ``PolynomialLR``, ``CosineAnnealingWarmRestarts``) are registered
as ``torch.LinearLR`` etc., names that :func:`jaxdecay.from_config` and :func:`jaxdecay.parse`
accept. Nothing from PyTorch is imported: this module works without it.

Every numeric argument is traceable (``jax.vmap`` over ``gamma``, ``T_max``, ``step_size``, ...);
arguments are checked only when concrete, and an invalid one raises a ``ValueError`` naming it.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxdecay import _validate as V
from jaxdecay._core import Schedule, ScheduleFn
from jaxdecay._cosine import cosine_decay, cosine_restarts
from jaxdecay._cyclic import cyclic, one_cycle
from jaxdecay._exponential import exponential_decay, step_decay
from jaxdecay._numeric import as_count, dtypes, offset, ramp, remaining, safe_pow
from jaxdecay._piecewise import multistep_decay
from jaxdecay.compat._register import registered

__all__ = [
    "StepLR",
    "MultiStepLR",
    "ExponentialLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "OneCycleLR",
    "CyclicLR",
    "LinearLR",
    "ConstantLR",
    "PolynomialLR",
]


_registered = registered("torch")


def StepLR(
    lr: jax.typing.ArrayLike,
    step_size: jax.typing.ArrayLike,
    gamma: jax.typing.ArrayLike = 0.1,
) -> Schedule:
    r"""PyTorch ``StepLR``: multiply by ``gamma`` every ``step_size`` steps.

    .. math::
      \eta(t) = \eta_0 \, \gamma^{\lfloor t / S \rfloor}

    where :math:`\eta_0` is ``lr`` and :math:`S` is ``step_size``. Returns
    :func:`jaxdecay.step_decay` ``(lr, step_size, gamma)``.

    Domain: every count (PyTorch multiplies ``gamma`` in recursively, ``gamma ** k`` here; the
    two agree to rounding).

    Args:
      lr: the optimizer's learning rate (PyTorch's ``base_lr``), the value at count 0.
      step_size: :math:`S > 0`, ``scheduler.step()`` calls between decays.
      gamma: the factor per decay, in ``[0, 1]`` (PyTorch does not check it; a growing
        ``StepLR`` is refused here).

    Returns:
      A :class:`jaxdecay.Schedule`.

    Raises:
      ValueError: ``step_size <= 0``, ``gamma`` outside ``[0, 1]`` or NaN (concrete values only).

    Examples:
      >>> from jaxdecay.compat import torch as lr_scheduler
      >>> s = lr_scheduler.StepLR(0.1, step_size=3, gamma=0.5)
      >>> print(*[f"{float(s(t)):.3f}" for t in range(7)])
      0.100 0.100 0.100 0.050 0.050 0.050 0.025

    References:
      PyTorch, `StepLR <https://pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.StepLR.html>`_
    """  # noqa: E501
    with V.renamed_arguments({"init_value": "lr"}):
        return step_decay(lr, step_size, gamma)


def MultiStepLR(
    lr: jax.typing.ArrayLike,
    milestones: Any,
    gamma: jax.typing.ArrayLike = 0.1,
) -> Schedule:
    r"""PyTorch ``MultiStepLR``: multiply by ``gamma`` at each milestone.

    .. math::
      \eta(t) = \eta_0 \, \gamma^{\#\{i : m_i \le t\}}

    Returns :func:`jaxdecay.multistep_decay` ``(lr, milestones, gamma)``. As in PyTorch (a
    ``Counter``), the milestones are a multiset: order does not matter and a repeated milestone
    applies ``gamma`` twice; a milestone at 0 already applies at count 0.

    Domain: every count.

    Args:
      lr: the optimizer's learning rate, the value before the first milestone.
      milestones: ``scheduler.step()`` counts ``>= 0`` (a list or 1-D array; traceable entries).
      gamma: the factor per milestone, ``>= 0``.

    Returns:
      A :class:`jaxdecay.Schedule`.

    Raises:
      ValueError: a negative or NaN milestone or ``gamma`` (concrete values only).
      TypeError: ``milestones`` is not a list or a 1-D array.

    Examples:
      >>> from jaxdecay.compat import torch as lr_scheduler
      >>> s = lr_scheduler.MultiStepLR(0.1, milestones=[2, 5], gamma=0.1)
      >>> print(*[f"{float(s(t)):.4f}" for t in range(7)])
      0.1000 0.1000 0.0100 0.0100 0.0100 0.0010 0.0010

    References:
      PyTorch, `MultiStepLR <https://pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.MultiStepLR.html>`_
    """  # noqa: E501
    with V.renamed_arguments({"init_value": "lr"}):
        return multistep_decay(lr, milestones, gamma)


def ExponentialLR(lr: jax.typing.ArrayLike, gamma: jax.typing.ArrayLike) -> Schedule:
    r"""PyTorch ``ExponentialLR``: multiply by ``gamma`` at every step.

    .. math::
      \eta(t) = \eta_0 \, \gamma^{t}

    Returns :func:`jaxdecay.exponential_decay` ``(lr, transition_steps=1, decay_rate=gamma)``.

    Domain: every count (PyTorch multiplies recursively; the values agree to rounding).

    Args:
      lr: the optimizer's learning rate, the value at count 0.
      gamma: the factor per step, ``> 0`` (``> 1`` grows, saturating at the largest float).

    Returns:
      A :class:`jaxdecay.Schedule`.

    Raises:
      ValueError: ``gamma <= 0`` or NaN (concrete values only).

    Examples:
      >>> from jaxdecay.compat import torch as lr_scheduler
      >>> s = lr_scheduler.ExponentialLR(0.1, gamma=0.9)
      >>> print(*[f"{float(s(t)):.4f}" for t in range(4)])
      0.1000 0.0900 0.0810 0.0729

    References:
      PyTorch, `ExponentialLR <https://pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.ExponentialLR.html>`_
    """  # noqa: E501
    with V.renamed_arguments({"init_value": "lr", "decay_rate": "gamma"}):
        return exponential_decay(lr, 1, gamma)


def CosineAnnealingLR(
    lr: jax.typing.ArrayLike,
    T_max: jax.typing.ArrayLike,
    eta_min: jax.typing.ArrayLike = 0.0,
) -> Schedule:
    r"""PyTorch ``CosineAnnealingLR``: half a cosine from ``lr`` down to ``eta_min``.

    .. math::
      \eta(t) = \eta_{min} + (\eta_0 - \eta_{min})\,
        \tfrac12\left(1 + \cos\frac{\pi \min(t, T)}{T}\right)

    where :math:`T` is ``T_max``. Returns :func:`jaxdecay.cosine_decay`
    ``(lr, T_max, end_value=eta_min)``.

    Domain: counts ``0 .. T_max``; after ``T_max`` jaxdecay holds ``eta_min``. PyTorch's
    recursive update keeps following the cosine there, so its learning rate rises back towards
    ``lr`` (reached at ``2 * T_max``) and falls again. For a schedule that restarts, use
    :func:`CosineAnnealingWarmRestarts`.

    Args:
      lr: the optimizer's learning rate, the value at count 0.
      T_max: :math:`T > 0`, steps of the half cosine.
      eta_min: the value at ``T_max`` and after.

    Returns:
      A :class:`jaxdecay.Schedule`.

    Raises:
      ValueError: ``T_max <= 0`` or NaN (concrete values only).

    Examples:
      >>> from jaxdecay.compat import torch as lr_scheduler
      >>> s = lr_scheduler.CosineAnnealingLR(0.1, T_max=4, eta_min=0.01)
      >>> print(*[f"{float(s(t)):.4f}" for t in range(6)])
      0.1000 0.0868 0.0550 0.0232 0.0100 0.0100

    References:
      PyTorch, `CosineAnnealingLR <https://pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.CosineAnnealingLR.html>`_;
      Loshchilov & Hutter, `SGDR <https://arxiv.org/abs/1608.03983>`_, 2017
    """  # noqa: E501
    with V.renamed_arguments({"init_value": "lr", "decay_steps": "T_max", "end_value": "eta_min"}):
        return cosine_decay(lr, T_max, end_value=eta_min)


@_registered
@V.scalar_arguments(steps=("T_0",))
def CosineAnnealingWarmRestarts(
    lr: jax.typing.ArrayLike,
    T_0: jax.typing.ArrayLike,
    T_mult: jax.typing.ArrayLike = 1,
    eta_min: jax.typing.ArrayLike = 0.0,
) -> ScheduleFn:
    r"""PyTorch ``CosineAnnealingWarmRestarts`` (SGDR), stepped without an ``epoch`` argument.

    Cycle :math:`i = 0, 1, \dots` lasts :math:`T_i = T_0 \, T_{mult}^i` steps. With
    :math:`T_{cur}` the steps since the last restart:

    .. math::
      \eta(t) = \eta_{min} + (\eta_0 - \eta_{min})\,
        \tfrac12\left(1 + \cos\frac{\pi T_{cur}}{T_i}\right)

    This is PyTorch's epoch-counting ``T_cur``/``T_i`` bookkeeping of ``scheduler.step()``
    (``T_cur += 1``; at ``T_cur >= T_i`` a restart: ``T_cur -= T_i``, ``T_i *= T_mult``), in
    closed form: the value is back at ``lr`` exactly at each restart. The cycle index comes
    from :func:`jaxdecay.cosine_restarts`, exact at the restarts also in float32 and under
    ``jit``.

    Domain: every count. Fractional epochs (``scheduler.step(epoch + i / iters)``, PyTorch's
    per-batch idiom for this class) are the float count ``epoch + i / iters`` here: the same
    formula; ``jaxdecay.stretch(schedule, iters)`` runs it on a count of updates.

    Args:
      lr: the optimizer's learning rate, the value at count 0 and at each restart.
      T_0: :math:`T_0 > 0`, the length of the first cycle.
      T_mult: :math:`T_{mult} \ge 1`, the growth of each cycle's length (an integer in
        PyTorch; other values give geometric cycles).
      eta_min: :math:`\eta_{min}`, the floor each cycle decays towards.

    Returns:
      A :class:`jaxdecay.Schedule`.

    Raises:
      ValueError: ``T_0 <= 0``, ``T_mult < 1`` or NaN (concrete values only).

    Examples:
      >>> from jaxdecay.compat import torch as lr_scheduler
      >>> s = lr_scheduler.CosineAnnealingWarmRestarts(0.1, T_0=2, T_mult=2)
      >>> print(*[f"{float(s(t)):.4f}" for t in range(8)])
      0.1000 0.0500 0.1000 0.0854 0.0500 0.0146 0.1000 0.0962

    References:
      PyTorch, `CosineAnnealingWarmRestarts <https://pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.CosineAnnealingWarmRestarts.html>`_;
      Loshchilov & Hutter, `SGDR <https://arxiv.org/abs/1608.03983>`_, 2017
    """  # noqa: E501
    V.check_number("lr", lr)
    V.check_positive("T_0", T_0)
    V.check_range("T_mult", T_mult, 1.0)
    V.check_number("eta_min", eta_min)
    restarts = cosine_restarts(1.0, T_0, T_mult)

    def schedule(count):
        out, dt = dtypes(lr, T_0, T_mult, eta_min)
        # 0.5 * (1 + cos(pi * T_cur / T_i)), from the cycle bookkeeping of cosine_restarts.
        unit = restarts(count).astype(dt)
        low = jnp.asarray(eta_min, dt)
        return (low + (jnp.asarray(lr, dt) - low) * unit).astype(out)

    return schedule


def OneCycleLR(
    max_lr: jax.typing.ArrayLike,
    total_steps: jax.typing.ArrayLike,
    pct_start: jax.typing.ArrayLike = 0.3,
    anneal_strategy: str = "cos",
    div_factor: jax.typing.ArrayLike = 25.0,
    final_div_factor: jax.typing.ArrayLike = 1e4,
    three_phase: bool = False,
) -> Schedule:
    r"""PyTorch ``OneCycleLR``: the 1cycle policy, stepped once per update.

    With :math:`N` = ``total_steps``, the value rises from ``max_lr / div_factor`` to ``max_lr``
    until step ``pct_start * N - 1``, then falls to ``max_lr / div_factor / final_div_factor``
    at step ``N - 1`` (``three_phase``: back to the initial value at ``2 pct_start N - 2``
    first), by cosine or linear annealing. Returns :func:`jaxdecay.one_cycle`.

    Domain: counts ``0 .. total_steps - 1``; jaxdecay holds the final value after. PyTorch
    accepts one more ``step()`` (count ``total_steps``, where it extrapolates the last phase)
    and raises after that. PyTorch's ``epochs`` and ``steps_per_epoch`` arguments are
    ``total_steps = epochs * steps_per_epoch``; momentum cycling (``cycle_momentum``) is not a
    learning rate: schedule the momentum with ``one_cycle`` on the momentum values if needed.

    Args:
      max_lr: the peak learning rate.
      total_steps: :math:`N > 0`, the number of ``scheduler.step()`` calls in the cycle.
      pct_start: the fraction of the cycle spent rising, in ``(0, 1)``.
      anneal_strategy: ``"cos"`` or ``"linear"`` (static).
      div_factor: ``max_lr`` over the initial learning rate, ``> 0``.
      final_div_factor: the initial learning rate over the final one, ``> 0``.
      three_phase: the three-phase variant of the original paper (static).

    Returns:
      A :class:`jaxdecay.Schedule`.

    Raises:
      ValueError: invalid values (concrete values only) or an unknown ``anneal_strategy``.

    Examples:
      >>> from jaxdecay.compat import torch as lr_scheduler
      >>> s = lr_scheduler.OneCycleLR(0.1, total_steps=10, pct_start=0.3)
      >>> print(*[f"{float(s(t)):.4f}" for t in (0, 1, 2, 5, 9)])
      0.0040 0.0520 0.1000 0.0611 0.0000

    References:
      PyTorch, `OneCycleLR <https://pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.OneCycleLR.html>`_;
      Smith & Topin, `Super-Convergence <https://arxiv.org/abs/1708.07120>`_, 2017
    """  # noqa: E501
    with V.renamed_arguments({"max_value": "max_lr"}):
        return one_cycle(
            max_lr,
            total_steps,
            pct_start=pct_start,
            anneal_strategy=anneal_strategy,
            div_factor=div_factor,
            final_div_factor=final_div_factor,
            three_phase=three_phase,
        )


def CyclicLR(
    base_lr: jax.typing.ArrayLike,
    max_lr: jax.typing.ArrayLike,
    step_size_up: jax.typing.ArrayLike = 2000,
    step_size_down: jax.typing.ArrayLike | None = None,
    mode: str = "triangular",
    gamma: jax.typing.ArrayLike = 1.0,
) -> Schedule:
    r"""PyTorch ``CyclicLR``: triangular cycles between ``base_lr`` and ``max_lr``.

    Each cycle rises for ``step_size_up`` steps and falls for ``step_size_down`` (default:
    ``step_size_up``); the amplitude is constant (``"triangular"``), halves every cycle
    (``"triangular2"``) or is multiplied by ``gamma ** t`` (``"exp_range"``). Returns
    :func:`jaxdecay.cyclic`.

    Domain: every count. The learning rate at count 0 is ``base_lr`` (PyTorch overwrites the
    optimizer's learning rate with it). Custom ``scale_fn``/``scale_mode`` are not supported
    (compose jaxdecay schedules instead); momentum cycling is not a learning rate.

    Args:
      base_lr: the value at the bottom of each cycle.
      max_lr: the value at the top of the first cycle.
      step_size_up: steps rising, ``> 0``.
      step_size_down: steps falling, ``>= 0``, or ``None`` for ``step_size_up``.
      mode: ``"triangular"``, ``"triangular2"`` or ``"exp_range"`` (static).
      gamma: the ``"exp_range"`` factor per step, in ``(0, 1]``.

    Returns:
      A :class:`jaxdecay.Schedule`.

    Raises:
      ValueError: invalid values (concrete values only) or an unknown ``mode``.

    Examples:
      >>> from jaxdecay.compat import torch as lr_scheduler
      >>> s = lr_scheduler.CyclicLR(0.01, 0.1, step_size_up=2, mode="triangular2")
      >>> print(*[f"{float(s(t)):.4f}" for t in range(7)])
      0.0100 0.0550 0.1000 0.0550 0.0100 0.0325 0.0550

    References:
      PyTorch, `CyclicLR <https://pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.CyclicLR.html>`_;
      Smith, `Cyclical Learning Rates <https://arxiv.org/abs/1506.01186>`_, 2017
    """  # noqa: E501
    with V.renamed_arguments({"base_value": "base_lr", "max_value": "max_lr"}):
        return cyclic(
            base_lr,
            max_lr,
            step_size_up=step_size_up,
            step_size_down=step_size_down,
            mode=mode,
            gamma=gamma,
        )


def _iters_left(t, total_iters, dt):
    """``(T - min(t, T)) / T``; 1 when ``T == 0`` (PyTorch then never leaves its first value)."""
    T = jnp.asarray(total_iters, dt)
    return jnp.where(T > 0, remaining(jnp.clip(t, 0, jnp.maximum(T, 0)), T), 1)


@_registered
@V.scalar_arguments(steps=("total_iters",))
def LinearLR(
    lr: jax.typing.ArrayLike,
    start_factor: jax.typing.ArrayLike = 1.0 / 3,
    end_factor: jax.typing.ArrayLike = 1.0,
    total_iters: jax.typing.ArrayLike = 5,
) -> ScheduleFn:
    r"""PyTorch ``LinearLR``: a factor moving linearly from ``start_factor`` to ``end_factor``.

    .. math::
      \eta(t) = \eta_0 \left(f_s + (f_e - f_s) \frac{\min(t, T)}{T}\right)

    where :math:`T` is ``total_iters``, held at :math:`\eta_0 f_e` after :math:`T`. PyTorch
    updates the learning rate recursively (one ratio per step); the product telescopes to this
    closed form and agrees to rounding. With ``total_iters = 0`` PyTorch never leaves
    :math:`\eta_0 f_s`, and neither does this schedule. As a warmup before another scheduler
    (PyTorch's ``SequentialLR``), see :func:`jaxdecay.warmup` / :func:`jaxdecay.join_schedules`.

    Domain: every count.

    Args:
      lr: the optimizer's learning rate :math:`\eta_0`.
      start_factor: :math:`f_s`, the factor at count 0 (PyTorch: in ``(0, 1]``).
      end_factor: :math:`f_e`, the factor from ``total_iters`` on (PyTorch: in ``[0, 1]``).
      total_iters: :math:`T \ge 0`, steps of the linear change.

    Returns:
      A :class:`jaxdecay.Schedule`.

    Raises:
      ValueError: ``start_factor`` outside ``(0, 1]``, ``end_factor`` outside ``[0, 1]``,
        ``total_iters < 0`` or NaN (concrete values only), as PyTorch refuses them.

    Examples:
      >>> from jaxdecay.compat import torch as lr_scheduler
      >>> s = lr_scheduler.LinearLR(0.1, start_factor=0.25, total_iters=3)
      >>> print(*[f"{float(s(t)):.4f}" for t in range(5)])
      0.0250 0.0500 0.0750 0.1000 0.1000

    References:
      PyTorch, `LinearLR <https://pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.LinearLR.html>`_
    """  # noqa: E501
    V.check_number("lr", lr)
    V.check_range("start_factor", start_factor, 0.0, 1.0, low_inclusive=False)
    V.check_range("end_factor", end_factor, 0.0, 1.0)
    V.check_nonnegative("total_iters", total_iters)

    def schedule(count):
        out, dt = dtypes(lr, start_factor, end_factor, total_iters)
        t = as_count(count).astype(dt)
        start = jnp.asarray(start_factor, dt)
        end = jnp.asarray(end_factor, dt)
        T = jnp.asarray(total_iters, dt)
        # PyTorch never leaves the start factor when total_iters == 0.
        factor = jnp.where(T > 0, ramp(start, end, t, T), start)
        return (jnp.asarray(lr, dt) * factor).astype(out)

    return schedule


@_registered
@V.scalar_arguments(steps=("total_iters",))
def ConstantLR(
    lr: jax.typing.ArrayLike,
    factor: jax.typing.ArrayLike = 1.0 / 3,
    total_iters: jax.typing.ArrayLike = 5,
) -> ScheduleFn:
    r"""PyTorch ``ConstantLR``: ``lr * factor`` for ``total_iters`` steps, then ``lr``.

    .. math::
      \eta(t) = \begin{cases} \eta_0 f, & t < T \\ \eta_0, & t \ge T \end{cases}

    where :math:`f` is ``factor`` and :math:`T` is ``total_iters``. With ``total_iters = 0``
    PyTorch's recursive update never undoes the factor (its value stays :math:`\eta_0 f`), and
    neither does this schedule.

    Domain: every count.

    Args:
      lr: the optimizer's learning rate :math:`\eta_0`.
      factor: :math:`f`, in ``[0, 1]`` (as PyTorch checks).
      total_iters: :math:`T \ge 0`, steps at the reduced value.

    Returns:
      A :class:`jaxdecay.Schedule`.

    Raises:
      ValueError: ``factor`` outside ``[0, 1]``, ``total_iters < 0`` or NaN (concrete values
        only).

    Examples:
      >>> from jaxdecay.compat import torch as lr_scheduler
      >>> s = lr_scheduler.ConstantLR(0.1, factor=0.5, total_iters=2)
      >>> print(*[f"{float(s(t)):.3f}" for t in range(4)])
      0.050 0.050 0.100 0.100

    References:
      PyTorch, `ConstantLR <https://pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.ConstantLR.html>`_
    """  # noqa: E501
    V.check_number("lr", lr)
    V.check_range("factor", factor, 0.0, 1.0)
    V.check_nonnegative("total_iters", total_iters)

    def schedule(count):
        out, dt = dtypes(lr, factor, total_iters)
        t = as_count(count)
        T = jnp.asarray(total_iters, dt)
        base = jnp.asarray(lr, dt)
        reduced = (offset(t, total_iters, dtype=dt) < 0) | (T == 0)
        return jnp.where(reduced, base * jnp.asarray(factor, dt), base).astype(out)

    return schedule


@_registered
@V.scalar_arguments(steps=("total_iters",))
def PolynomialLR(
    lr: jax.typing.ArrayLike,
    total_iters: jax.typing.ArrayLike = 5,
    power: jax.typing.ArrayLike = 1.0,
) -> ScheduleFn:
    r"""PyTorch ``PolynomialLR``: polynomial decay to 0 over ``total_iters`` steps.

    .. math::
      \eta(t) = \eta_0 \left(1 - \frac{\min(t, T)}{T}\right)^{p}

    where :math:`T` is ``total_iters`` and :math:`p` is ``power``; 0 from :math:`T` on (1 if
    :math:`p = 0`). PyTorch's recursive update (one ratio per step) telescopes to this closed
    form and agrees to rounding. With ``total_iters = 0`` PyTorch keeps :math:`\eta_0`, and so
    does this schedule. :func:`jaxdecay.polynomial_decay` is the same curve with an
    ``end_value``.

    Domain: every count.

    Args:
      lr: the optimizer's learning rate :math:`\eta_0`.
      total_iters: :math:`T \ge 0`, steps of the decay.
      power: :math:`p \ge 0`.

    Returns:
      A :class:`jaxdecay.Schedule`.

    Raises:
      ValueError: ``total_iters < 0``, ``power < 0`` or NaN (concrete values only).

    Examples:
      >>> from jaxdecay.compat import torch as lr_scheduler
      >>> s = lr_scheduler.PolynomialLR(0.1, total_iters=4, power=2.0)
      >>> print(*[f"{float(s(t)):.5f}" for t in range(6)])
      0.10000 0.05625 0.02500 0.00625 0.00000 0.00000

    References:
      PyTorch, `PolynomialLR <https://pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.PolynomialLR.html>`_
    """  # noqa: E501
    V.check_number("lr", lr)
    V.check_nonnegative("total_iters", total_iters)
    V.check_nonnegative("power", power)

    def schedule(count):
        out, dt = dtypes(lr, total_iters, power)
        t = as_count(count).astype(dt)
        left = _iters_left(t, total_iters, dt)
        return (jnp.asarray(lr, dt) * safe_pow(left, jnp.asarray(power, dt))).astype(out)

    return schedule
