"""One-cycle and cyclic schedules (Optax's onecycle schedules, PyTorch's OneCycleLR/CyclicLR)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxdecay import _validate as V
from jaxdecay._core import ScheduleFn, schedule_factory
from jaxdecay._cosine import cosine_decay
from jaxdecay._numeric import as_count, dtypes, floor_divmod, half_cosine, ramp, remaining, safe_pow
from jaxdecay._piecewise import join_schedules
from jaxdecay._polynomial import constant_schedule, linear_schedule

__all__ = ["linear_onecycle_schedule", "cosine_onecycle_schedule", "one_cycle", "cyclic"]


def _anneal(start, end, x, length, kind):
    """From ``start`` (at ``x = 0``) to ``end`` (at ``x = length``), linear or cosine."""
    if kind == "linear":
        return ramp(start, end, x, length)
    return end + (start - end) * half_cosine(remaining(x, length))


def _onecycle(kind, transition_steps, peak_value, pcts, scales):
    """Optax's one-cycle (``piecewise_interpolate_schedule`` semantics), as ``join_schedules``.

    The phases end at ``int(pct * N)`` (Python rounding, as Optax, for concrete arguments; a
    float32 floor for traced ones) and ``N``; phase ``i`` runs from value ``v_i`` to ``v_{i+1}``
    over ``max(length, 1)`` counts (``linear_schedule`` or ``cosine_decay``), and the last value
    is held. Equal boundaries merge as in Optax's dict (the later scale wins): in Python for
    concrete boundaries, the same in eager mode and under ``jit``; with ``where`` for traced ones
    (a phase of length 0 is never active, and the phase before it heads for the value after the
    merge).
    """
    init = peak_value / scales[0]  # scales[0] is div_factor
    if all(V.is_concrete(x) for x in (transition_steps, *pcts)):
        n = float(np.asarray(transition_steps))
        table: dict = {}
        for p, sc in zip([*pcts, None], scales, strict=True):
            key = n if p is None else float(int(float(np.asarray(p)) * n))
            table[key] = sc
        keys = sorted(table)
        values = [init]
        for k in keys:
            values.append(values[-1] * table[k])
        lengths = [max(b - a, 1.0) for a, b in zip([0.0, *keys], keys, strict=False)]
        keys = [int(k) if k.is_integer() else k for k in keys]
        lengths = [int(x) if x.is_integer() else x for x in lengths]
    else:
        dt = jnp.result_type(float)
        n = jnp.asarray(transition_steps, dt)
        keys = [jnp.floor(jnp.asarray(p, dt) * n) for p in pcts] + [n]
        # Optax's dict merge: a scale whose key equals the next one is dropped...
        eff = [jnp.where(keys[i] == keys[i + 1], 1, sc) for i, sc in enumerate(scales[:-1])]
        eff.append(scales[-1])
        values = [init]
        for sc in eff:
            values.append(values[-1] * sc)
        # ...and a point takes the value of the last point with the same key.
        for i in reversed(range(1, len(keys))):
            values[i] = jnp.where(keys[i - 1] == keys[i], values[i + 1], values[i])
        starts = [jnp.zeros((), dt), *keys]
        lengths = [jnp.maximum(starts[i + 1] - starts[i], 1) for i in range(len(keys))]
    phases = []
    for i, length in enumerate(lengths):
        if kind == "linear":
            phases.append(linear_schedule(values[i], values[i + 1], length))
        else:
            phases.append(cosine_decay(values[i], length, end_value=values[i + 1]))
    phases.append(constant_schedule(values[-1]))
    return join_schedules(phases, keys)


def _check_onecycle(transition_steps, peak_value, div_factor, final_div_factor):
    V.check_positive("transition_steps", transition_steps)
    V.check_number("peak_value", peak_value)
    V.check_positive("div_factor", div_factor)
    V.check_positive("final_div_factor", final_div_factor)


@schedule_factory
@V.scalar_arguments(steps=("transition_steps",))
def linear_onecycle_schedule(
    transition_steps: jax.typing.ArrayLike,
    peak_value: jax.typing.ArrayLike,
    pct_start: jax.typing.ArrayLike = 0.3,
    pct_final: jax.typing.ArrayLike = 0.85,
    div_factor: jax.typing.ArrayLike = 25.0,
    final_div_factor: jax.typing.ArrayLike = 1e4,
) -> ScheduleFn:
    r"""Three linear phases: up to the peak, back down, then anneal (Optax-compatible).

    With :math:`N` = ``transition_steps``, :math:`P` = ``peak_value`` and :math:`I = P /`
    ``div_factor``: linear from :math:`I` to :math:`P` over ``[0, int(pct_start N))``, from
    :math:`P` back to :math:`I` until ``int(pct_final N)``, then to :math:`I /`
    ``final_div_factor`` at :math:`N`, held after. The phase boundaries are rounded with
    Python's ``int`` for concrete arguments (as Optax does) and with a float floor for traced
    ones (which may differ by one count on exact ties).

    Args:
      transition_steps: :math:`N > 0`, the length of the cycle.
      peak_value: :math:`P`.
      pct_start: fraction of :math:`N` spent rising, in ``[0, 1]``.
      pct_final: fraction of :math:`N` at which the second phase ends, in ``[pct_start, 1]``.
      div_factor: :math:`P / I > 0`.
      final_div_factor: :math:`I / \text{final value} > 0`.

    Returns:
      A :class:`jaxdecay.Schedule`.

    Raises:
      ValueError: ``transition_steps <= 0``, fractions outside ``[0, 1]`` or out of order,
        non-positive factors or NaN (concrete values only).

    Examples:
      >>> import jaxdecay
      >>> s = jaxdecay.linear_onecycle_schedule(100, 1.0, div_factor=10.0)
      >>> print(*[f"{float(s(t)):.3f}" for t in (0, 30, 85, 100)])
      0.100 1.000 0.100 0.000

    References:
      Smith & Topin, `Super-Convergence <https://arxiv.org/abs/1708.07120>`_, 2017
    """
    _check_onecycle(transition_steps, peak_value, div_factor, final_div_factor)
    V.check_range("pct_start", pct_start, 0.0, 1.0)
    V.check_range("pct_final", pct_final, 0.0, 1.0)
    ps, pf = V.concrete_value("pct_start", pct_start), V.concrete_value("pct_final", pct_final)
    if ps is not None and pf is not None and (pf < ps).any():
        raise ValueError(f"`pct_final` must be >= `pct_start` = {pct_start!r}, got {pct_final!r}")

    s = _onecycle(
        "linear",
        transition_steps,
        peak_value,
        [pct_start, pct_final],
        [div_factor, 1 / div_factor, 1 / final_div_factor],
    )
    return lambda count: s(count)


@schedule_factory
@V.scalar_arguments(steps=("transition_steps",))
def cosine_onecycle_schedule(
    transition_steps: jax.typing.ArrayLike,
    peak_value: jax.typing.ArrayLike,
    pct_start: jax.typing.ArrayLike = 0.3,
    div_factor: jax.typing.ArrayLike = 25.0,
    final_div_factor: jax.typing.ArrayLike = 1e4,
) -> ScheduleFn:
    r"""One cycle with cosine phases: up to the peak, then down (Optax-compatible).

    With :math:`N` = ``transition_steps``, :math:`P` = ``peak_value`` and :math:`I = P /`
    ``div_factor``: cosine from :math:`I` to :math:`P` over ``[0, int(pct_start N))``, then from
    :math:`P` to :math:`I /` ``final_div_factor`` at :math:`N`, held after. Boundaries round as
    in :func:`linear_onecycle_schedule`.

    Args:
      transition_steps: :math:`N > 0`.
      peak_value: :math:`P`.
      pct_start: fraction of :math:`N` spent rising, in ``[0, 1]``.
      div_factor: :math:`P / I > 0`.
      final_div_factor: :math:`I / \text{final value} > 0`.

    Returns:
      A :class:`jaxdecay.Schedule`.

    Raises:
      ValueError: ``transition_steps <= 0``, ``pct_start`` outside ``[0, 1]``, non-positive
        factors or NaN (concrete values only).

    Examples:
      >>> import jaxdecay
      >>> s = jaxdecay.cosine_onecycle_schedule(100, 1.0, pct_start=0.5, div_factor=10.0)
      >>> print(*[f"{float(s(t)):.3f}" for t in (0, 25, 50, 100)])
      0.100 0.550 1.000 0.000

    References:
      Smith & Topin, `Super-Convergence <https://arxiv.org/abs/1708.07120>`_, 2017
    """
    _check_onecycle(transition_steps, peak_value, div_factor, final_div_factor)
    V.check_range("pct_start", pct_start, 0.0, 1.0)

    s = _onecycle(
        "cosine",
        transition_steps,
        peak_value,
        [pct_start],
        [div_factor, 1 / (div_factor * final_div_factor)],
    )
    return lambda count: s(count)


_ANNEAL = ("cos", "linear")


@schedule_factory
@V.scalar_arguments(steps=("total_steps",))
def one_cycle(
    max_value: jax.typing.ArrayLike,
    total_steps: jax.typing.ArrayLike,
    pct_start: jax.typing.ArrayLike = 0.3,
    anneal_strategy: str = "cos",
    div_factor: jax.typing.ArrayLike = 25.0,
    final_div_factor: jax.typing.ArrayLike = 1e4,
    three_phase: bool = False,
) -> ScheduleFn:
    r"""The 1cycle policy, with exactly PyTorch ``OneCycleLR``'s values.

    With :math:`N` = ``total_steps``, :math:`I` = ``max_value / div_factor`` and
    :math:`F = I /` ``final_div_factor``, the phases end at counts

    - two phases: :math:`e_1 = \text{pct\_start} \cdot N - 1` (:math:`I \to` ``max_value``) and
      :math:`e_2 = N - 1` (``max_value`` :math:`\to F`);
    - ``three_phase``: :math:`e_1`, :math:`e_2 = 2\,\text{pct\_start} \cdot N - 2`
      (``max_value`` :math:`\to I`) and :math:`e_3 = N - 1` (:math:`I \to F`);

    and within a phase from :math:`s` to :math:`e` the value anneals with
    :math:`p = (t - s)/(e - s)` by cosine, :math:`b + (a - b)\tfrac12(1 + \cos \pi p)`, or
    linearly, :math:`a + (b - a) p`. PyTorch defines counts ``0 .. N - 1`` (and raises after
    ``N``); jaxdecay holds the final value :math:`F` from ``N - 1`` on. The ``pct_start``
    boundaries are not rounded (PyTorch uses the float ``pct_start * N - 1``).

    Args:
      max_value: the peak value (PyTorch's ``max_lr``).
      total_steps: :math:`N > 0`, the number of updates in the cycle.
      pct_start: fraction of the cycle spent rising, in ``(0, 1)``.
      anneal_strategy: ``"cos"`` or ``"linear"`` (static).
      div_factor: ``max_value / initial value``, ``> 0``.
      final_div_factor: ``initial value / final value``, ``> 0``.
      three_phase: use the three-phase variant (static).

    Returns:
      A :class:`jaxdecay.Schedule`.

    Raises:
      ValueError: invalid values (concrete values only) or an unknown ``anneal_strategy``.

    Examples:
      >>> import jaxdecay
      >>> s = jaxdecay.one_cycle(0.1, total_steps=100)
      >>> print(*[f"{float(s(t)):.5f}" for t in (0, 29, 99)])
      0.00400 0.10000 0.00000

    References:
      Smith & Topin, `Super-Convergence <https://arxiv.org/abs/1708.07120>`_, 2017; PyTorch,
      `OneCycleLR <https://pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.OneCycleLR.html>`_
    """  # noqa: E501
    V.check_number("max_value", max_value)
    V.check_positive("total_steps", total_steps)
    V.check_range("pct_start", pct_start, 0.0, 1.0, low_inclusive=False, high_inclusive=False)
    V.check_choice("anneal_strategy", anneal_strategy, _ANNEAL)
    V.check_positive("div_factor", div_factor)
    V.check_positive("final_div_factor", final_div_factor)
    V.check_bool("three_phase", three_phase)
    kind = "linear" if anneal_strategy == "linear" else "cosine"

    def schedule(count):
        out, dt = dtypes(max_value, total_steps, pct_start, div_factor, final_div_factor)
        N = jnp.asarray(total_steps, dt)
        t = jnp.minimum(as_count(count).astype(dt), N - 1)
        peak = jnp.asarray(max_value, dt)
        init = peak / jnp.asarray(div_factor, dt)
        final = init / jnp.asarray(final_div_factor, dt)
        pct = jnp.asarray(pct_start, dt)
        if three_phase:
            ends = [pct * N - 1, 2 * pct * N - 2, N - 1]
            pairs = [(init, peak), (peak, init), (init, final)]
        else:
            ends = [pct * N - 1, N - 1]
            pairs = [(init, peak), (peak, final)]
        # PyTorch picks the first phase with t <= end (the last one otherwise).
        res = None
        starts = [jnp.zeros((), dt), *ends[:-1]]
        for i in reversed(range(len(ends))):
            s, e = starts[i], ends[i]
            a, b = pairs[i]
            length = e - s
            ok = length != 0
            # The part of the phase still ahead, so that the end value is reached exactly.
            left = jnp.where(ok, jnp.clip((e - t) / jnp.where(ok, length, 1), 0, 1), 0)
            if kind == "linear":
                value = ramp(a, b, jnp.clip(t - s, 0, length), length)
            else:
                value = b + (a - b) * half_cosine(left)
            res = value if res is None else jnp.where(t <= e, value, res)
        return jnp.asarray(res).astype(out)

    return schedule


_CYCLIC_MODES = ("triangular", "triangular2", "exp_range")


@schedule_factory
@V.scalar_arguments(steps=("step_size_up", "step_size_down"))
def cyclic(
    base_value: jax.typing.ArrayLike,
    max_value: jax.typing.ArrayLike,
    step_size_up: jax.typing.ArrayLike = 2000,
    step_size_down: jax.typing.ArrayLike | None = None,
    mode: str = "triangular",
    gamma: jax.typing.ArrayLike = 1.0,
) -> ScheduleFn:
    r"""Cyclical learning rate, with exactly PyTorch ``CyclicLR``'s values.

    With :math:`U` = ``step_size_up``, :math:`D` = ``step_size_down`` (default :math:`U`),
    :math:`c = \lfloor t / (U + D) \rfloor` and :math:`x = t - c (U + D)`:

    .. math::
      \eta(t) = b + (m - b)\, h(x)\, s, \qquad
      h(x) = \begin{cases} x / U, & x \le U \\ (U + D - x) / D, & x > U \end{cases}

    with :math:`s = 1` (``triangular``), :math:`2^{-c}` (``triangular2``, the amplitude halves
    each cycle) or :math:`\gamma^{t}` (``exp_range``).

    Args:
      base_value: :math:`b`, the value at the start of each cycle.
      max_value: :math:`m`, the value at the top of the first cycle.
      step_size_up: :math:`U > 0` counts rising.
      step_size_down: :math:`D \ge 0` counts falling, or ``None`` for :math:`U`.
      mode: ``"triangular"``, ``"triangular2"`` or ``"exp_range"`` (static).
      gamma: :math:`\gamma \in (0, 1]`, used by ``exp_range``.

    Returns:
      A :class:`jaxdecay.Schedule`.

    Raises:
      ValueError: invalid values (concrete values only) or an unknown ``mode``.

    Examples:
      >>> import jaxdecay
      >>> s = jaxdecay.cyclic(0.001, 0.1, step_size_up=4)
      >>> print(*[f"{float(s(t)):.4f}" for t in (0, 2, 4, 6, 8)])
      0.0010 0.0505 0.1000 0.0505 0.0010

    References:
      Smith, `Cyclical Learning Rates for Training Neural Networks
      <https://arxiv.org/abs/1506.01186>`_, 2017; PyTorch, `CyclicLR
      <https://pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.CyclicLR.html>`_
    """
    V.check_number("base_value", base_value)
    V.check_number("max_value", max_value)
    V.check_positive("step_size_up", step_size_up)
    if step_size_down is not None:
        V.check_nonnegative("step_size_down", step_size_down)
    V.check_choice("mode", mode, _CYCLIC_MODES)
    V.check_range("gamma", gamma, 0.0, 1.0, low_inclusive=False)

    def schedule(count):
        out, dt = dtypes(base_value, max_value, step_size_up, step_size_down, gamma)
        t_raw = as_count(count)
        t = t_raw.astype(dt)
        up_raw = jnp.asarray(step_size_up)
        down_raw = up_raw if step_size_down is None else jnp.asarray(step_size_down)
        up, down = up_raw.astype(dt), down_raw.astype(dt)
        total = up + down
        ints = all(jnp.issubdtype(a.dtype, jnp.integer) for a in (up_raw, down_raw))
        # The period, summed without int32 overflow (2**30 + 2**30), and the cycle index and
        # position in it: exact for integer-valued counts and step sizes (floor_divmod).
        udt = jax.dtypes.canonicalize_dtype(np.uint64)
        period = up_raw.astype(udt) + down_raw.astype(udt) if ints else total
        c, x = floor_divmod(t_raw, period, dt)
        rise = x / up
        fall = jnp.where(down > 0, (total - x) / jnp.where(down > 0, down, 1), 1)
        h = jnp.where(x <= up, rise, fall)
        base = jnp.asarray(base_value, dt)
        amp = (jnp.asarray(max_value, dt) - base) * h
        if mode == "triangular2":
            amp = amp * safe_pow(jnp.asarray(0.5, dt), c)
        elif mode == "exp_range":
            amp = amp * safe_pow(jnp.asarray(gamma, dt), t)
        return (base + amp).astype(out)

    return schedule
