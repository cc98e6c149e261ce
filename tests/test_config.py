"""Schedules as data (docs/api/config.rst) for composed schedules: round trips of nested
schedules, and malformed text or configs (fuzzed with hypothesis) that must raise a clear error
and never execute anything."""

from __future__ import annotations

import json
import pickle

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jaxdecay as jd

T = jnp.asarray([0, 1, 5, 9, 10, 11, 50, 99, 100, 101, 250, 1000, 10**6, 2**31 - 1])

NESTED = [
    jd.warmup(jd.cosine_decay(0.1, 1000, end_value=1e-4), warmup_steps=100, kind="cosine"),
    jd.join_schedules(
        [
            jd.warmup(jd.constant_schedule(0.5), 10, init_value=0.01, kind="exponential"),
            jd.per_epoch(jd.multistep_decay(0.5, [3, 1, 1], gamma=0.5), steps_per_epoch=7),
            jd.piecewise_interpolate_schedule("cosine", 0.05, {10: 0.5, 30: 0.1}),
        ],
        boundaries=[10, 60],
    ),
    jd.clip(
        jd.multiply(
            jd.scale(jd.step_decay(1.0, 10), 2.0),
            jd.add(
                jd.shift(jd.cosine_decay(1.0, 50), -5),
                jd.repeat(jd.linear_schedule(0.0, 1.0, 10), period=10),
            ),
        ),
        min_value=1e-3,
        max_value=1.5,
    ),
    jd.stretch(jd.piecewise_constant_schedule(0.1, {"100": 0.1, 50: 0.5}), factor=2.5),
    jd.piecewise_constant(np.asarray([10, 20]), jnp.asarray([1.0, 0.5, 0.1])),
    jd.piecewise_linear([0.0, 10.5, 20.0], [np.float64(0.0), 1.0, np.float32(0.25)]),
]


@pytest.mark.parametrize("s", NESTED, ids=[s.name for s in NESTED])
def test_nested_round_trips(s):
    want = np.asarray(s(T))
    text = repr(s)
    assert "np." not in text and "Array(" not in text
    from_text = jd.parse(text)
    assert repr(from_text) == text
    np.testing.assert_allclose(from_text(T), want, rtol=1e-6)
    cfg = jd.to_config(s)
    from_cfg = jd.from_config(json.loads(json.dumps(cfg)))
    np.testing.assert_allclose(from_cfg(T), want, rtol=1e-6)
    assert jd.to_config(from_cfg) == json.loads(json.dumps(cfg))
    np.testing.assert_allclose(pickle.loads(pickle.dumps(s))(T), want, rtol=1e-6)


def test_config_nests_combinators_by_hand():
    cfg = {
        "name": "warmup",
        "warmup_steps": 100,
        "schedule": {"name": "cosine_decay", "init_value": 0.1, "decay_steps": 1000},
    }
    s = jd.from_config(cfg)
    assert float(s(100)) == pytest.approx(0.1)
    assert jd.parse("warmup(cosine_decay(0.1, 1000), warmup_steps=100)")(50) == s(50)
    m = jd.from_config(
        {"name": "multiply", "schedules": [cfg, {"name": "constant_schedule", "value": 2.0}]}
    )
    assert float(m(100)) == pytest.approx(0.2)


def test_unknown_names_and_arguments_list_the_valid_ones():
    with pytest.raises(jd.ParseError, match="Did you mean per_epoch.*Valid names: .*warmup"):
        jd.parse("warmup(per_epoc(step_decay(0.1, 10), 100), 10)")
    with pytest.raises(
        jd.ParseError,
        match="no argument 'warmup'.*Valid arguments: schedule, warmup_steps, init_value, kind",
    ):
        jd.parse("warmup(cosine_decay(0.1, 10), warmup=10)")
    with pytest.raises(jd.ConfigError, match="no argument 'bounds'.*boundaries"):
        jd.from_config({"name": "join_schedules", "schedules": [], "bounds": [1]})
    with pytest.raises(jd.ParseError, match=r"column 8:\n.*\n\s+\^"):
        jd.parse("warmup(bogus(1), 10)")
    # Invalid values inside a nested call name the argument.
    with pytest.raises(jd.ParseError, match="`warmup_steps` must be >= 0"):
        jd.parse("join_schedules([warmup(cosine_decay(0.1, 10), -1)], [])")
    with pytest.raises(ValueError, match="`period` must be > 0"):
        jd.from_config(
            {"name": "repeat", "period": 0, "schedule": {"name": "constant_schedule", "value": 1.0}}
        )


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('touch {marker}')",
        "warmup(__import__('os').system('touch {marker}'), 10)",
        "cosine_decay(0.1, (lambda: __import__('os').system('touch {marker}'))())",
        "cosine_decay(0.1, [x for x in __import__('os').system('touch {marker}')])",
        "cosine_decay(0.1, {{k: 1 for k in open('{marker}', 'w')}})",
        "jaxdecay.os.system('touch {marker}')",
        "cosine_decay.__globals__['os'].system('touch {marker}')",
        "warmup(cosine_decay(0.1, 10), warmup_steps=open('{marker}', 'w'))",
        "cosine_decay(*[0.1, 10])",
        "cosine_decay(**{{'init_value': 0.1}})",
        "cosine_decay(0.1, 10) if open('{marker}', 'w') else 1",
        "(cosine_decay := open)('{marker}', 'w')",
        'cosine_decay(0.1, f\'{{open("{marker}", "w")}}\')',
        "cosine_decay(0.1, 10); open('{marker}', 'w')",
    ],
)
def test_parse_never_executes_code(text, tmp_path):
    marker = tmp_path / "pwned"
    with pytest.raises((jd.ParseError, TypeError, ValueError)) as info:
        jd.parse(text.format(marker=marker))
    assert str(info.value)
    assert not marker.exists()


# --------------------------------------------------------------------------------------------
# Fuzzing: random text built from the grammar's tokens (and some that are not in it).
# --------------------------------------------------------------------------------------------

_TOKENS = [
    "warmup",
    "cosine_decay",
    "join_schedules",
    "piecewise_constant_schedule",
    "multiply",
    "repeat",
    "stretch",
    "clip",
    "per_epoch",
    "piecewise_linear",
    "multistep_decay",
    "nosuch",
    "__import__",
    "os",
    "lambda",
    "x",
    "for",
    "in",
    "if",
    "else",
    "not",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    "=",
    ".",
    "*",
    "**",
    "+",
    "-",
    "@",
    ";",
    "0",
    "1",
    "10",
    "-3",
    "0.5",
    "1e-3",
    "1e400",
    "nan",
    "inf",
    "True",
    "None",
    "'linear'",
    "'s'",
    '"10"',
    "warmup_steps",
    "schedule",
    "boundaries",
    "values",
    "period",
    "factor",
    "kind",
    "init_value",
    " ",
]
_ALLOWED = (jd.ParseError, jd.ConfigError, TypeError, ValueError)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_TOKENS), min_size=0, max_size=14))
def test_fuzzed_text_raises_a_clear_error_or_parses(tokens):
    text = "".join(tokens)
    try:
        s = jd.parse(text)
    except _ALLOWED as e:
        assert str(e)
        return
    assert isinstance(s, jd.Schedule)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=40))
def test_arbitrary_text_raises_a_clear_error_or_parses(text):
    try:
        jd.parse(text)
    except _ALLOWED as e:
        assert str(e)


_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 2000)
    | st.floats(allow_nan=True)
    | st.sampled_from(["linear", "cosine", "nosuch", "100", ""]),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(["name", "10", "x", "schedule"]), inner, max_size=3)
    ),
    max_leaves=8,
)
_names = st.sampled_from(
    [
        "warmup",
        "join_schedules",
        "piecewise_constant_schedule",
        "piecewise_constant",
        "multistep_decay",
        "repeat",
        "clip",
        "multiply",
        "cosine_decay",
        "nosuch",
        3,
        None,
    ]
)
_keys = st.sampled_from(
    [
        "schedule",
        "schedules",
        "warmup_steps",
        "boundaries",
        "values",
        "boundaries_and_scales",
        "init_value",
        "milestones",
        "period",
        "min_value",
        "kind",
        "bogus",
        "decay_steps",
    ]
)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_names, st.dictionaries(_keys, _values, max_size=4))
def test_fuzzed_configs_raise_a_clear_error_or_build(name, kwargs):
    cfg = {"name": name, **kwargs}
    try:
        s = jd.from_config(cfg)
    except _ALLOWED as e:
        assert str(e)
        return
    assert isinstance(s, jd.Schedule)


@pytest.mark.parametrize(
    "bad", [None, [], "warmup", {"warmup_steps": 10}, {"name": "warmup", "bogus": 1}]
)
def test_malformed_configs(bad):
    with pytest.raises((jd.ConfigError, TypeError)) as info:
        jd.from_config(bad)
    assert "name" in str(info.value) or "Valid" in str(info.value)


# --------------------------------------------------------------------------------------------
# parse(text, names=...): identifiers bound to numbers, arrays or tracers (docs/api/config.rst)
# --------------------------------------------------------------------------------------------


def test_parse_names_bind_numbers_and_arrays():
    s = jd.parse(
        "exponential_decay(0.1, steps_per_epoch, rate)",
        names={"steps_per_epoch": 10, "rate": np.float32(0.5)},
    )
    ref = jd.exponential_decay(0.1, 10, np.float32(0.5))
    np.testing.assert_allclose(np.asarray(s(np.arange(40))), np.asarray(ref(np.arange(40))))
    neg = jd.parse("constant_schedule(-v)", names={"v": 0.25})
    assert float(neg(3)) == -0.25


def test_parse_names_bind_tracers_under_vmap():
    rates = jnp.asarray([0.5, 0.8, 0.9])

    def value(r):
        return jd.parse("exponential_decay(0.1, 1, rate)", names={"rate": r})(3)

    got = jax.jit(jax.vmap(value))(rates)
    np.testing.assert_allclose(np.asarray(got), 0.1 * np.asarray(rates) ** 3, rtol=1e-6)


def test_parse_unknown_name_lists_the_names_given():
    with pytest.raises(jd.ParseError, match=r"unknown name 'rate'.*names given: steps"):
        jd.parse("exponential_decay(0.1, steps, rate)", names={"steps": 1})
    with pytest.raises(jd.ParseError, match=r"names given: none"):
        jd.parse("exponential_decay(0.1, steps, 0.5)")


@pytest.mark.parametrize("bad", [print, np, "0.5", True, jd.constant_schedule(1.0)])
def test_parse_names_never_stand_for_functions_modules_or_schedules(bad):
    with pytest.raises(TypeError, match=r"names\['x'\]"):
        jd.parse("constant_schedule(x)", names={"x": bad})


def test_parse_names_must_be_identifiers():
    with pytest.raises(TypeError, match="identifiers"):
        jd.parse("constant_schedule(1.0)", names={"not an id": 1})
    with pytest.raises(TypeError, match="mapping"):
        jd.parse("constant_schedule(1.0)", names=[("x", 1)])
