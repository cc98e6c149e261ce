"""Budget schedules: `jaxdecay.budget` driven by a host-measured progress value.

The feature is described in docs/guides/beyond_optax.md ("Schedules over a budget").

Training loops run on a tiny regression with a jitted step that takes the progress as an
argument; the fake clock makes the number of updates and every progress value deterministic.
"""

from __future__ import annotations

import time

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxdecay as jd

_X = np.asarray(jax.random.normal(jax.random.PRNGKey(0), (32, 3)))
_Y = _X @ np.array([1.0, -2.0, 0.5]) + 0.3
COS = jd.cosine_decay(0.05, 1000, end_value=0.002)


def _loss(params):
    return jnp.mean((jnp.asarray(_X) @ params["w"] + params["b"] - jnp.asarray(_Y)) ** 2)


def _params():
    return {"w": jnp.zeros(3), "b": jnp.zeros(())}


OPT = jd.inject_hyperparams(optax.adamw)(learning_rate=jd.budget(COS), weight_decay=1e-3)


@jax.jit
@chex.assert_max_traces(n=1)
def _step(params, state, progress):
    loss, grads = jax.value_and_grad(_loss)(params)
    updates, state = OPT.update(grads, state, params, progress=progress)
    return optax.apply_updates(params, updates), state, loss


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_value_is_the_schedule_over_its_horizon():
    b = jd.budget(COS)
    assert b.horizon == 1000
    p = np.array([-0.5, 0.0, 0.1, 0.25, 0.5, 0.999, 1.0, 1.5])
    want = np.asarray(COS(jnp.asarray(np.clip(p, 0, 1) * 1000, jnp.float32)))
    np.testing.assert_allclose(np.asarray(b.value(jnp.asarray(p, jnp.float32))), want, rtol=1e-6)
    assert float(b.value(1.0)) == pytest.approx(0.002, rel=1e-6)  # exactly the end value
    # A schedule written over [0, 1] maps as it is; one without a horizon needs `horizon`.
    unit = jd.budget(jd.warmup_stable_decay(1.0, 0.1, 0.6, 0.3))
    np.testing.assert_allclose(
        [float(unit.value(q)) for q in (0.05, 0.5, 0.85, 1.0)], [0.5, 1.0, 0.5, 0.0], atol=1e-6
    )
    expo = jd.budget(jd.exponential_decay(1.0, 10, 0.5), horizon=30)
    assert float(expo.value(1.0)) == pytest.approx(0.125, rel=1e-6)
    # vmap over progress and over a traced horizon.
    got = jax.vmap(lambda h: jd.budget(COS, horizon=h).value(0.5))(jnp.asarray([500.0, 1000.0]))
    np.testing.assert_allclose(np.asarray(got), [float(COS(250)), float(COS(500))], rtol=1e-6)


def test_bad_input():
    with pytest.raises(ValueError, match="`horizon` is required"):
        jd.budget(jd.exponential_decay(0.1, 100, 0.5))
    with pytest.raises(ValueError, match="constant from count 0"):
        jd.budget(jd.constant_schedule(0.1))
    with pytest.raises(ValueError, match="`horizon` must be > 0, got 0"):
        jd.budget(COS, horizon=0)
    with pytest.raises(TypeError, match="`schedule` must be a schedule"):
        jd.budget(0.1)
    with pytest.raises(ValueError, match="`seconds` must be > 0, got -1"):
        jd.BudgetClock(-1)
    with pytest.raises(ValueError, match="`steps` must be an int >= 1, got 0"):
        jd.BudgetClock(1.0).next_chunk(0)
    state = OPT.init(_params())
    with pytest.raises(TypeError, match=r"progress=p"):
        OPT.update(jax.tree.map(jnp.ones_like, _params()), state, _params())


def test_fake_clock_run_ends_with_the_end_value_exactly_at_the_budget():
    fake = FakeClock()
    clock = jd.BudgetClock(2.0, clock=fake)
    params, state = _params(), OPT.init(_params())
    chex.clear_trace_counter()
    ps, lrs, losses = [], [], []
    while not clock.done:
        p = clock.next_progress()
        params, state, loss = _step(params, state, p)  # a Python float: no retrace
        ps.append(p)
        lrs.append(float(jd.hyperparams(state)["learning_rate"]))
        losses.append(float(loss))
        fake.now += 0.025  # every update takes 25 ms
    # 2 s / 25 ms = 80 updates; update k (k >= 1) ends at (k + 1) * 25 ms.
    assert clock.updates == len(ps) == 80
    np.testing.assert_allclose(ps, [0.0] + [(k + 1) * 0.025 / 2.0 for k in range(1, 80)])
    assert ps[-1] == 1.0 and clock.done and clock.progress == 1.0
    np.testing.assert_allclose(lrs, [float(COS(1000 * p)) for p in ps], rtol=1e-6)
    assert lrs[-1] == pytest.approx(0.002, rel=1e-6)
    assert state.hyperparams_states["learning_rate"].progress.dtype == jnp.float32
    assert float(state.hyperparams_states["learning_rate"].progress) == 1.0
    assert losses[-1] < 0.2 * losses[0]
    with pytest.raises(RuntimeError, match="budget of 2 s is spent"):
        clock.next_progress()


def test_a_resumed_clock_goes_on_from_the_seconds_spent():
    fake = FakeClock()
    clock = jd.BudgetClock(2.0, clock=fake)
    clock.start(spent=1.5, updates=30)  # 50 ms per update so far
    assert clock.progress == pytest.approx(0.75)
    assert clock.next_progress() == pytest.approx((1.5 + 0.05) / 2.0)
    fake.now += 0.5
    assert clock.next_progress() == 1.0 and clock.done  # (2.0 + 2.0 / 31) / 2 >= 1
    spent = jd.BudgetClock(2.0, clock=fake)
    spent.start(spent=2.0, updates=40)
    assert spent.done
    with pytest.raises(ValueError, match="`spent` must be >= 0"):
        spent.start(spent=-1.0)


def test_chunks_for_a_scan_and_stable_state_dtypes():
    fake = FakeClock()
    clock = jd.BudgetClock(0.9, clock=fake)
    first = clock.next_chunk(8)  # nothing measured yet: progress 0
    np.testing.assert_array_equal(first, np.zeros(8, np.float32))
    fake.now += 8 * 0.04
    second = clock.next_chunk(8)  # 40 ms per update: (0.32 + i * 0.04) / 0.9, i = 1..8
    np.testing.assert_allclose(second, (0.32 + 0.04 * np.arange(1, 9)) / 0.9, rtol=1e-6)
    fake.now += 8 * 0.04
    last = clock.next_chunk(8)  # (0.64 + i * 0.04) / 0.9 reaches 1 at i = 7: cut there
    np.testing.assert_allclose(last, np.r_[(0.64 + 0.04 * np.arange(1, 7)) / 0.9, 1.0], rtol=1e-6)
    assert clock.done and clock.updates == 23
    # The chunks drive a lax.scan (progress as xs); the state's dtypes do not change.
    params, state = _params(), OPT.init(_params())

    @jax.jit
    def run(params, state, ps):
        def body(carry, p):
            params, state = carry
            grads = jax.grad(_loss)(params)
            updates, state = OPT.update(grads, state, params, progress=p)
            return (optax.apply_updates(params, updates), state), state.hyperparams["learning_rate"]

        return jax.lax.scan(body, (params, state), ps)

    (_, final), lrs = run(params, state, jnp.asarray(np.r_[first, second, last]))
    np.testing.assert_allclose(lrs[-1], 0.002, rtol=1e-6)
    assert jax.tree.map(lambda x: x.dtype, final) == jax.tree.map(lambda x: x.dtype, state)


def test_progress_reaches_stateful_schedules_through_chain_and_multisteps():
    b = jd.budget(COS)
    opt = optax.MultiSteps(
        optax.chain(
            optax.clip_by_global_norm(1.0), jd.inject_hyperparams(optax.sgd)(learning_rate=b)
        ),
        every_k_schedule=2,
    )
    params = _params()
    state = opt.init(params)
    update = jax.jit(opt.update)
    grads = jax.grad(_loss)(params)
    for p in (0.25, 0.5, 0.75, 1.0):
        _, state = update(grads, state, params, progress=p)
    # MultiSteps applies the inner optimizer on every second call: progress 0.5, then 1.0.
    np.testing.assert_allclose(float(jd.hyperparams(state)["learning_rate"]), 0.002, rtol=1e-6)


def test_real_clock_short_budget():
    budget_s = 1.0
    params, state = _params(), OPT.init(_params())
    jax.block_until_ready(_step(params, state, 0.0))  # compile before the clock starts
    clock = jd.BudgetClock(budget_s)
    clock.start()
    t0 = time.monotonic()
    ps = []
    while not clock.done:
        p = clock.next_progress()
        params, state, loss = _step(params, state, p)
        loss.block_until_ready()  # keep host and device in step (a 1 s test)
        ps.append(p)
        time.sleep(0.002)
    wall = time.monotonic() - t0
    assert ps[-1] == 1.0 and np.all(np.diff(ps) >= 0) and len(ps) > 10
    assert 0.5 * budget_s <= wall <= budget_s + 1.0, wall
    np.testing.assert_allclose(float(jd.hyperparams(state)["learning_rate"]), 0.002, rtol=1e-6)
