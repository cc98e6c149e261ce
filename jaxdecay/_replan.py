r"""Changing a run's length in the middle: :func:`replan`.

:func:`replan` re-times what is left of a schedule: a run planned for :math:`H` updates (the
schedule's horizon, :mod:`jaxdecay._horizon`) that is extended (or cut) to :math:`N` at update
:math:`a` continues from :math:`f(a)` and reaches :math:`f(H)` at :math:`N`.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxdecay import _validate as V
from jaxdecay._core import schedule_factory
from jaxdecay._horizon import required_horizon
from jaxdecay._numeric import as_count, float_dtype, remaining

__all__ = ["replan"]


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
