r"""Schedules over a budget: driven by the fraction of it spent, not by the update count.

A run with a deadline (GPU hours, a benchmark's time limit; "budgeted training", Li, Yumer &
Ramanan, ICLR 2020) does not know its number of updates in advance. A budget schedule runs any
schedule :math:`f` with a horizon :math:`H` on the *progress* :math:`p \in [0, 1]`, the fraction of
the budget spent:

.. math::

  v(p) = f\big(H \cdot \min(\max(p, 0), 1)\big),

so that :math:`v(0) = f(0)` and :math:`v(1) = f(H)`, the end value. The host measures
:math:`p` (:class:`BudgetClock` measures wall-clock seconds; any other budget works, e.g. tokens
seen) and passes it into the jitted update as a value, ``opt.update(grads, state, params,
progress=p)``: no recompilation when it changes, no host callback. :func:`budget` returns an
``optax.StatefulSchedule``, which ``jaxdecay.inject_hyperparams`` (and
``optax.inject_hyperparams``) evaluate with the update's extra arguments.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdecay import _validate as V
from jaxdecay._horizon import required_horizon
from jaxdecay._numeric import float_dtype

__all__ = ["BudgetClock", "BudgetSchedule", "BudgetState", "budget"]


class BudgetState(NamedTuple):
    """The state of a :class:`BudgetSchedule` inside an injected optimizer's state."""

    progress: jax.Array
    """The progress the most recent update used (``0.0`` after ``init``), float32."""


class BudgetSchedule:
    r"""An ``optax.StatefulSchedule`` whose value is ``schedule`` at the fraction of a budget spent.

    Built by :func:`budget`. ``value(p)`` is :math:`f(H \cdot \mathrm{clip}(p, 0, 1))`;
    as a hyperparameter of an injected optimizer it reads ``progress`` from the update's extra
    arguments (``opt.update(grads, state, params, progress=p)``).
    """

    __slots__ = ("schedule", "horizon")

    def __init__(self, schedule: Callable[[Any], Any], horizon: jax.typing.ArrayLike):
        self.schedule = schedule
        self.horizon = horizon

    def __repr__(self) -> str:
        return f"budget({self.schedule!r}, horizon={self.horizon!r})"

    def value(self, progress: jax.typing.ArrayLike) -> jax.Array:
        """The value at ``progress`` (any shape; clipped to ``[0, 1]``)."""
        dt = float_dtype(self.horizon)
        p = jnp.clip(jnp.asarray(progress).astype(dt), 0, 1)
        return jnp.asarray(self.schedule(jnp.asarray(self.horizon, dt) * p))

    # optax.StatefulSchedule ---------------------------------------------------------------
    def init(self) -> BudgetState:
        return BudgetState(progress=jnp.zeros((), jnp.float32))

    def update(self, state: BudgetState, **extra_args: Any) -> BudgetState:
        if "progress" not in extra_args:
            raise TypeError(
                "a budget schedule needs the progress of each update: call "
                "`opt.update(updates, state, params, progress=p)` with p in [0, 1] "
                f"(got extra arguments {sorted(extra_args)})"
            )
        progress = jnp.asarray(extra_args["progress"])
        if progress.ndim != 0:
            raise ValueError(f"`progress` must be a scalar, got shape {progress.shape}")
        return BudgetState(progress=progress.astype(jnp.float32))

    def __call__(self, state: BudgetState, **extra_args: Any) -> jax.Array:
        # `init` evaluates the schedule without extra arguments: the state's progress (0).
        progress = extra_args.get("progress", state.progress)
        return self.value(progress)


def budget(
    schedule: Callable[[Any], Any], *, horizon: jax.typing.ArrayLike | None = None
) -> BudgetSchedule:
    r"""Run ``schedule`` over a budget: its whole curve between progress 0 and progress 1.

    .. math::

      v(p) = f\big(H \cdot \min(\max(p, 0), 1)\big),

    with :math:`f` the ``schedule``, :math:`H` its ``horizon`` (the count at which its curve
    ends) and :math:`p` the fraction of the budget spent, measured by the host and passed to
    each update. A schedule written over :math:`[0, 1]` (``cosine_decay(1e-3, decay_steps=1.0)``,
    ``warmup_stable_decay(1e-3, 0.05, 0.75, 0.2)``: float counts are fine) has :math:`H = 1`;
    one written in updates is squeezed onto the budget (``warmup_stable_decay(1e-3, 100, 800,
    100)``: 10% warmup, 80% stable, 10% decay of the budget, whatever the number of updates).

    With :class:`BudgetClock` handing out progress values, the last update the budget allows
    gets :math:`p = 1` and trains with the end value :math:`f(H)`.

    Args:
      schedule: any schedule (callable ``count -> value``); it receives float counts in
        :math:`[0, H]`.
      horizon: :math:`H > 0`, the count at which the curve ends; ``None`` (default) uses
        ``schedule.horizon``. Traceable.

    Returns:
      A :class:`BudgetSchedule`: an ``optax.StatefulSchedule`` for ``inject_hyperparams``
      (``learning_rate=jaxdecay.budget(...)``; the update then needs ``progress=p``), whose
      ``value(p)`` gives the value at a progress directly.

    Raises:
      ValueError: ``horizon`` is ``None`` and ``schedule`` has none (or it is 0); a
        ``horizon <= 0``, NaN or infinite (when concrete).
      TypeError: ``schedule`` is not callable.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optax
      >>> import jaxdecay
      >>> lr = jaxdecay.budget(jaxdecay.warmup_stable_decay(1e-3, 100, 700, 200))
      >>> print(*[f"{float(lr.value(p)):.2e}" for p in (0.0, 0.05, 0.5, 0.9, 1.0)])
      0.00e+00 5.00e-04 1.00e-03 5.00e-04 0.00e+00
      >>> opt = jaxdecay.inject_hyperparams(optax.adam)(learning_rate=lr)
      >>> params = jnp.zeros(2)
      >>> state = opt.init(params)
      >>> updates, state = opt.update(jnp.ones(2), state, params, progress=0.5)
      >>> print(f"{float(jaxdecay.hyperparams(state)['learning_rate']):.2e}")
      1.00e-03

    References:
      Li, Yumer & Ramanan, `Budgeted Training: Rethinking Deep Neural Network Training Under
      Resource Constraints <https://arxiv.org/abs/1905.04753>`_, ICLR 2020.
    """
    V.check_callable("schedule", schedule)
    if horizon is None:
        horizon = required_horizon(schedule, "horizon", "say which count progress 1 maps to")
        h = V.concrete_value("horizon", horizon)
        if h is not None and np.any(h <= 0):
            raise ValueError(
                f"`horizon` is required: {schedule!r} is constant from count 0 on, so a budget "
                "has nothing to spread"
            )
    else:
        V.check_positive("horizon", horizon)
    return BudgetSchedule(schedule, horizon)


class BudgetClock:
    r"""The fraction of a wall-clock budget spent, measured on the host, for :func:`budget`.

    Each call of :meth:`next_progress` hands out the progress for the next update: the
    fraction of the budget that will have been spent when that update is done,

    .. math::

      p_k = \min\!\left(1, \frac{e_k + \bar{d}_k}{S}\right), \qquad
      \bar{d}_k = e_k / k \ (\bar{d}_0 = 0),

    with :math:`S` the budget in seconds, :math:`e_k` the seconds since the clock started and
    :math:`\bar{d}_k` the mean time per update so far (and never less than the progress handed
    out before: the values do not decrease). The first :math:`p_k` that reaches 1 is
    returned as exactly ``1.0`` and marks that update as the last (:attr:`done`), so training
    ends with the schedule's end value, within about one update of the deadline.

    The clock reads host time: with JAX's asynchronous dispatch the host may run ahead of the
    device by the updates in flight, until something waits for a result (reading a metric per
    epoch or chunk bounds the lag; the clock itself never blocks). Compile the training step
    before starting the clock, or the first update's compile time counts as update time.

    Args:
      seconds: :math:`S > 0`, the budget.
      clock: a function returning the current time in seconds (default ``time.monotonic``; a
        fake clock makes tests deterministic).

    Raises:
      ValueError: ``seconds`` is not a finite number > 0.

    Examples:
      >>> import jaxdecay
      >>> now = [0.0]
      >>> clock = jaxdecay.BudgetClock(1.0, clock=lambda: now[0])
      >>> ps = []
      >>> while not clock.done:
      ...     ps.append(clock.next_progress())
      ...     now[0] += 0.25  # one update takes 0.25 s
      >>> print(*[f"{p:.2f}" for p in ps])
      0.00 0.50 0.75 1.00
    """

    def __init__(self, seconds: float, *, clock: Callable[[], float] = time.monotonic):
        V.check_positive("seconds", seconds)
        V.check_callable("clock", clock)
        self.seconds = float(seconds)
        self._clock = clock
        self._start: float | None = None
        self._updates = 0
        self._done = False
        self._last = 0.0

    def start(self, *, spent: float = 0.0, updates: int = 0) -> None:
        """Start (or restart) the clock; :meth:`next_progress` starts it if needed.

        Args:
          spent: seconds of the budget already used (a resumed run), ``>= 0``.
          updates: the updates those seconds paid for (for the time-per-update estimate).

        Raises:
          ValueError: a negative or non-finite ``spent``, a negative ``updates``.
        """
        V.check_nonnegative("spent", spent)
        if isinstance(updates, bool) or not isinstance(updates, int | np.integer) or updates < 0:
            raise ValueError(f"`updates` must be an int >= 0, got {updates!r}")
        self._start = float(self._clock()) - float(spent)
        self._updates = int(updates)
        self._done = spent >= self.seconds
        self._last = min(float(spent) / self.seconds, 1.0)

    @property
    def elapsed(self) -> float:
        """Seconds since the clock started (0 before)."""
        return 0.0 if self._start is None else float(self._clock()) - self._start

    @property
    def progress(self) -> float:
        """The fraction of the budget spent now, in ``[0, 1]``."""
        return min(self.elapsed / self.seconds, 1.0)

    @property
    def updates(self) -> int:
        """How many progress values have been handed out (updates started)."""
        return self._updates

    @property
    def last_progress(self) -> float:
        """The last progress handed out (what the latest update used), 0 before any."""
        return self._last

    @property
    def done(self) -> bool:
        """Whether the last progress handed out was 1.0 (that update was the last)."""
        return self._done

    def next_chunk(self, steps: int) -> np.ndarray:
        """Progress values for the next ``steps`` updates (e.g. one jitted ``lax.scan``).

        The same estimate as :meth:`next_progress` for each update of the chunk,
        :math:`p_{k+i} = \\min(1, (e_k + (i + 1)\\,\\bar{d}_k) / S)`, cut after the first value
        that reaches 1: the array may be shorter than ``steps``, and then the clock is
        :attr:`done`.

        Args:
          steps: the number of updates in the chunk, ``>= 1``.

        Returns:
          A float32 array of at most ``steps`` progress values, non-decreasing (also from one
          call to the next).

        Raises:
          ValueError: ``steps < 1``.
          RuntimeError: the budget is already spent (:attr:`done`).
        """
        if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 1:
            raise ValueError(f"`steps` must be an int >= 1, got {steps!r}")
        if self._done:
            raise RuntimeError(
                f"the budget of {self.seconds:g} s is spent ({self._updates} updates); "
                "stop when `clock.done`"
            )
        if self._start is None:
            self.start()
        elapsed = self.elapsed
        per_update = elapsed / self._updates if self._updates else 0.0
        ahead = elapsed + per_update * np.arange(1, int(steps) + 1, dtype=np.float64)
        # Never backwards: the mean time per update can drop after a slow update.
        p = np.clip(ahead / self.seconds, self._last, 1.0)
        last = np.flatnonzero(p >= 1.0)
        if last.size:
            p = p[: last[0] + 1]
            p[-1] = 1.0
            self._done = True
        self._updates += len(p)
        self._last = float(p[-1])
        return p.astype(np.float32)

    def next_progress(self) -> float:
        """The progress for the next update (``1.0`` for the last; then :attr:`done`).

        Raises:
          RuntimeError: the budget is already spent (:attr:`done`).
        """
        return float(self.next_chunk(1)[0])
