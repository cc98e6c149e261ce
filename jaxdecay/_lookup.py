r"""The lookup of the piecewise schedules: ``tables[j][i]`` with :math:`i` the number of
boundaries a count has passed, by a compiled program whose size does not grow with the number of
boundaries.

:class:`Lookup` takes sorted boundaries :math:`b_0 < b_1 < \dots < b_{n-1}` and returns, for a
count :math:`t`, the entry :math:`i(t) = \#\{k : b_k \le t\}` of each table (``side="right"``,
Optax's and PyTorch's switch at the boundary) or :math:`\#\{k : b_k < t\}` (``side="left"``,
Keras' switch one count after it). The count and the boundaries are compared in one dtype,
:func:`common_dtype` (their promotion, at least float32 when one is a float: integer counts stay
exact), so :math:`i(t)` is *exactly* what ``np.searchsorted`` gives in that dtype; the paths
below differ only in how many comparisons they make.

- **Eager** (count, boundaries and tables concrete): ``np.searchsorted`` on the host.
- **Up to 15 boundaries**: a select chain that carries the tables' values along (the fastest
  lookup on CPU for few boundaries: no gather). Each boundary is compared with the count.
- **16 or more concrete boundaries: a bucket index.** The range :math:`[b_0, b_{n-1}]` is cut
  into :math:`B \approx 2n` buckets of equal power-of-two width :math:`w`. The bucket of
  :math:`x` is

  .. math::

    q(x) = \lfloor (\mathrm{clip}(x, b_0, b_{n-1}) - b_0) / w \rfloor,

  one subtraction and a shift for integers (the difference read as unsigned: exact even where
  it wraps), a multiplication by the power of two :math:`1/w` (exact) and a floor for floats.
  A table made once per comparison dtype (in NumPy, at trace time) holds, for each bucket
  :math:`q`, :math:`s_q = \#\{k : q(b_k) < q - m\}`, and the count is compared with the
  :math:`K` boundaries :math:`b_{s_q}, \dots, b_{s_q + K - 1}` one by one, :math:`K` the largest
  number of boundaries in :math:`2m + 1` neighbouring buckets (2 to 6 for evenly spread
  boundaries, whatever their number; :math:`m` = 0 for integers, 1 for floats).

  *Why this is exact.* :math:`q` is non-decreasing in :math:`x` (clip, a correctly rounded
  subtraction of the same :math:`b_0`, a multiplication by a power of two and a floor all are),
  and the table computes :math:`q(b_k)` with the same operations in the same dtype as the
  device computes :math:`q(t)`. Hence a boundary with :math:`q(b_k) < q(t)` is below :math:`t`
  (were :math:`b_k \ge t`, monotonicity would give :math:`q(b_k) \ge q(t)`) and is passed, and
  one with :math:`q(b_k) > q(t)` is above :math:`t` and is not. Only the boundaries of bucket
  :math:`q(t)` are undecided, and they are among the :math:`K` compared. The first
  :math:`s_q` boundaries are passed without a comparison; each compared one adds exactly the
  result of :math:`b_k \le t` (or :math:`<`), compared in the common dtype; boundaries beyond
  the window lie in later buckets and are not passed. So the sum is :math:`i(t)`. For floats,
  where the device may round :math:`q(t)` differently from NumPy by one bucket (XLA:CPU flushes
  subnormal differences to zero), the margin :math:`m = 1` keeps the argument true for a count
  whose bucket is off by one. The boundaries are padded with the dtype's largest value, so a
  window never reads past the end, and :math:`\min(i, n)` corrects the one count equal to the
  padding. A NaN count (float dtypes) gets the first entry. A window of more than 8 boundaries
  (clustered boundaries) is binary-searched instead: :math:`\log_2 K` comparisons, same
  argument.
- **Traced boundaries** (no table can be made), or a range that the comparison dtype cannot
  span (a float difference that overflows; an integer span beyond the dtype's width): a
  branchless binary search over all of them (:math:`\log_2 n` comparisons, unrolled
  ``_LEVELS`` at a time), which gives :math:`i(t)` directly.

The program of the bucket index is a handful of gathers in one fused kernel; XLA compiles it in
the time of the 15-boundary select chain (``benchmarks/compile_time.py``), and it evaluates a
count in O(1) (``benchmarks/eval_throughput.py``). ``jnp.searchsorted`` is not used: its
default ``method="scan"`` runs a ``while`` loop over the whole count array (several times
slower), ``"compare_all"`` materialises an ``N x n`` array, and ``"scan_unrolled"`` grows with
:math:`\log_2 n`. ``tests/test_piecewise.py`` checks every path against ``np.searchsorted`` at
every boundary and its neighbours, for drawn boundaries, and that the traced and compiled
programs do not grow with :math:`n`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxdecay import _validate as V

__all__ = ["Lookup", "all_concrete", "as_array", "boundary_array", "common_dtype", "difference"]

# Boundaries up to which the lookup is a select chain carrying the tables' values.
_CHAIN_MAX = 15
# Buckets of the bucket index per boundary (about).
_BUCKETS_PER_BOUNDARY = 2
# Window entries of the bucket index compared one by one; a larger window is binary-searched.
_PROBES = 8
# Binary-search levels unrolled at a time; a deeper search is a rolled loop of such groups.
_LEVELS = 10


def _wide(dtype: Any) -> np.dtype:
    """``dtype``, with floats narrower than 32 bits (``bfloat16``, ``float16``) as ``float32``."""
    dt = np.dtype(dtype)
    if jnp.issubdtype(dt, jnp.floating) and dt.itemsize < 4:
        return np.dtype(np.float32)
    return dt


def common_dtype(a: Any, b: Any) -> np.dtype:
    """The dtype in which a count and a boundary are compared or subtracted: their promotion,
    at least ``float32`` when one is a float (integer counts stay exact), canonical for x64."""
    return jax.dtypes.canonicalize_dtype(np.promote_types(_wide(a), _wide(b)))


def difference(a: Any, b: Any) -> jax.Array:
    """``a - b`` in their :func:`_common` dtype (exact for integers, also under strict dtype
    promotion)."""
    a, b = jnp.asarray(a), jnp.asarray(b)
    common = common_dtype(a.dtype, b.dtype)
    return a.astype(common) - b.astype(common)


def _canonical(a: np.ndarray) -> np.ndarray:
    """Concrete boundaries: int32 (int64 under x64) when integers that fit, else float64."""
    idt = jax.dtypes.canonicalize_dtype(np.int64)
    if np.issubdtype(a.dtype, np.integer) and (a.size == 0 or abs(a).max() <= np.iinfo(idt).max):
        return a.astype(idt)
    return a.astype(np.float64)  # cast to the count's float dtype where compared


class _Plan(NamedTuple):
    """The bucket index of concrete boundaries for one comparison dtype (see the module
    docstring). ``bucket(t)`` is ``(clip(t, lo, hi) - lo) >> shift`` for integers and
    ``floor((clip(t, lo, hi) - lo) * scale)`` clipped to ``[0, buckets - 1]`` for floats."""

    lo: Any
    hi: Any
    shift: int  # integers: bucket width 2**shift
    scale: Any  # floats: 1 / bucket width, a power of two in the comparison dtype
    buckets: int
    start: np.ndarray  # int32 [buckets]: index of the first boundary of each bucket's window
    window: int  # K: boundaries compared per count
    bounds: np.ndarray  # the boundaries in the comparison dtype, padded with its largest value


def _top(dt: Any) -> Any:
    """The largest value of ``dt`` (what the boundaries are padded with)."""
    return jnp.finfo(dt).max if jnp.issubdtype(dt, jnp.floating) else jnp.iinfo(dt).max


def _make_plan(bounds: np.ndarray, dt: np.dtype) -> _Plan | None:
    """The bucket index of sorted concrete ``bounds`` compared in ``dt``, or None where ``dt``
    cannot span their range (then the lookup is a binary search)."""
    b = bounds.astype(dt)
    n = b.shape[0]
    lo, hi = b[0], b[-1]
    target = _BUCKETS_PER_BOUNDARY * n
    if jnp.issubdtype(dt, jnp.floating):
        with np.errstate(over="ignore", invalid="ignore"):
            span = hi - lo  # in dt, as on the device: an overflow means no plan
        if not np.isfinite(span):
            return None
        exp = 0 if span == 0 else math.ceil(math.log2(float(span) / target))
        scale = np.asarray(2.0**-exp, dt)
        if not np.isfinite(scale) or scale < np.finfo(dt).tiny:
            return None
        tol = 1  # a rounding margin of one bucket on each side

        def bucket(x: np.ndarray) -> np.ndarray:
            return np.floor((np.clip(x, lo, hi) - lo) * scale).astype(np.int64)

        shift = 0
        buckets = int(bucket(hi)) + 1
        qb = bucket(b)  # in [0, buckets - 1]: the arithmetic is monotone
    else:
        span = int(hi) - int(lo)
        if span >= 2 ** (8 * np.dtype(dt).itemsize):  # the unsigned difference must hold it
            return None
        shift = max(0, math.ceil(math.log2(span / target))) if span else 0
        scale, tol = None, 0
        buckets = (span >> shift) + 1
        qb = (b.astype(np.int64) - int(lo)) >> shift
    # start[q]: boundaries whose bucket is below q - tol; the window of q holds the buckets
    # q - tol .. q + tol.
    below = np.searchsorted(qb, np.arange(buckets) - tol, side="left")
    above = np.searchsorted(qb, np.arange(buckets) + tol, side="right")
    window = int(np.max(above - below))
    width = window if window <= _PROBES else 2 ** window.bit_length()
    pad = np.full((width,), _top(dt), dt)
    return _Plan(
        lo, hi, shift, scale, buckets, below.astype(np.int32), window, np.concatenate([b, pad])
    )


def _gather(table: Any, idx: jax.Array) -> jax.Array:
    """``table[idx]`` for in-bounds int32 indices of any shape (one XLA gather)."""
    table = jnp.asarray(table)
    dims = lax.GatherDimensionNumbers(
        offset_dims=(), collapsed_slice_dims=(0,), start_index_map=(0,)
    )
    return lax.gather(
        table, idx[..., None], dims, (1,), mode=lax.GatherScatterMode.PROMISE_IN_BOUNDS
    )


class Lookup:
    """``table[#(boundaries <= t)]`` (``side="right"``) or ``table[#(boundaries < t)]``
    (``side="left"``, Keras' switch one count after the boundary) for tables of ``n + 1``
    entries.

    ``boundaries`` is sorted: a list or 1-D array, kept as a NumPy array when concrete (every
    level then reads literals, and nothing is dispatched eagerly while tracing) or as a JAX
    array when an entry is traced. See the module docstring for the algorithm: one code path
    for every kind of count, a compiled program of the same size for every ``n`` of concrete
    boundaries.
    """

    def __init__(self, boundaries: Any, side: str = "right"):
        V.check_choice("side", side, ("left", "right"))
        self.side = side
        self.bounds = boundary_array(boundaries)
        self.n = int(self.bounds.shape[0])
        self._plans: dict[np.dtype, _Plan | None] = {}

    def _plan(self, dt: np.dtype) -> _Plan | None:
        """The bucket index for comparisons in ``dt`` (made once per dtype), or None."""
        if dt not in self._plans:
            concrete = isinstance(self.bounds, np.ndarray)
            self._plans[dt] = _make_plan(self.bounds, dt) if concrete else None
        return self._plans[dt]

    def _passed(self, t: jax.Array, b: Any) -> jax.Array:
        return t >= b if self.side == "right" else t > b

    def _search(self, padded: Any, start: Any, width: int, t: jax.Array) -> jax.Array:
        """``start`` plus the number of passed boundaries among ``padded[start:start + width -
        1]`` (sorted): a branchless binary search of ``log2(width)`` steps (``width`` a power
        of two)."""
        depth = width.bit_length() - 1

        def level(i: Any, pos: jax.Array) -> jax.Array:
            step = lax.shift_right_logical(jnp.int32(width), jnp.int32(i) + 1)  # i: int64 under x64
            return lax.select(self._passed(t, _gather(padded, pos + step - 1)), pos + step, pos)

        return lax.fori_loop(0, depth, level, start, unroll=_LEVELS)

    def __call__(self, tables: Sequence[Any], count: jax.typing.ArrayLike) -> list[jax.Array]:
        """Each table's entry at the index of ``count`` (any shape; broadcast like it)."""
        n = self.n
        t = jnp.asarray(count)
        if n == 0:
            return [jnp.broadcast_to(jnp.asarray(tab[0]), t.shape) for tab in tables]
        dt = common_dtype(t.dtype, self.bounds.dtype)
        is_float = jnp.issubdtype(dt, jnp.floating)
        if all(V.is_concrete(x) for x in (t, self.bounds, *tables)):
            # Everything concrete (an eager call): the same count, on the host.
            c = np.asarray(t).astype(dt)
            idx = np.searchsorted(self.bounds.astype(dt), c, side=self.side)  # type: ignore[arg-type]
            idx = np.where(np.isnan(c), 0, idx) if is_float else idx
            return [jnp.asarray(np.asarray(tab)[idx]) for tab in tables]
        t = t.astype(dt)
        if n <= _CHAIN_MAX:
            # A select chain that carries the values (a later boundary passed wins).
            vals = [jnp.broadcast_to(jnp.asarray(tab[0]), t.shape) for tab in tables]
            bounds = self.bounds.astype(dt)
            for k in range(n):
                hit = self._passed(t, bounds[k])
                vals = [
                    lax.select(hit, lax.full_like(v, tab[k + 1]), v)
                    for tab, v in zip(tables, vals, strict=True)
                ]
            return vals
        plan = self._plan(np.dtype(dt))
        if plan is None:
            # Traced boundaries or an unspanned range: a binary search over all of them.
            width = 2 ** n.bit_length()  # > n
            xp: Any = np if isinstance(self.bounds, np.ndarray) else jnp
            padded = xp.concatenate([self.bounds.astype(dt), xp.full((width,), _top(dt), dt)])
            idx = self._search(padded, jnp.zeros(t.shape, jnp.int32), width, t)
        else:
            clipped = lax.clamp(jnp.asarray(plan.lo, dt), t, jnp.asarray(plan.hi, dt))
            offset = clipped - jnp.asarray(plan.lo, dt)
            if is_float:
                q = lax.convert_element_type(lax.floor(offset * plan.scale), jnp.int32)
                q = lax.clamp(jnp.int32(0), q, jnp.int32(plan.buckets - 1))
            else:
                # The difference read as unsigned: exact up to 2**32 (int32) even if it wraps.
                q = lax.shift_right_logical(offset, jnp.asarray(plan.shift, dt))
                q = lax.convert_element_type(q, jnp.int32)
            start = _gather(plan.start, q)
            if plan.window <= _PROBES:
                idx = start
                for k in range(plan.window):
                    probe = _gather(plan.bounds, start + jnp.int32(k))
                    idx = idx + lax.convert_element_type(self._passed(t, probe), jnp.int32)
            else:
                idx = self._search(plan.bounds, start, plan.bounds.shape[0] - n, t)
        idx = lax.min(idx, jnp.int32(n))  # a count equal to the padding passes it
        if is_float:
            idx = lax.select(t == t, idx, jnp.zeros_like(idx))  # NaN: the first entry
        return [_gather(tab, idx) for tab in tables]


def all_concrete(xs: Any) -> bool:
    if isinstance(xs, list | tuple):
        return all(V.is_concrete(x) for x in xs)
    return V.is_concrete(xs)


def as_array(xs: Any) -> jax.Array:
    """A list (possibly of tracers) or an array as a 1-D JAX array."""
    if isinstance(xs, list | tuple):
        if len(xs) == 0:
            return jnp.zeros((0,), jnp.int32)
        return jnp.stack([jnp.asarray(x) for x in xs])
    return jnp.asarray(xs)


def boundary_array(xs: Any) -> Any:
    """Boundaries as a canonical NumPy array when concrete, else a JAX array."""
    if all_concrete(xs):
        return _canonical(np.asarray(xs).reshape(-1))
    return as_array(xs)
