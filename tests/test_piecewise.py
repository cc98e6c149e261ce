"""Piecewise schedules and `join_schedules`: Optax/PyTorch parity, the lookup for every size,
continuity at boundaries, constant program size, and argument checks.

The generic checks of docs/guides/contract.md (eager == jit == vmap, sweeps, grads, dtypes, round
trips) run over `cases_piecewise.py` in `test_contract.py`.
"""

from __future__ import annotations

import collections

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

try:
    from jax.extend.core import jaxprs_in_params
except ImportError:  # public from jax 0.10 on; the same function, internal before
    from jax._src.core import jaxprs_in_params

import jaxdecay as jd
from jaxdecay import _lookup, _piecewise

SEEDS = range(3)
COUNTS = np.concatenate([np.arange(0, 400), [1000, 10**6, 2**31 - 1]]).astype(np.int32)


def _random_bas(rng, n, float_keys=False):
    keys = np.sort(rng.choice(390, size=n, replace=False))
    if float_keys:
        keys = keys + 0.5
    scales = rng.uniform(0.3, 1.5, size=n)
    return {
        (float(k) if float_keys else int(k)): float(s) for k, s in zip(keys, scales, strict=True)
    }


# --------------------------------------------------------------------------------------------
# Optax parity on seeded random valid configurations.
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_piecewise_constant_schedule_matches_optax(seed):
    rng = np.random.default_rng(seed)
    for n in (0, 1, 5, 40):
        bas = _random_bas(rng, n) if n else None
        init = float(rng.uniform(0.01, 1))
        ours = jd.piecewise_constant_schedule(init, bas)(COUNTS)
        theirs = optax.piecewise_constant_schedule(init, bas)(COUNTS)
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-30)
    # Float steps switch at the first count >= the step, as in Optax.
    bas = _random_bas(rng, 6, float_keys=True)
    np.testing.assert_allclose(
        jd.piecewise_constant_schedule(0.3, bas)(COUNTS),
        optax.piecewise_constant_schedule(0.3, bas)(COUNTS),
        rtol=1e-6,
    )


@pytest.mark.parametrize("kind", ["linear", "cosine"])
@pytest.mark.parametrize("seed", SEEDS)
def test_piecewise_interpolate_schedule_matches_optax(seed, kind):
    rng = np.random.default_rng(seed)
    t = jnp.asarray(COUNTS[::7])
    for n in (0, 3, 12):
        bas = _random_bas(rng, n)
        if n and seed % 2:
            bas[0] = 2.0  # a step at 0: Optax's first interval is empty
        init = float(rng.uniform(0.01, 1))
        ours = jd.piecewise_interpolate_schedule(kind, init, bas)(t)
        theirs = jax.vmap(optax.piecewise_interpolate_schedule(kind, init, bas))(t)
        scale = init * max(1.0, *np.cumprod(list(bas.values()) or [1.0]))
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6 * scale)


def _piece(rng):
    kind = rng.integers(3)
    if kind == 0:
        return jd.linear_schedule(float(rng.uniform(0, 1)), float(rng.uniform(0, 1)), 30)
    if kind == 1:
        return jd.cosine_decay_schedule(float(rng.uniform(0.1, 1)), 50, alpha=0.1)
    return jd.constant_schedule(float(rng.uniform(0, 1)))


@pytest.mark.parametrize("seed", range(2))
def test_join_schedules_matches_optax(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, 6))
    pieces = [_piece(rng) for _ in range(k)]
    bounds = sorted(int(b) for b in rng.choice(np.arange(1, 300), size=k - 1, replace=False))
    ours = jd.join_schedules(pieces, bounds)
    theirs = optax.join_schedules(pieces, bounds)
    t = jnp.asarray(COUNTS[:-1])  # Optax passes t - b, which overflows at 2**31 - 1
    np.testing.assert_allclose(ours(t), theirs(t), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(jax.jit(ours)(t), theirs(t), rtol=1e-6, atol=1e-7)
    scalar = jax.jit(ours)
    for c in (0, *bounds, *(b - 1 for b in bounds), 399):
        np.testing.assert_allclose(float(scalar(c)), float(theirs(c)), rtol=1e-6, atol=1e-7)


def test_join_schedules_accepts_optax_pieces_and_evaluates_only_the_active_one():
    calls = collections.Counter()

    def tracer_counting(name, value):
        def f(t):
            calls[name] += 1
            return jnp.full(jnp.shape(t), value)

        return f

    s = jd.join_schedules([tracer_counting("a", 1.0), optax.constant_schedule(2.0)], [5])
    assert [float(s(t)) for t in (0, 4, 5, 100)] == [1.0, 1.0, 2.0, 2.0]
    calls.clear()
    float(s(7))  # eager scalar: only the active piece runs
    assert calls["a"] == 0
    hlo = jax.jit(s).lower(jnp.int32(3)).as_text()
    assert "case" in hlo or "conditional" in hlo  # lax.switch: one branch executes


# --------------------------------------------------------------------------------------------
# PyTorch MultiStepLR semantics.
# --------------------------------------------------------------------------------------------


def _torch_multistep(lr, milestones, gamma, steps):
    """PyTorch ``MultiStepLR``'s own algorithm (``get_lr``): the learning rate after ``e`` calls
    of ``step()``; at ``last_epoch == m`` it multiplies by ``gamma ** Counter(milestones)[m]``."""
    counter = collections.Counter(milestones)
    out, value = [], lr
    for e in range(steps):
        if e in counter:
            value *= gamma ** counter[e]
        out.append(value)
    return np.asarray(out)


@pytest.mark.parametrize("seed", range(3))
def test_multistep_decay_matches_torch_semantics(seed):
    rng = np.random.default_rng(seed)
    ms = [int(m) for m in rng.integers(1, 60, size=int(rng.integers(1, 8)))]
    ms += ms[:2]  # repeated milestones apply gamma twice
    rng.shuffle(ms)
    gamma = float(rng.uniform(0.1, 0.9))
    want = _torch_multistep(0.5, ms, gamma, 80)
    got = jd.multistep_decay(0.5, ms, gamma)(jnp.arange(80))
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_multistep_decay_traced_milestones_are_sorted_inside():
    f = jax.jit(jax.vmap(lambda m: jd.multistep_decay(1.0, m, 0.5)(jnp.arange(40))))
    ms = jnp.asarray([[30, 10, 10], [10, 10, 30], [35, 0, 20]])
    for row, got in zip(np.asarray(ms), np.asarray(f(ms)), strict=True):
        want = 0.5 ** (row[None, :] <= np.arange(40)[:, None]).sum(1)
        np.testing.assert_allclose(got, want, rtol=1e-6)


# --------------------------------------------------------------------------------------------
# The lookup itself, for every path (chain / bucket index / binary search; eager / jit; scalar /
# array).
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 15, 16, 17, 128, 300, 2000, 20_000])
def test_piecewise_constant_lookup_for_every_size(n):
    # Up to 15: the select chain; 16 on: the bucket index (random boundaries: windows of a few).
    rng = np.random.default_rng(n)
    bounds = np.sort(rng.choice(10**5, size=n, replace=False)).astype(np.int32)
    values = rng.uniform(0, 1, n + 1).astype(np.float32)
    s = jd.piecewise_constant(bounds, values)
    t = np.concatenate([bounds - 1, bounds, bounds + 1, [0, 10**5, 2**31 - 1]]).clip(0)
    t = t.astype(np.int32)
    want = values[np.searchsorted(bounds, t, side="right")]
    big = np.resize(t, max(t.size, 100))  # an array of counts
    big_want = values[np.searchsorted(bounds, big, side="right")]
    np.testing.assert_array_equal(s(t), want)  # eager
    np.testing.assert_array_equal(jax.jit(s)(big), big_want)
    np.testing.assert_array_equal(jax.jit(jax.vmap(s))(big), big_want)  # vmap of a scalar count
    small = jax.jit(s)  # traced scalar
    for c in t[:: max(1, t.size // 12)]:
        assert float(small(c)) == values[np.searchsorted(bounds, c, side="right")]
    np.testing.assert_array_equal(jax.jit(s)(t[:8].astype(np.float32)), want[:8])


def _lookup_both_ways(lookup, table, counts):
    """The lookup of ``counts`` under jit on the array and under jit(vmap) of a scalar."""
    f = lambda t: lookup([table], t)[0]  # noqa: E731
    return np.asarray(jax.jit(f)(counts)), np.asarray(jax.jit(jax.vmap(f))(counts))


def _neighbours(bounds, dt):
    """Every boundary in ``dt`` and the values of ``dt`` just below and above it."""
    b = bounds.astype(dt)
    if np.issubdtype(dt, np.integer):
        wide = b.astype(np.int64)
        near = np.concatenate([wide - 1, wide, wide + 1])
        info = np.iinfo(dt)
        return near.clip(info.min, info.max).astype(dt)
    return np.concatenate([np.nextafter(b, -np.inf), b, np.nextafter(b, np.inf)]).astype(dt)


def _check_lookup(bounds, side, dt, extra=()):
    lookup = _lookup.Lookup(bounds, side)
    table = np.arange(bounds.size + 1, dtype=np.float32)
    counts = np.concatenate([_neighbours(bounds, dt), np.asarray(extra, dt)]).astype(dt)
    if np.issubdtype(dt, np.floating):  # XLA:CPU flushes subnormal counts to 0: not compared
        counts = counts[~((counts != 0) & (np.abs(counts) < np.finfo(dt).tiny))]
    want = np.searchsorted(bounds.astype(dt), counts, side=side)
    if np.issubdtype(dt, np.floating):
        want = np.where(np.isnan(counts), 0, want)
    for got in _lookup_both_ways(lookup, table, counts):
        np.testing.assert_array_equal(got, want, err_msg=f"{side} {dt} {bounds[:5]}...")
    return lookup


@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("dt", [np.int32, np.float32])
@pytest.mark.parametrize(
    "kind", ["even", "random", "clustered", "duplicates", "fractional", "negative", "int32 span"]
)
def test_lookup_matches_searchsorted_at_every_boundary(kind, dt, side):
    # Every boundary and its neighbours in the comparison dtype, under jit and vmap, against
    # np.searchsorted in the same dtype; a kind of boundaries per path of the bucket index.
    if np.issubdtype(dt, np.integer) and kind == "fractional":
        pytest.skip("fractional boundaries compare as floats")
    rng = np.random.default_rng(len(kind))
    if kind == "even":
        bounds = np.arange(1, 301) * 7
    elif kind == "random":
        bounds = np.sort(rng.choice(10**6, size=500, replace=False))
    elif kind == "clustered":  # one bucket holds 100 boundaries: its window is binary-searched
        bounds = np.concatenate([np.arange(100), [10**9]])
    elif kind == "duplicates":  # multistep_decay's milestones may repeat
        bounds = np.sort(rng.integers(0, 50, size=60))
    elif kind == "fractional":
        bounds = np.sort(rng.uniform(0, 3, size=40))
    elif kind == "negative":  # piecewise_linear's points may sit at negative counts
        bounds = np.sort(rng.uniform(-1e4, 1e4, size=80)).round()
    else:  # the whole int32 range: the bucket of a count is an unsigned difference
        bounds = np.linspace(-(2**31) + 1, 2**31 - 1, 40).round().astype(np.int64)
    if np.issubdtype(dt, np.integer):
        bounds = bounds.astype(np.int32)
    info = np.iinfo(dt) if np.issubdtype(dt, np.integer) else np.finfo(dt)
    extra = [0, info.max, info.min, 12345678, 2**24 + 1]
    if np.issubdtype(dt, np.floating):
        extra += [np.inf, -np.inf, np.nan, 0.5, 1e30]
    lookup = _check_lookup(bounds, side, np.dtype(dt), extra)
    plan = lookup._plan(np.dtype(dt))
    assert plan is not None
    if kind == "clustered":
        assert plan.window > _lookup._PROBES
    elif kind in ("even", "random"):
        assert plan.window <= _lookup._PROBES


@settings(max_examples=20, deadline=None, derandomize=True)
@given(
    n=st.integers(16, 120),
    gaps=st.sampled_from(["even", "geometric", "mixed"]),
    scale=st.sampled_from([1e-3, 1.0, 1e3, 1e7]),
    integer=st.booleans(),
    side=st.sampled_from(["right", "left"]),
    seed=st.integers(0, 2**16),
)
def test_lookup_matches_searchsorted_for_drawn_boundaries(n, gaps, scale, integer, side, seed):
    rng = np.random.default_rng(seed)
    if gaps == "even":
        steps = np.ones(n)
    elif gaps == "geometric":  # spacings over many orders of magnitude
        steps = 1.2 ** np.arange(n)
    else:  # zeros (repeats), tiny and large gaps mixed
        steps = rng.choice([0.0, 1e-3, 1.0, 50.0], size=n)
    bounds = np.cumsum(steps) * scale
    dt = np.dtype(np.int32 if integer else np.float32)
    if integer:
        bounds = np.minimum(bounds.round(), 2**31 - 1).astype(np.int32)
    _check_lookup(bounds, side, dt, [0, 2**30])


@pytest.mark.parametrize("side", ["right", "left"])
def test_lookup_of_a_range_the_count_dtype_cannot_span(side):
    # float32 counts cannot hold hi - lo: no bucket index, a binary search over all boundaries.
    bounds = np.linspace(-3e38, 3e38, 41)
    lookup = _check_lookup(bounds, side, np.dtype(np.float32), [0.0, np.inf, -np.inf, np.nan])
    assert lookup._plan(np.dtype(np.float32)) is None


def test_lookup_under_x64_compares_in_64_bits():
    with jax.enable_x64(True):
        _check_lookup(np.arange(1, 100) * (2**33), "right", np.dtype(np.int64), [2**62])
        bounds = np.sort(np.random.default_rng(1).uniform(0, 1, 64))
        _check_lookup(bounds, "left", np.dtype(np.float64), [np.nan, np.inf])


def test_piecewise_constant_with_many_traced_boundaries():
    # Traced boundaries (no bucket index): a binary search over all 40, under vmap of the
    # boundaries themselves.
    rng = np.random.default_rng(3)
    sets = np.sort(rng.choice(1000, size=(3, 40), replace=False), axis=1).astype(np.int32)
    values = np.linspace(1.0, 0.0, 41).astype(np.float32)
    t = np.arange(0, 1001, dtype=np.int32)
    got = jax.jit(jax.vmap(lambda b: jd.piecewise_constant(b, values)(t)))(sets)
    for row, g in zip(sets, np.asarray(got), strict=True):
        np.testing.assert_array_equal(g, values[np.searchsorted(row, t, side="right")])


def _eqns(jaxpr) -> int:
    n = 0
    for e in jaxpr.eqns:
        n += 1
        for sub in jaxprs_in_params(e.params):
            n += _eqns(sub)
    return n


def _programs(n):
    b = np.arange(1, n + 1) * 3
    bas = {int(k): 0.99 for k in b}
    return {
        "piecewise_constant": jd.piecewise_constant(b, np.linspace(1, 0, n + 1)),
        "piecewise_linear": jd.piecewise_linear(b, np.linspace(1, 0, n)),
        "multistep_decay": jd.multistep_decay(1.0, b[::-1], 0.99),
        "piecewise_constant_schedule": jd.piecewise_constant_schedule(1.0, bas),
        "piecewise_interpolate_schedule": jd.piecewise_interpolate_schedule("cosine", 1.0, bas),
    }


def test_traced_program_does_not_grow_with_the_number_of_pieces():
    # Evenly spaced boundaries: from 16 on (17 points of piecewise_linear), the bucket index has
    # the same window for every n, so the very same program (only its constant tables grow); up
    # to 15, a select chain.
    scalar = jax.ShapeDtypeStruct((), jnp.int32)
    array = jax.ShapeDtypeStruct((1000,), jnp.int32)
    floats = jax.ShapeDtypeStruct((1000,), jnp.float32)
    sizes = {n: _programs(n) for n in (32, 1000, 10_000)}
    small = _programs(10)
    for name in small:
        for spec in (scalar, array, floats):
            counts = {n: _eqns(jax.make_jaxpr(p[name])(spec).jaxpr) for n, p in sizes.items()}
            assert len(set(counts.values())) == 1, (name, spec, counts)
            assert counts[32] < 200, (name, spec, counts)
        assert _eqns(jax.make_jaxpr(small[name])(array).jaxpr) < 400


def test_compiled_lookup_does_not_grow_with_the_number_of_pieces():
    # What XLA compiles: the same operations (constants aside) for 100 and 10,000 pieces.
    def ops(n):
        s = jd.piecewise_constant(np.arange(1, n + 1) * 3, np.linspace(1, 0, n + 1))
        text = jax.jit(s).lower(jnp.int32(0)).compile().as_text()
        lines = [ln.split("=", 1)[1] for ln in text.splitlines() if " = " in ln]
        return sorted(ln.split("(")[0].split()[-1] for ln in lines if "constant(" not in ln)

    assert ops(100) == ops(10_000)


# --------------------------------------------------------------------------------------------
# Continuity and exact switching at every boundary.
# --------------------------------------------------------------------------------------------


def test_join_schedules_switches_exactly_at_each_boundary():
    pieces = [
        jd.linear_schedule(0.0, 1.0, 10),
        jd.cosine_decay(1.0, 50, end_value=0.1),
        jd.piecewise_linear([0, 20], [0.1, 0.0]),
    ]
    s = jd.join_schedules(pieces, [10, 60])
    # Each piece evaluated the way the join is (eager or under jit: XLA may round a piece's own
    # formula one ulp differently under jit).
    for fn, mode in ((s, lambda f: f), (jax.jit(s), jax.jit)):
        assert float(fn(9)) == float(mode(pieces[0])(9))
        assert float(fn(10)) == float(mode(pieces[1])(0))
        assert float(fn(59)) == float(mode(pieces[1])(49))
        assert float(fn(60)) == float(mode(pieces[2])(0))
        # These pieces meet: the joined curve is continuous (no jump beyond one step's change).
        t = jnp.arange(0, 100)
        assert float(jnp.max(jnp.abs(jnp.diff(fn(t))))) <= 0.1 + 1e-6


def test_piecewise_linear_is_continuous_and_hits_every_point():
    xs, ys = [0, 7, 8, 30], [0.0, 0.7, 0.1, 0.5]
    s = jd.piecewise_linear(xs, ys)
    for x, y in zip(xs, ys, strict=True):
        assert float(s(x)) == pytest.approx(y, abs=1e-7)
        assert float(jax.jit(s)(x)) == pytest.approx(y, abs=1e-7)
    fine = np.linspace(0, 40, 4001, dtype=np.float32)
    np.testing.assert_allclose(s(fine), np.interp(fine, xs, ys), atol=1e-6)


# --------------------------------------------------------------------------------------------
# boundaries_and_scales keys, and every invalid argument named.
# --------------------------------------------------------------------------------------------


def test_string_keys_from_json_are_read_as_steps():
    a = jd.piecewise_constant_schedule(1.0, {"10": 0.5, "20": 0.1})
    b = jd.piecewise_constant_schedule(1.0, {10: 0.5, 20: 0.1})
    t = jnp.arange(30)
    np.testing.assert_array_equal(a(t), b(t))
    c = jd.piecewise_interpolate_schedule("linear", 1.0, {"10.5": 0.5})
    d = jd.piecewise_interpolate_schedule("linear", 1.0, {10.5: 0.5})
    np.testing.assert_array_equal(c(t), d(t))


def test_traced_scales_and_init_value():
    f = jax.vmap(lambda s: jd.piecewise_constant_schedule(2.0, {5: s, 9: 0.5})(jnp.arange(12)))
    out = np.asarray(f(jnp.asarray([0.1, 1.0])))
    np.testing.assert_allclose(out[0, 5:9], 0.2, rtol=1e-6)
    np.testing.assert_allclose(out[1, 9:], 1.0, rtol=1e-6)
    g = jax.grad(lambda v: jd.piecewise_interpolate_schedule("cosine", v, {10: 0.5})(5))(1.0)
    assert np.isfinite(g) and g == pytest.approx(0.75, rel=1e-5)


BAD = [
    (
        jd.piecewise_constant,
        dict(boundaries=[10, 5], values=[1, 2, 3]),
        ValueError,
        "`boundaries` must be strictly increasing",
    ),
    (
        jd.piecewise_constant,
        dict(boundaries=[10, 10], values=[1, 2, 3]),
        ValueError,
        "`boundaries` must be strictly increasing",
    ),
    (
        jd.piecewise_constant,
        dict(boundaries=[-1, 10], values=[1, 2, 3]),
        ValueError,
        r"`boundaries\[0\]` must be >= 0",
    ),
    (
        jd.piecewise_constant,
        dict(boundaries=[1, float("nan")], values=[1, 2, 3]),
        ValueError,
        r"`boundaries\[1\]` must not be NaN",
    ),
    (jd.piecewise_constant, dict(boundaries=[10], values=[1, 2, 3]), ValueError, "`values`"),
    (
        jd.piecewise_constant,
        dict(boundaries=[10], values=[1, float("nan")]),
        ValueError,
        r"`values\[1\]`",
    ),
    (jd.piecewise_constant, dict(boundaries=5, values=[1, 2]), TypeError, "`boundaries`"),
    (jd.piecewise_constant, dict(boundaries=[], values=[]), ValueError, "`values`"),
    (jd.piecewise_linear, dict(boundaries=[0, 1], values=[1.0]), ValueError, "`values`"),
    (
        jd.piecewise_linear,
        dict(boundaries=[3, 1], values=[1.0, 2.0]),
        ValueError,
        "`boundaries` must be strictly increasing",
    ),
    (
        jd.piecewise_linear,
        dict(boundaries=np.zeros((2, 2)), values=[1.0, 2.0]),
        TypeError,
        "`boundaries`",
    ),
    (
        jd.multistep_decay,
        dict(init_value=1.0, milestones=[5, -1]),
        ValueError,
        r"`milestones\[1\]` must be >= 0",
    ),
    (
        jd.multistep_decay,
        dict(init_value=1.0, milestones=[5], gamma=-0.1),
        ValueError,
        "`gamma` must be >= 0",
    ),
    (jd.multistep_decay, dict(init_value=float("nan"), milestones=[5]), ValueError, "`init_value`"),
    (jd.multistep_decay, dict(init_value=1.0, milestones="5"), TypeError, "`milestones`"),
    (
        jd.piecewise_constant_schedule,
        dict(init_value=1.0, boundaries_and_scales={5: -0.1}),
        ValueError,
        r"`boundaries_and_scales\[5\]` must be >= 0",
    ),
    (
        jd.piecewise_constant_schedule,
        dict(init_value=1.0, boundaries_and_scales={-5: 0.1}),
        ValueError,
        "`boundaries_and_scales` key -5 must be >= 0",
    ),
    (
        jd.piecewise_constant_schedule,
        dict(init_value=1.0, boundaries_and_scales={float("nan"): 0.1}),
        ValueError,
        "`boundaries_and_scales` key nan must be a finite",
    ),
    (
        jd.piecewise_constant_schedule,
        dict(init_value=1.0, boundaries_and_scales={5: 0.1, "5": 0.2}),
        ValueError,
        "twice",
    ),
    (
        jd.piecewise_constant_schedule,
        dict(init_value=1.0, boundaries_and_scales={"x": 0.1}),
        ValueError,
        "`boundaries_and_scales` key 'x' must be a number",
    ),
    (
        jd.piecewise_constant_schedule,
        dict(init_value=1.0, boundaries_and_scales={True: 0.1}),
        TypeError,
        "`boundaries_and_scales` key True",
    ),
    (
        jd.piecewise_constant_schedule,
        dict(init_value=1.0, boundaries_and_scales=[(5, 0.1)]),
        TypeError,
        "`boundaries_and_scales` must be a dict",
    ),
    (
        jd.piecewise_constant_schedule,
        dict(init_value=1.0, boundaries_and_scales={5: np.nan}),
        ValueError,
        r"`boundaries_and_scales\[5\]` must not be NaN",
    ),
    (
        jd.piecewise_interpolate_schedule,
        dict(interpolate_type="cubic", init_value=1.0),
        ValueError,
        "`interpolate_type` must be one of",
    ),
    (
        jd.piecewise_interpolate_schedule,
        dict(interpolate_type="linear", init_value=1.0, boundaries_and_scales={5: -1.0}),
        ValueError,
        r"`boundaries_and_scales\[5\]` must be >= 0",
    ),
    (
        jd.join_schedules,
        dict(schedules=[optax.constant_schedule(1.0)] * 2, boundaries=[]),
        ValueError,
        "`boundaries` must have",
    ),
    (
        jd.join_schedules,
        dict(schedules=[optax.constant_schedule(1.0)] * 3, boundaries=[5, 5]),
        ValueError,
        "`boundaries` must be strictly increasing",
    ),
    (
        jd.join_schedules,
        dict(schedules=[optax.constant_schedule(1.0), 0.1], boundaries=[5]),
        TypeError,
        r"`schedules\[1\]` must be a schedule",
    ),
    (jd.join_schedules, dict(schedules=[], boundaries=[]), ValueError, "`schedules`"),
    (
        jd.join_schedules,
        dict(schedules=[optax.constant_schedule(1.0)] * 2, boundaries=[-3]),
        ValueError,
        r"`boundaries\[0\]` must be >= 0",
    ),
]


@pytest.mark.parametrize(
    "factory,kwargs,exc,match", BAD, ids=[f"{b[0].__name__}-{i}" for i, b in enumerate(BAD)]
)
def test_invalid_arguments_are_named(factory, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        factory(**kwargs)


def test_traced_boundaries_are_not_checked_but_keys_must_be_static():
    # A traced boundary passes the checks (documented); a traced dict key cannot exist.
    out = jax.jit(lambda b: jd.piecewise_constant([b], [1.0, 0.5])(7))(jnp.int32(5))
    assert float(out) == 0.5
    with pytest.raises(TypeError):  # a tracer cannot even be a dict key (unhashable)
        jax.jit(lambda k: jd.piecewise_constant_schedule(1.0, {k: 0.5})(7))(jnp.int32(5))
    with pytest.raises(TypeError, match="step count"):
        jd.piecewise_constant_schedule(1.0, {object(): 0.5})


def test_join_schedules_with_many_pieces_selects_under_jit():
    # More than 8 pieces: a traced scalar count selects among all pieces (no 80 ms/branch switch).
    n = _piecewise._SWITCH_MAX + 4
    pieces = [optax.linear_schedule(1.0 - i / n, 0.5 - i / (2 * n), 7) for i in range(n)]
    bounds = [7 * (i + 1) for i in range(n - 1)]
    ours, theirs = jax.jit(jd.join_schedules(pieces, bounds)), optax.join_schedules(pieces, bounds)
    for c in (0, 6, 7, 8, 13, 14, 50, 76, 77, 200):
        np.testing.assert_allclose(float(ours(c)), float(theirs(c)), rtol=1e-6)


# --------------------------------------------------------------------------------------------
# Count dtypes and overflow (regressions).
# --------------------------------------------------------------------------------------------


def _piecewise_family():
    from jaxdecay.compat import keras, torch

    return {
        "piecewise_constant": (jd.piecewise_constant([10, 300], [1.0, 0.5, 0.25]), 0.5),
        "piecewise_linear": (jd.piecewise_linear([0, 20], [1.0, 0.0]), 0.4),
        "multistep_decay": (jd.multistep_decay(1.0, [10, 300], 0.5), 0.5),
        "piecewise_constant_schedule": (jd.piecewise_constant_schedule(1.0, {10: 0.5}), 0.5),
        "piecewise_interpolate_schedule": (
            jd.piecewise_interpolate_schedule("linear", 1.0, {10: 0.5, 20: 0.5}),
            0.45,
        ),
        "join_schedules": (
            jd.join_schedules([jd.constant_schedule(1.0), jd.linear_schedule(1.0, 0.0, 10)], [10]),
            0.8,
        ),
        "keras.PiecewiseConstantDecay": (keras.PiecewiseConstantDecay([11], [1.0, 0.5]), 0.5),
        "torch.MultiStepLR": (torch.MultiStepLR(1.0, [10, 300], 0.5), 0.5),
    }


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_low_precision_float_counts_work_in_the_piecewise_family(dtype):
    # They raised DTypePromotionError: the count is compared and subtracted in float32.
    count = jnp.asarray(12, dtype)
    for name, (s, want) in _piecewise_family().items():
        for fn in (s, jax.jit(s)):
            got = fn(count)
            assert got.dtype == jnp.float32, name
            assert float(got) == pytest.approx(want, rel=1e-6), name
        assert float(s(jnp.asarray([12], dtype))[0]) == float(s(12)), name


def test_growth_saturates_to_the_largest_finite_value():
    big = float(jnp.finfo(jnp.float32).max)
    s = jd.multistep_decay(1.0, [10] * 40, gamma=10.0)  # 10**40 overflows float32
    for fn in (s, jax.jit(s)):
        assert float(fn(20)) == big
        assert float(fn(9)) == 1.0
    s = jd.piecewise_constant_schedule(1.0, {i: 10.0 for i in range(1, 41)})
    for fn in (s, jax.jit(s)):
        out = np.asarray(fn(jnp.arange(50)))
        assert np.isfinite(out).all()
        assert float(out[45]) == big
        np.testing.assert_allclose(out[:30], 10.0 ** np.minimum(np.arange(30), 40), rtol=1e-6)
    # A scale of 0 after an overflow gives 0 (not inf * 0 = NaN), also for traced scales.
    bas = {1: 1e30, 2: 1e30, 3: 0.0, 4: 2.0}
    want = [1.0, 1e30, big, 0.0, 0.0]
    np.testing.assert_allclose(jd.piecewise_constant_schedule(1.0, bas)(jnp.arange(5)), want)
    traced = jax.jit(lambda z: jd.piecewise_constant_schedule(1.0, {**bas, 3: z})(jnp.arange(5)))
    np.testing.assert_allclose(traced(0.0), want)
    out = jd.piecewise_interpolate_schedule("cosine", 1.0, {i: 10.0 for i in range(1, 41)})(45)
    assert float(out) == big


def test_low_precision_hyperparameters_are_accepted_when_concrete():
    # Concrete bfloat16 entries were refused ("got dtype bfloat16") while traced ones worked.
    bf = jnp.bfloat16
    s = jd.piecewise_constant(np.asarray([10, 20], bf), [jnp.asarray(1.0, bf), 0.5, 0.25])
    assert [float(s(t)) for t in (0, 10, 25)] == [1.0, 0.5, 0.25]
    with pytest.raises(ValueError, match=r"`values\[1\]` must not be NaN"):
        jd.piecewise_constant([10], [1.0, jnp.asarray(np.nan, bf)])
    m = jd.multistep_decay(jnp.asarray(1.0, bf), [5], jnp.asarray(0.5, bf))
    assert float(m(7)) == 0.5
    assert m(7).dtype == jax.jit(m)(7).dtype == jax.vmap(m.__call__)(jnp.asarray([7])).dtype


def test_validation_is_one_pass_for_many_pieces():
    # 100,000 boundaries: checked and converted in NumPy (this took seconds entry by entry).
    import time

    b = np.arange(1, 100_001) * 3
    start = time.perf_counter()
    s = jd.piecewise_constant(b.tolist(), np.linspace(1, 0, b.size + 1).tolist())
    p = jd.piecewise_constant_schedule(1.0, {int(k): 0.9999 for k in b})
    elapsed = time.perf_counter() - start
    assert float(s(b[500])) == pytest.approx(1 - 501 / b.size, rel=1e-5)
    assert float(p(4)) == pytest.approx(0.9999, rel=1e-6)
    assert elapsed < 2.0, elapsed
    with pytest.raises(ValueError, match=r"`boundaries\[70000\]` must be >= 0, got -1"):
        jd.piecewise_constant([*b[:70000].tolist(), -1], [0.0] * 70002)
