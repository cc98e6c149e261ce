"""Piecewise schedules whose boundaries live in arrays, and `join_schedules`.

Every schedule here looks a count up in a sorted array of boundaries with
:class:`jaxdecay._lookup.Lookup` instead of unrolling a Python loop over them (Optax's
``piecewise_constant_schedule`` and ``join_schedules`` build one ``where`` per boundary). The
lookup is the same code for a scalar count, an array of counts and ``jax.vmap`` of a scalar
count, and for concrete boundaries its compiled program does not grow with their number; its
module says how, and why it is exact. This module holds the constructors: argument handling
(:class:`Values`, the boundaries' checks) and the formulas between boundaries.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxdecay import _validate as V
from jaxdecay._core import schedule_factory
from jaxdecay._lookup import Lookup, all_concrete, as_array, boundary_array, difference
from jaxdecay._numeric import as_count, float_dtype, fraction, saturate

__all__ = [
    "Values",
    "piecewise_constant",
    "piecewise_linear",
    "multistep_decay",
    "piecewise_constant_schedule",
    "piecewise_interpolate_schedule",
    "join_schedules",
]

Entries = jax.typing.ArrayLike | Sequence[jax.typing.ArrayLike]
"""Boundaries or values: a list (or tuple) of numbers or scalar arrays, or a 1-D array."""

# Pieces up to which join_schedules uses lax.switch for a traced scalar count (only the active
# piece runs). XLA compiles every branch of a conditional separately (about 80 ms each on CPU),
# so beyond this every piece is evaluated and the active value selected, like Optax.
_SWITCH_MAX = 8


# --------------------------------------------------------------------------------------------
# Argument handling.
# --------------------------------------------------------------------------------------------


class Values:
    """A list or 1-D array of hyperparameter values, held until a call fixes the dtype.

    Concrete entries are kept as one float64 NumPy array (converted once; lookups read
    literals), traced ones as a JAX array. :meth:`dtype` is :func:`float_dtype` of the entries,
    computed from one representative per kind of entry (Python float, float32 array, ...).
    """

    def __init__(self, xs: Any):
        entries = list(xs) if isinstance(xs, list | tuple) else [xs]
        kinds: dict[Any, Any] = {}
        for e in entries:
            kinds.setdefault((type(e), getattr(e, "dtype", None), getattr(e, "weak_type", None)), e)
        self.reps = tuple(kinds.values())
        if all_concrete(xs):
            self.src: Any = np.asarray(xs, dtype=np.float64).reshape(-1)
        else:
            self.src = as_array(xs)

    def dtype(self, *extra: Any) -> Any:
        """The result dtype: :func:`float_dtype` of the entries and ``extra``."""
        return float_dtype(*self.reps, *extra)

    def get(self, dtype: Any) -> Any:
        """The values in ``dtype`` (NumPy when concrete)."""
        return self.src.astype(dtype)


def _cumprod(first: Any, factors: Any, dtype: Any) -> Any:
    """``[first, first*f1, (first*f1)*f2, ...]`` in ``dtype`` (Optax's order of products),
    saturated to the finite range of ``dtype``; a factor of 0 gives 0 from there on, also after
    a saturated overflow (where ``inf * 0`` would be NaN)."""
    concrete = isinstance(factors, np.ndarray) and V.is_concrete(first)
    xp: Any = np if concrete else jnp
    arr = xp.concatenate([xp.asarray(first).astype(dtype).reshape(1), factors.astype(dtype)])
    with np.errstate(over="ignore", invalid="ignore"):
        prod = xp.cumprod(arr)
    zeroed = xp.cumsum(arr == 0) > 0
    if concrete:
        big = np.asarray(jnp.finfo(dtype).max, dtype)
        return np.where(zeroed, np.zeros((), dtype), np.clip(prod, -big, big).astype(dtype))
    return jnp.where(zeroed, jnp.zeros((), dtype), saturate(prod))


def _static_key(key: Any) -> float | int:
    """A ``boundaries_and_scales`` key as a Python number (a JSON string of a number is read)."""
    where = f"`boundaries_and_scales` key {key!r}"
    if isinstance(key, bool | np.bool_):
        raise TypeError(f"{where} must be a step count (a number), got a bool")
    if isinstance(key, str):
        try:
            num: float | int = int(key)
        except ValueError:
            try:
                num = float(key)
            except ValueError:
                raise ValueError(f"{where} must be a number (or a string of one)") from None
        key = num
    elif isinstance(key, np.generic | np.ndarray | jax.Array):
        if not V.is_concrete(key):
            raise TypeError(
                "`boundaries_and_scales` keys are static (dict keys cannot be traced); use "
                "piecewise_constant(boundaries, values) for traced boundaries"
            )
        if np.ndim(key) != 0:
            raise TypeError(f"{where} must be a scalar step count")
        key = np.asarray(key).item()
    if not isinstance(key, numbers.Real):
        raise TypeError(f"{where} must be a step count (a number), got {type(key).__name__}")
    if math.isnan(key) or math.isinf(key):
        raise ValueError(f"{where} must be a finite step count")
    if key < 0:
        raise ValueError(f"{where} must be >= 0 (a step count), got {key!r}")
    num = float(key)
    return int(num) if num.is_integer() and abs(num) < 2**31 else num


def _boundaries_and_scales(
    boundaries_and_scales: Mapping[Any, Any] | None,
) -> tuple[np.ndarray, Any, tuple[Any, ...]]:
    """Sorted static boundaries (NumPy), their scales (float64 NumPy when all concrete, else a
    JAX array) in that order, and the scales' :class:`Values` representatives; validated."""
    if boundaries_and_scales is None:
        boundaries_and_scales = {}
    if not isinstance(boundaries_and_scales, Mapping):
        raise TypeError(
            f"`boundaries_and_scales` must be a dict {{step: scale}} or None, got "
            f"{boundaries_and_scales!r}"
        )
    keys, scales = list(boundaries_and_scales), list(boundaries_and_scales.values())
    V.check_entries("boundaries_and_scales", scales, low=0, labels=keys)
    if all(type(k) is int for k in keys):  # the common case, checked at once
        steps = np.asarray(keys, np.int64)
        if steps.size and steps.min() < 0:
            raise ValueError(
                f"`boundaries_and_scales` key {int(steps.min())} must be >= 0 (a step count), got "
                f"{int(steps.min())}"
            )
    else:
        read = [_static_key(k) for k in keys]
        if len(set(read)) < len(read):
            seen: dict[Any, Any] = {}
            for k, r in zip(keys, read, strict=True):
                if r in seen:
                    raise ValueError(
                        f"`boundaries_and_scales` has the step {r!r} twice (keys {seen[r]!r}, "
                        f"{k!r})"
                    )
                seen[r] = k
        steps = np.asarray(read, np.float64)
    order = np.argsort(steps, kind="stable")
    steps = steps[order]
    if steps.size and np.all(steps == np.floor(steps)) and np.abs(steps).max() < 2**31:
        bounds = steps.astype(np.int32)
    else:
        bounds = steps.astype(np.float32)
    vals = Values([scales[i] for i in order])
    return bounds, vals.src, vals.reps


def _sorted_boundaries(name: str, boundaries: Any, *, nonneg: bool = True) -> Any:
    V.check_sequence(name, boundaries)
    V.check_entries(name, boundaries, low=0 if nonneg else None, increasing=True)
    return boundary_array(boundaries)


# --------------------------------------------------------------------------------------------
# Schedules.
# --------------------------------------------------------------------------------------------


@schedule_factory
def piecewise_constant(
    boundaries: Entries, values: Entries
) -> Callable[[jax.typing.ArrayLike], jax.Array]:
    r"""Piecewise constant schedule given by its values between boundaries.

    .. math::

      v(t) = \text{values}[i] \quad \text{for} \quad b_{i-1} \le t < b_i,

    with :math:`b_{-1} = -\infty`, :math:`b_n = +\infty`, :math:`b_i` the ``boundaries`` and
    :math:`t` the count. The value switches *at* each boundary, like Optax's
    ``piecewise_constant_schedule`` (Keras' ``PiecewiseConstantDecay`` switches one step later).

    The boundaries are held in an array and looked up with a select chain (up to 15 of them) and
    a bucket index beyond (a few gathers, O(1) per count), so the compiled program does not grow
    with the number of pieces.

    Args:
      boundaries: the counts at which the value changes, strictly increasing and ``>= 0``; a list
        or a 1-D array (its length is static, its entries may be traced). Traced boundaries are
        not checked: they must be increasing.
      values: ``len(boundaries) + 1`` values, traceable.

    Returns:
      The schedule ``count -> value``.

    Raises:
      ValueError: a length mismatch, a negative, NaN, infinite or non-increasing boundary, or a
        NaN value (when concrete).
      TypeError: ``boundaries`` or ``values`` is not a list or a 1-D array.

    Examples:
      >>> import jaxdecay
      >>> s = jaxdecay.piecewise_constant([10, 20], [1.0, 0.5, 0.1])
      >>> print(", ".join(f"{float(s(t)):.2f}" for t in (0, 9, 10, 19, 20, 100)))
      1.00, 1.00, 0.50, 0.50, 0.10, 0.10

    References:
      Keras `PiecewiseConstantDecay
      <https://keras.io/api/optimizers/learning_rate_schedules/piecewise_constant_decay/>`_.
    """
    bounds = _sorted_boundaries("boundaries", boundaries)
    V.check_sequence("values", values, min_len=1)
    V.check_same_length("values", values, "boundaries", boundaries, offset=1)
    V.check_entries("values", values)
    vals = Values(values)
    lookup = Lookup(bounds)

    def schedule(count: jax.typing.ArrayLike) -> jax.Array:
        t = as_count(count)
        return lookup([vals.get(vals.dtype())], t)[0]

    return schedule


@schedule_factory
def piecewise_linear(
    boundaries: Entries, values: Entries
) -> Callable[[jax.typing.ArrayLike], jax.Array]:
    r"""Linear interpolation through the points ``(boundaries[i], values[i])``, flat outside.

    .. math::

      v(t) = y_i + (y_{i+1} - y_i) \, \frac{t - x_i}{x_{i+1} - x_i}
      \quad \text{for} \quad x_i \le t \le x_{i+1},

    with :math:`x_i` the ``boundaries``, :math:`y_i` the ``values``, and
    :math:`v(t) = y_0` for :math:`t < x_0`, :math:`v(t) = y_{n-1}` for :math:`t > x_{n-1}`
    (like ``np.interp``). Counts are floats or integers; fractional counts interpolate.

    Args:
      boundaries: the ``x`` of each point, strictly increasing; a list or 1-D array, traceable
        entries. A point may sit at a negative count (counts are clamped to 0, so the value at
        count 0 is then interpolated). Traced boundaries are not checked.
      values: the value at each point (same length, at least one), traceable.

    Returns:
      The schedule ``count -> value``.

    Raises:
      ValueError: a length mismatch, no point at all, NaN/infinite or non-increasing boundaries,
        NaN values (when concrete).
      TypeError: ``boundaries`` or ``values`` is not a list or a 1-D array.

    Examples:
      >>> import jaxdecay
      >>> s = jaxdecay.piecewise_linear([0, 10, 30], [0.0, 1.0, 0.5])
      >>> print(", ".join(f"{float(s(t)):.3f}" for t in (0, 5, 10, 20, 30, 99)))
      0.000, 0.500, 1.000, 0.750, 0.500, 0.500

    References:
      ``numpy.interp``; big_vision's ``create_learning_rate_schedule``
      (https://github.com/google-research/big_vision).
    """
    xs = _sorted_boundaries("boundaries", boundaries, nonneg=False)
    V.check_sequence("values", values, min_len=1)
    V.check_same_length("values", values, "boundaries", boundaries)
    V.check_entries("values", values)
    vals = Values(values)
    n = vals.src.shape[0]
    # Segment i joins points i and i+1; it is found among the interior points.
    lookup = Lookup(xs[1:-1])

    def schedule(count: jax.typing.ArrayLike) -> jax.Array:
        t = as_count(count)
        dtype = vals.dtype()
        ys = vals.get(dtype)
        if n == 1:
            return jnp.broadcast_to(jnp.asarray(ys[0]), jnp.shape(t))
        x0, x1, y0, y1 = lookup([xs[:-1], xs[1:], ys[:-1], ys[1:]], t)
        f = fraction(difference(t, x0), 0, x1 - x0, dtype)
        return (1 - f) * y0 + f * y1

    return schedule


@schedule_factory
def multistep_decay(
    init_value: jax.typing.ArrayLike,
    milestones: Entries,
    gamma: jax.typing.ArrayLike = 0.1,
) -> Callable[[jax.typing.ArrayLike], jax.Array]:
    r"""Multiply by ``gamma`` at each milestone (PyTorch ``MultiStepLR``).

    .. math::

      v(t) = v_0 \, \gamma^{\#\{i \,:\, m_i \le t\}},

    with :math:`v_0` the ``init_value``, :math:`m_i` the ``milestones`` and :math:`t` the count.
    The milestones are a multiset: their order does not matter and a repeated milestone applies
    ``gamma`` twice, as in PyTorch.

    Args:
      init_value: the value before the first milestone, traceable.
      milestones: counts ``>= 0`` (a list or 1-D array, possibly empty, in any order); traceable
        entries (then sorted inside the program with ``jnp.sort``; concrete ones are sorted once).
      gamma: the factor applied at each milestone, ``>= 0``, traceable.

    Returns:
      The schedule ``count -> value``.

    Raises:
      ValueError: a negative, NaN or infinite milestone, NaN ``init_value``, or a negative or NaN
        ``gamma`` (when concrete).
      TypeError: ``milestones`` is not a list or a 1-D array.

    Examples:
      >>> import jaxdecay
      >>> s = jaxdecay.multistep_decay(1.0, [30, 10, 30], gamma=0.5)
      >>> print(", ".join(f"{float(s(t)):.3f}" for t in (0, 9, 10, 29, 30, 99)))
      1.000, 1.000, 0.500, 0.500, 0.125, 0.125

    References:
      PyTorch `MultiStepLR
      <https://pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.MultiStepLR.html>`_.
    """
    V.check_number("init_value", init_value)
    V.check_nonnegative("gamma", gamma)
    V.check_sequence("milestones", milestones)
    V.check_entries("milestones", milestones, low=0)
    ms = boundary_array(milestones)
    ms = np.sort(ms) if isinstance(ms, np.ndarray) else jnp.sort(ms)
    n = ms.shape[0]
    lookup = Lookup(ms)
    if V.is_concrete(gamma):
        factors: Any = np.broadcast_to(np.asarray(gamma, np.float64), (n,))
    else:
        factors = jnp.broadcast_to(jnp.asarray(gamma), (n,))

    def schedule(count: jax.typing.ArrayLike) -> jax.Array:
        t = as_count(count)
        dtype = float_dtype(init_value, gamma)
        return lookup([_cumprod(init_value, factors, dtype)], t)[0]

    return schedule


@schedule_factory
def piecewise_constant_schedule(
    init_value: jax.typing.ArrayLike,
    boundaries_and_scales: dict[int, jax.typing.ArrayLike] | None = None,
) -> Callable[[jax.typing.ArrayLike], jax.Array]:
    r"""Piecewise constant schedule with scaled jumps at given steps (Optax-compatible).

    .. math::

      v(t) = v_0 \prod_{i \,:\, b_i \le t} s_i,

    with :math:`v_0` the ``init_value`` and :math:`(b_i, s_i)` the ``boundaries_and_scales``.
    Same values as ``optax.piecewise_constant_schedule``: the scale applies *at* its step.

    Args:
      init_value: the value before the first boundary, traceable.
      boundaries_and_scales: ``{step: scale}``; the steps are static (dict keys cannot be traced:
        use :func:`piecewise_constant` for traced boundaries), ``>= 0``, in any order; a step
        given as a string of a number (``{"100": 0.1}``, what a JSON round trip makes of an int
        key) is read as that number. Scales are ``>= 0`` and traceable. ``None`` or ``{}`` gives
        a constant schedule.

    Returns:
      The schedule ``count -> value``.

    Raises:
      ValueError: a negative, NaN or infinite step, a step given twice, a negative or NaN scale
        (when concrete), or a NaN ``init_value``.
      TypeError: ``boundaries_and_scales`` is not a dict, or a key is not a number.

    Examples:
      >>> import jaxdecay
      >>> s = jaxdecay.piecewise_constant_schedule(1.0, {100: 0.1, 200: 0.1})
      >>> print(", ".join(f"{float(s(t)):.3f}" for t in (0, 99, 100, 199, 200)))
      1.000, 1.000, 0.100, 0.100, 0.010

    References:
      ``optax.piecewise_constant_schedule``.
    """
    V.check_number("init_value", init_value)
    bounds_np, scales, reps = _boundaries_and_scales(boundaries_and_scales)
    lookup = Lookup(bounds_np)

    def schedule(count: jax.typing.ArrayLike) -> jax.Array:
        t = as_count(count)
        # Same association as Optax: ((v0 * s1) * s2) * ...
        table = _cumprod(init_value, scales, float_dtype(init_value, *reps))
        return lookup([table], t)[0]

    return schedule


def _linear_interpolate(start: jax.Array, end: jax.Array, pct: jax.Array) -> jax.Array:
    return (end - start) * pct + start


def _cosine_interpolate(start: jax.Array, end: jax.Array, pct: jax.Array) -> jax.Array:
    return end + (start - end) / 2.0 * (jnp.cos(jnp.pi * pct) + 1.0)


@schedule_factory
def piecewise_interpolate_schedule(
    interpolate_type: str,
    init_value: jax.typing.ArrayLike,
    boundaries_and_scales: dict[int, jax.typing.ArrayLike] | None = None,
) -> Callable[[jax.typing.ArrayLike], jax.Array]:
    r"""Linear or cosine interpolation between cumulatively scaled values (Optax-compatible).

    With the steps :math:`0 = b_0 \le b_1 < \dots < b_n` and the values
    :math:`v_k = v_0 \prod_{i=1}^{k} s_i`,

    .. math::

      v(t) = I\!\left(v_k, v_{k+1}, \frac{t - b_k}{\max(b_{k+1} - b_k, 1)}\right)
      \quad \text{for} \quad b_k \le t < b_{k+1}, \qquad v(t) = v_n \quad \text{for} \quad
      t \ge b_n,

    with :math:`I(a, b, p) = a + (b - a) p` (``"linear"``) or
    :math:`b + \tfrac{a - b}{2}(\cos(\pi p) + 1)` (``"cosine"``). Same values as
    ``optax.piecewise_interpolate_schedule``: the interpolation runs between the *accumulated*
    values, not the scales.

    Args:
      interpolate_type: ``"linear"`` or ``"cosine"`` (static).
      init_value: :math:`v_0`, traceable.
      boundaries_and_scales: ``{step: scale}`` as in :func:`piecewise_constant_schedule`: static
        steps ``>= 0`` (strings of numbers accepted), traceable scales ``>= 0``.

    Returns:
      The schedule ``count -> value``.

    Raises:
      ValueError: an unknown ``interpolate_type``, a negative/NaN/infinite or repeated step, a
        negative or NaN scale (when concrete), a NaN ``init_value``.
      TypeError: ``boundaries_and_scales`` is not a dict, or a key is not a number.

    Examples:
      >>> import jaxdecay
      >>> s = jaxdecay.piecewise_interpolate_schedule("linear", 1.0, {4: 0.1, 8: 0.1})
      >>> print(", ".join(f"{float(s(t)):.4f}" for t in range(0, 11, 2)))
      1.0000, 0.5500, 0.1000, 0.0550, 0.0100, 0.0100

    References:
      ``optax.piecewise_interpolate_schedule``.
    """
    V.check_choice("interpolate_type", interpolate_type, ("linear", "cosine"))
    V.check_number("init_value", init_value)
    bounds_np, scales, reps = _boundaries_and_scales(boundaries_and_scales)
    interp = _linear_interpolate if interpolate_type == "linear" else _cosine_interpolate
    # Interval k runs from starts[k] for sizes[k] steps; the last one (k = n) holds v_n.
    starts_np = np.concatenate([np.zeros(1, bounds_np.dtype), bounds_np])
    sizes_np = np.concatenate([np.maximum(np.diff(starts_np), 1), np.ones(1, bounds_np.dtype)])
    lookup = Lookup(bounds_np)

    def schedule(count: jax.typing.ArrayLike) -> jax.Array:
        t = as_count(count)
        dtype = float_dtype(init_value, *reps)
        lo = _cumprod(init_value, scales, dtype)
        hi = (np if isinstance(lo, np.ndarray) else jnp).concatenate([lo[1:], lo[-1:]])
        start, size, a, b = lookup([starts_np, sizes_np, lo, hi], t)
        pct = fraction(difference(t, start), 0, size, dtype)
        return interp(a, b, pct).astype(dtype)

    return schedule


@schedule_factory
def join_schedules(
    schedules: Sequence[Callable[[jax.typing.ArrayLike], jax.typing.ArrayLike]],
    boundaries: Entries,
) -> Callable[[jax.typing.ArrayLike], jax.Array]:
    r"""Run schedules one after another, each from its own step 0 (Optax semantics).

    .. math::

      v(t) = f_i(t - b_{i-1}) \quad \text{for} \quad b_{i-1} \le t < b_i,

    with :math:`f_i` the ``schedules``, :math:`b_i` the ``boundaries`` and :math:`b_{-1} = 0`.

    For a scalar count (what an optimizer passes) only the active piece is evaluated: a
    ``lax.switch`` under ``jit`` (up to 8 pieces), a direct call when the count is concrete.
    For an array of counts every piece is evaluated on the whole array and the active value
    selected element-wise (``lax.select_n``; this is also what ``jax.vmap`` makes of a
    ``switch``); every piece is then called with the *active* piece's local count
    :math:`t - b_{i-1} \ge 0`, so an inactive piece never sees a negative count, and gradients
    stay finite. With more than 8 pieces a traced scalar count is also handled by selection:
    XLA compiles each branch of a ``switch`` separately (about 80 ms per branch on CPU, 8 s
    for 100 pieces), which would dwarf the cost of evaluating every piece. The lookup of the
    active piece is a constant-size array lookup.

    Args:
      schedules: the pieces: jaxdecay schedules or any callables ``count -> value`` (Optax
        schedules included; ``to_config`` then refuses the plain callables).
      boundaries: ``len(schedules) - 1`` counts ``>= 0``, strictly increasing, at which the next
        piece starts; traceable entries (not checked when traced).

    Returns:
      The schedule ``count -> value``.

    Raises:
      ValueError: a length mismatch, no schedule, negative/NaN/non-increasing boundaries (when
        concrete).
      TypeError: a piece is not callable, or ``boundaries`` is not a list or 1-D array.

    Examples:
      >>> import jaxdecay
      >>> s = jaxdecay.join_schedules(
      ...     [jaxdecay.piecewise_linear([0, 10], [0.0, 1.0]),
      ...      jaxdecay.piecewise_linear([0, 90], [1.0, 0.1])], boundaries=[10])
      >>> print(", ".join(f"{float(s(t)):.2f}" for t in (0, 5, 10, 55, 100, 200)))
      0.00, 0.50, 1.00, 0.55, 0.10, 0.10

    References:
      ``optax.join_schedules``.
    """
    V.check_schedule_list("schedules", schedules, min_len=1)
    bounds = _sorted_boundaries("boundaries", boundaries)
    V.check_same_length("boundaries", boundaries, "schedules", schedules, offset=-1)
    pieces = list(schedules)
    n = len(pieces)
    lookup = Lookup(bounds)
    xp = np if isinstance(bounds, np.ndarray) else jnp
    tables = [np.arange(n, dtype=np.int32), xp.concatenate([xp.zeros(1, bounds.dtype), bounds])]

    dtypes: dict[Any, Any] = {}

    def out_dtype(count_dtype: Any) -> Any:
        """The common float dtype of the pieces' outputs (abstract evaluation, cached)."""
        key = (np.dtype(count_dtype), jax.dtypes.canonicalize_dtype(np.float64))
        if key not in dtypes:
            spec = jax.ShapeDtypeStruct((), count_dtype)
            dtypes[key] = jnp.result_type(
                *(_as_float(jax.eval_shape(f, spec)).dtype for f in pieces)
            )
        return dtypes[key]

    def schedule(count: jax.typing.ArrayLike) -> jax.Array:
        t = as_count(count)
        if n == 1:
            return _as_float(pieces[0](t))
        idx, start = lookup(tables, t)
        local = difference(t, start)
        if jnp.ndim(t) == 0 and V.is_concrete(idx):  # eager: only the active piece runs
            return _as_float(pieces[int(idx)](local)).astype(out_dtype(local.dtype))
        if jnp.ndim(t) == 0 and n <= _SWITCH_MAX:
            dtype = out_dtype(local.dtype)
            branches = [lambda x, f=f: jnp.asarray(f(x), dtype).reshape(()) for f in pieces]
            return lax.switch(idx, branches, local)
        outs = [_as_float(f(local)) for f in pieces]
        dtype = jnp.result_type(*outs)
        shape = jnp.broadcast_shapes(*(o.shape for o in outs))
        return lax.select_n(idx, *(jnp.broadcast_to(o.astype(dtype), shape) for o in outs))

    return schedule


def _as_float(x: Any) -> Any:
    """``x`` with a floating dtype (an array, or a ``ShapeDtypeStruct`` from ``eval_shape``)."""
    if isinstance(x, jax.ShapeDtypeStruct):
        dt = x.dtype if jnp.issubdtype(x.dtype, jnp.floating) else float_dtype()
        return jax.ShapeDtypeStruct(x.shape, dt)
    x = jnp.asarray(x)
    return x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(float_dtype())
