"""The Schedule object: repr, configuration, pickling, pytree, and the parser's errors."""

from __future__ import annotations

import json
import pickle

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxdecay as jd


def test_repr_reads_like_the_call():
    assert repr(jd.cosine_decay(0.1, 1000)) == "cosine_decay(init_value=0.1, decay_steps=1000)"
    s = jd.exponential_decay(0.1, 100, 0.9, staircase=True)
    assert repr(s) == (
        "exponential_decay(init_value=0.1, transition_steps=100, decay_rate=0.9, staircase=True)"
    )
    assert repr(jd.cyclic(0.01, 0.1, mode="exp_range", gamma=jnp.float32(0.99))) == (
        "cyclic(base_value=0.01, max_value=0.1, mode='exp_range', gamma=0.99)"
    )


def test_repr_of_traced_hyperparameter():
    seen = []
    jax.jit(lambda r: seen.append(repr(jd.exponential_decay(0.1, 100, r))) or r)(0.5)
    assert "decay_rate=<traced" in seen[0]


def test_to_config_contains_every_argument():
    cfg = jd.to_config(jd.step_decay(0.1, 30))
    assert cfg == {"name": "step_decay", "init_value": 0.1, "step_size": 30, "gamma": 0.1}
    arr_cfg = jd.to_config(jd.step_decay(jnp.float32(0.1), np.int32(30)))
    assert json.loads(json.dumps(arr_cfg)) == cfg


def test_to_config_refuses_what_it_cannot_describe():
    with pytest.raises(TypeError, match="jaxdecay schedule"):
        jd.to_config(lambda t: t)
    with pytest.raises(TypeError, match="traced"):
        jax.jit(lambda r: jd.to_config(jd.exponential_decay(0.1, 100, r)) and r)(0.5)


def test_from_config_errors_list_what_is_valid():
    with pytest.raises(jd.ConfigError, match="unknown schedule 'cosine'.*cosine_decay"):
        jd.from_config({"name": "cosine", "init_value": 0.1})
    with pytest.raises(jd.ConfigError, match="no argument 'decay_step'.*decay_steps"):
        jd.from_config({"name": "cosine_decay", "init_value": 0.1, "decay_step": 10})
    with pytest.raises(jd.ConfigError, match="'name'"):
        jd.from_config({"init_value": 0.1})


def test_from_config_with_traced_values_sweeps():
    cfg = jd.to_config(jd.exponential_decay(0.1, 100, 0.9))

    def value(rate):
        return jd.from_config({**cfg, "decay_rate": rate})(250)

    got = jax.jit(jax.vmap(value))(jnp.array([0.9, 0.5]))
    np.testing.assert_allclose(np.asarray(got), [0.1 * 0.9**2.5, 0.1 * 0.5**2.5], rtol=1e-6)


def test_parse_round_trip_and_keywords():
    s = jd.parse("exponential_decay(0.1, transition_steps=10, decay_rate=0.5, staircase=True)")
    assert float(s(25)) == pytest.approx(0.025)
    assert repr(jd.parse(repr(s))) == repr(s)
    s = jd.parse(
        "sgdr_schedule([{'init_value': 0.0, 'peak_value': 1.0, 'warmup_steps': 0, "
        "'decay_steps': 10}])"
    )
    assert float(s(0)) == pytest.approx(1.0)
    assert float(s(10)) == pytest.approx(0.0)  # a single cycle holds its end value
    assert float(jd.parse("constant_schedule(-1e-3)")(0)) == pytest.approx(-1e-3)


@pytest.mark.parametrize(
    "text,pattern",
    [
        ("cosine(0.1, 10)", r"unknown schedule 'cosine'.*Valid names"),
        ("cosine_decay(0.1, decay_step=10)", r"no argument 'decay_step'.*Did you mean decay_steps"),
        ("cosine_decay(0.1, 10", r"invalid syntax"),
        ("__import__('os').system('true')", r"only plain schedule names can be called"),
        ("__import__('os')", r"unknown schedule '__import__'"),
        ("cosine_decay(0.1, (lambda: 10)())", r"only plain schedule names can be called"),
        ("cosine_decay(0.1, lambda: 10)", r"unsupported syntax \(Lambda\)"),
        ("cosine_decay(0.1, x)", r"unknown name 'x'"),
        ("cosine_decay(0.1, 10).__class__", r"must be a call"),
        ("os.system('true')", r"plain schedule names"),
        ("cosine_decay(0.1, 0)", r"`decay_steps` must be > 0, got 0"),
        ("cosine_decay(0.1, 10, **{'end_value': 1})", r"'\*\*'"),
        ("cosine_decay(0.1, 1+2)", r"unsupported syntax \(BinOp\)"),
        ("cosine_decay(0.1, nan)", r"unknown name 'nan'"),
        ("cosine_decay", r"must be a call"),
    ],
)
def test_parse_errors_are_clear(text, pattern):
    with pytest.raises(jd.ParseError, match=pattern) as info:
        jd.parse(text)
    assert "column" in str(info.value)


def test_parse_never_evaluates():
    marker = []
    assert jd._core.registered("cosine_decay").factory is jd.cosine_decay
    with pytest.raises(jd.ParseError):
        jd.parse("cosine_decay(0.1, [marker.append(1)])")
    assert marker == []


def test_pickle_rebuilds_from_arguments():
    s = jd.warmup_stable_decay(0.1, 10, 20, 30, decay_type="cosine")
    s2 = pickle.loads(pickle.dumps(s))
    t = jnp.arange(70)
    np.testing.assert_array_equal(np.asarray(s2(t)), np.asarray(s(t)))
    assert repr(s2) == repr(s)


def test_schedule_pytree_leaves_are_the_array_hyperparameters():
    s = jd.cosine_decay(jnp.float32(0.1), 1000, end_value=jnp.float32(0.01))
    leaves = jax.tree.leaves(s)
    assert len(leaves) == 2
    doubled = jax.tree.map(lambda x: 2 * x, s)
    assert float(doubled(1000)) == pytest.approx(0.02)
    assert float(doubled(0)) == pytest.approx(0.2)
    # Python-number hyperparameters are static: no leaves.
    assert jax.tree.leaves(jd.cosine_decay(0.1, 1000)) == []


def test_schedule_works_with_optax():
    import optax

    params = {"w": jnp.ones(3)}
    opt = optax.inject_hyperparams(optax.sgd)(learning_rate=jd.exponential_decay(0.1, 1, 0.9))
    state = opt.init(params)
    lrs = []
    for _ in range(4):
        _, state = opt.update({"w": jnp.ones(3)}, state, params)
        lrs.append(float(state.hyperparams["learning_rate"]))  # the value that update used
    np.testing.assert_allclose(lrs, [0.1, 0.09, 0.081, 0.0729], rtol=1e-6)


@pytest.mark.parametrize(
    "build",
    [
        lambda v: jd.constant_schedule(v),
        lambda v: jd.cosine_decay(v, 100),
        lambda v: jd.exponential_decay(v, 10, 0.5, staircase=True),
        lambda v: jd.step_decay(v, 10),
        lambda v: jd.one_cycle(v, 100),
    ],
)
def test_array_hyperparameters_broadcast_with_counts(build):
    values = jnp.array([0.1, 0.2, 0.4])
    out = build(values)(jnp.arange(4)[:, None])
    assert out.shape == (4, 3)
    for j, v in enumerate([0.1, 0.2, 0.4]):
        np.testing.assert_allclose(
            np.asarray(out[:, j]), np.asarray(build(v)(jnp.arange(4))), rtol=1e-6
        )


def test_registry_record_per_name():
    rec = jd._core.registered("multiply")
    assert rec.name == "multiply" and rec.factory is jd.multiply
    assert list(rec.signature.parameters) == ["schedules"]
    # A stored `*schedules` rebuilds through inspect.BoundArguments (pickle, pytree unflatten).
    s = jd.multiply(jd.constant_schedule(2.0), jd.step_decay(1.0, 10, 0.5))
    assert float(rec.build(s.arguments)(15)) == float(s(15)) == 1.0
    assert float(pickle.loads(pickle.dumps(s))(15)) == 1.0
    with pytest.raises(KeyError):
        jd._core.registered("cosine")


_PYRIGHT_SNIPPET = """
import jaxdecay
from jaxdecay.compat import torch

ok = jaxdecay.cosine_decay(0.1, decay_steps=1000)
bad = jaxdecay.cosine_decay(0.1, decay_step=1000)
also_bad = torch.LinearLR(0.1, total_iter=5)
reveal_type(ok)
"""


def test_type_checkers_see_every_constructors_parameters(tmp_path):
    # schedule_factory is typed with ParamSpec: a misspelled keyword is a type error, and the
    # result is a Schedule (not `(...) -> Schedule`).
    import shutil
    import subprocess

    pyright = shutil.which("pyright")
    if pyright is None:
        pytest.skip("pyright is not installed")
    import pathlib

    root = pathlib.Path(jd.__file__).resolve().parents[1]
    (tmp_path / "snippet.py").write_text(_PYRIGHT_SNIPPET)
    (tmp_path / "pyrightconfig.json").write_text(
        json.dumps({"extraPaths": [str(root)], "typeCheckingMode": "basic"})
    )
    out = subprocess.run(
        [pyright, "snippet.py"], cwd=tmp_path, capture_output=True, text=True, timeout=600
    ).stdout
    assert 'No parameter named "decay_step"' in out, out
    assert 'No parameter named "total_iter"' in out, out
    assert 'Type of "ok" is "Schedule"' in out, out
    assert "snippet.py:5:" not in out, out  # the correct call type-checks


def test_pickles_that_name_the_old_rebuild_function_still_load():
    # jaxdecay 0.1.0 pickled schedules as `jaxdecay._core._rebuild(name, args, passed)`.
    s = jd.cosine_decay(0.1, 100)
    old = pickle.dumps(s).replace(b"\x8c\x07rebuild", b"\x8c\x08_rebuild")
    assert b"_rebuild" in old
    back = pickle.loads(old)
    assert repr(back) == repr(s) and float(back(50)) == float(s(50))
