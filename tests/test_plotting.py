"""jaxdecay.plotting: matplotlib curves and terminal charts show the schedules' values."""

import re
import sys

import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxdecay
from jaxdecay import plotting

ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture
def plt():
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


def test_plot_list_draws_each_schedule_with_its_values_and_repr_label(plt):
    cos = jaxdecay.warmup(jaxdecay.cosine_decay(0.1, 1000), warmup_steps=100)
    step = jaxdecay.step_decay(0.1, 300, 0.5)
    fig, ax = plotting.plot([cos, step], 1500)
    assert ax.figure is fig
    assert len(ax.lines) == 2
    for line, s in zip(ax.lines, [cos, step], strict=True):
        np.testing.assert_array_equal(line.get_xdata(), np.arange(1500))
        np.testing.assert_allclose(line.get_ydata(), np.asarray(s(jnp.arange(1500))), rtol=1e-6)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [repr(cos), repr(step)]
    assert ax.get_xlabel() == "step" and ax.get_ylabel() == "value"
    assert ax.get_yscale() == "linear"


def test_plot_single_dict_labels_and_given_axes(plt):
    s = optax.exponential_decay(1.0, 10, 0.5)
    fig, ax = plotting.plot(s, [0, 10, 20])
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [1.0, 0.5, 0.25], rtol=1e-6)

    fig2, ax2 = plt.subplots()
    out_fig, out_ax = plotting.plot({"fast": s, "const": lambda t: 0.3}, 5, ax=ax2)
    assert out_ax is ax2 and out_fig is fig2
    assert [t.get_text() for t in ax2.get_legend().get_texts()] == ["fast", "const"]
    np.testing.assert_allclose(ax2.lines[1].get_ydata(), np.full(5, 0.3))  # scalar broadcast

    _, ax3 = plotting.plot([s, s], 5, labels=["a", "b"])
    assert [t.get_text() for t in ax3.get_legend().get_texts()] == ["a", "b"]


def test_plot_log_y_leaves_out_non_positive_values(plt):
    s = jaxdecay.cosine_decay(0.1, 10)  # reaches 0 at step 10
    _, ax = plotting.plot(s, 12, log_y=True)
    assert ax.get_yscale() == "log"
    y = ax.lines[0].get_ydata()
    assert np.isnan(y[10:]).all() and (y[:10] > 0).all()


def test_plot_thins_very_long_runs(plt):
    _, ax = plotting.plot(lambda t: 1.0 / (1.0 + t), 10_000_000)
    x = ax.lines[0].get_xdata()
    assert len(x) <= 100_000 and x[0] == 0 and x[-1] == 9_999_999
    np.testing.assert_allclose(ax.lines[0].get_ydata(), 1.0 / (1.0 + x), rtol=1e-6)


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        (([], 10), ValueError, "at least one schedule"),
        ((["nope"], 10), TypeError, r"`schedules\[0\]`"),
        ((lambda t: t, 0), ValueError, r"`steps` must be in \[1, "),
        ((lambda t: t, True), TypeError, "`steps`"),
        ((lambda t: t, [[1, 2]]), ValueError, "1-D"),
    ],
)
def test_plot_bad_arguments(plt, args, error, match):
    with pytest.raises(error, match=match):
        plotting.plot(*args)


def test_plot_labels_must_match(plt):
    with pytest.raises(ValueError, match="one entry per schedule"):
        plotting.plot([lambda t: t], 5, labels=["a", "b"])


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    with pytest.raises(ImportError, match=r'pip install "jaxdecay\[plot\]"'):
        plotting.plot(lambda t: t, 5)
    # The terminal chart needs no matplotlib.
    assert "value" in plotting.terminal_plot(lambda t: 0.0 * t, 5, width=30, height=3)


# --------------------------------------------------------------------------------------------
# Terminal charts
# --------------------------------------------------------------------------------------------


def _chart_rows(text: str, height: int) -> list[str]:
    lines = text.split("\n")
    return lines[1 : 1 + height]  # a header line ("value"), then the chart rows


def test_terminal_plot_exact_picture():
    # 1.0 for steps 0..4, then 0.0: ten columns show steps 0..9, one each.
    s = lambda t: jnp.where(jnp.asarray(t) < 5, 1.0, 0.0)
    text = plotting.terminal_plot(s, 10, width=13, height=3, labels=["drop"])
    assert text.split("\n") == [
        "value",
        "1 ┤─────╮    ",
        "  │     │    ",
        "0 ┤     ╰────",
        "  └┬────┬────",
        "   0    5",
        "         step",
        "── drop",
    ]


def test_terminal_plot_exact_picture_two_series():
    up = lambda t: 1.0 * jnp.asarray(t)
    down = lambda t: 9.0 - jnp.asarray(t)
    text = plotting.terminal_plot({"up": up, "down": down}, 10, width=13, height=4)
    assert text.split("\n") == [
        "value",
        "  │━━┓     ╭─",
        "5 ┤  ┗━━┓──╯ ",
        "  │  ╭──┗━━┓ ",
        "0 ┤──╯     ┗━",
        "  └┬────┬────",
        "   0    5",
        "         step",
        "── up",
        "━━ down",
    ]


def test_terminal_plot_width_height_and_styles():
    cos = jaxdecay.warmup(jaxdecay.cosine_decay(0.1, 1000), warmup_steps=100)
    step = jaxdecay.step_decay(0.1, 300, 0.5)
    for width, height in [(40, 5), (97, 17)]:
        text = plotting.terminal_plot([cos, step], 1500, width=width, height=height)
        lines = text.split("\n")
        rows = _chart_rows(text, height)
        assert len(rows) == height
        assert all(len(r) == width for r in rows)
        assert len(lines[1 + height]) == width  # the x axis
        assert all(len(line) <= width for line in lines)
        # Legend: each schedule's repr after its line style.
        assert lines[-2].startswith("── ") and lines[-1].startswith("━━ ")
        assert repr(step).startswith(lines[-1][3:].rstrip("…"))
        # The step decay starts on the top row (its maximum), and ends on a lower row.
        canvas = [r[r.index("┤" if "┤" in r else "│") + 1 :] for r in rows]
        assert canvas[0][0] == "━"
        assert "━" not in "".join(row[-1] for row in canvas[:2])


def test_terminal_plot_color_log_and_default_width(monkeypatch):
    s = optax.exponential_decay(1.0, 1, 0.9)
    plain = plotting.terminal_plot(s, 100, width=50, height=6, log_y=True)
    colored = plotting.terminal_plot(s, 100, width=50, height=6, log_y=True, color=True)
    assert "\x1b[" in colored and "\x1b[" not in plain
    assert ANSI.sub("", colored) == plain
    assert plain.startswith("value (log scale)")
    # On a log axis an exponential decay is a straight line from the top-left to the bottom-right.
    rows = _chart_rows(plain, 6)
    assert rows[0].split("┤")[1][0] == "─" and rows[-1].endswith("─")
    assert "1 ┤" in rows[0]

    monkeypatch.setenv("COLUMNS", "61")
    assert {len(r) for r in _chart_rows(plotting.terminal_plot(s, 100, height=4), 4)} == {61}


def test_terminal_plot_bad_size():
    with pytest.raises(ValueError, match="`width` must be at least"):
        plotting.terminal_plot(lambda t: 0.1 * t, 100, width=4)
    with pytest.raises(ValueError, match="`height` must be an int >= 2"):
        plotting.terminal_plot(lambda t: 0.1 * t, 100, width=60, height=1)
