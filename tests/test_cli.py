"""The `jaxdecay` command line: a few real subprocess runs, the rest in-process through `main`."""

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

import jaxdecay
from jaxdecay.cli import main

ROOT = Path(__file__).resolve().parents[1]
WARMUP_COSINE = "warmup(cosine_decay(0.1, 1000), warmup_steps=100)"
STEP = "step_decay(0.1, 300, 0.5)"


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``python -m jaxdecay ARGS`` with this checkout first on the path, on a headless CPU."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["JAX_PLATFORMS"] = "cpu"
    env.pop("MPLBACKEND", None)
    return subprocess.run(
        [sys.executable, "-m", "jaxdecay", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )


def _values(text: str, steps) -> np.ndarray:
    return np.asarray(jaxdecay.parse(text)(jnp.asarray(steps)))


# --------------------------------------------------------------------------------------------
# Real processes
# --------------------------------------------------------------------------------------------


def test_subprocess_plot_writes_png_of_requested_size(tmp_path):
    image = pytest.importorskip("matplotlib.image")
    r = _run(
        "plot", WARMUP_COSINE, STEP, "--steps", "1500", "-o", "lr.png",
        "--width-px", "640", "--height-px", "400", cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    pixels = image.imread(tmp_path / "lr.png")
    assert pixels.shape[:2] == (400, 640)
    # Not a blank canvas: the two curves and the text put many distinct colours in it.
    assert len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)) > 20


def test_subprocess_table_json_equals_schedule_values(tmp_path):
    steps = [0, 50, 100, 600, 1100, 5000]
    r = _run(
        "table", WARMUP_COSINE, "--at", ",".join(map(str, steps)), "--format", "json",
        cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert [row["step"] for row in rows] == steps
    got = np.asarray([row["value"] for row in rows], dtype=np.float32)
    np.testing.assert_array_equal(got, _values(WARMUP_COSINE, steps))


def test_subprocess_bad_schedule_exits_2_with_parser_message(tmp_path):
    r = _run("table", "cosine_decy(0.1, 1000)", "--steps", "10", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stdout == ""
    assert "unknown schedule 'cosine_decy'" in r.stderr
    assert "cosine_decay" in r.stderr  # the suggestion and the list of valid names
    assert "line 1, column 1" in r.stderr
    assert "Traceback" not in r.stderr


def test_subprocess_terminal_plot_has_requested_width(tmp_path):
    r = _run(
        "plot", WARMUP_COSINE, STEP, "--steps", "1500", "--width", "73", "--height", "9",
        cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    lines = r.stdout.rstrip("\n").split("\n")
    chart = lines[1:11]  # 9 rows and the step axis, after the "value" header
    assert [len(line) for line in chart] == [73] * 10
    assert all(len(line) <= 73 for line in lines)
    assert "\x1b[" not in r.stdout  # no colour when stdout is not a terminal
    assert lines[-2] == "── " + WARMUP_COSINE and lines[-1] == "━━ " + STEP


# --------------------------------------------------------------------------------------------
# In-process: table
# --------------------------------------------------------------------------------------------


def test_table_formats(capsys):
    assert main(["table", STEP, "--steps", "1000", "--every", "250", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["step,value", "0,0.1", "250,0.1", "500,0.05", "750,0.025"]

    assert main(["table", STEP, "--steps", "1000", "--every", "250"]) == 0
    text = capsys.readouterr().out.splitlines()
    assert text[0].split() == ["step", "value"]
    assert [line.split() for line in text[1:]] == [
        ["0", "0.1"], ["250", "0.1"], ["500", "0.05"], ["750", "0.025"],
    ]  # fmt: skip

    assert main(["table", "exponential_decay(0.1, 1, 0.9)", "--at", "0, 1,2,30"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[1:]]
    assert [int(r[0]) for r in rows] == [0, 1, 2, 30]
    got = np.asarray([float(r[1]) for r in rows], dtype=np.float32)
    np.testing.assert_array_equal(got, _values("exponential_decay(0.1, 1, 0.9)", [0, 1, 2, 30]))


def test_table_default_every_tenth(capsys):
    assert main(["table", WARMUP_COSINE, "--steps", "1500", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["step"] for row in rows] == list(range(0, 1500, 150))
    got = np.asarray([row["value"] for row in rows], dtype=np.float32)
    np.testing.assert_array_equal(got, _values(WARMUP_COSINE, list(range(0, 1500, 150))))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["table", STEP, "--at", "0,x"], "'x' is not a whole number"),
        (["table", STEP, "--at", "-5"], "--at steps must be in [0, 2147483647], got -5"),
        (["table", STEP, "--steps", "10", "--every", "0"], "--every must be >= 1, got 0"),
        (["table", STEP], "--steps is required"),
        (["table", STEP, "--steps", "0"], "--steps must be in [1, 2147483647], got 0"),
        (["table", STEP, "--at", "1", "--every", "2"], "not allowed with argument"),
        (["table", STEP, "--steps", "10", "--format", "xml"], "invalid choice: 'xml'"),
        (["plot", STEP, "--steps", "10", "--width", "5"], "--width must be at least"),
        (["plot", STEP, "--steps", "10", "--height", "1"], "--height must be >= 2, got 1"),
        (["plot", STEP, "--steps", "10", "-o", "x.png", "--width-px", "0"], "--width-px must be"),
        (["plot", STEP], "the following arguments are required: --steps"),
        (["draw", STEP], "invalid choice: 'draw'"),
        ([], "the following arguments are required: COMMAND"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(capsys, argv, message):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert captured.out == ""


@pytest.mark.parametrize(
    ("text", "messages"),
    [
        (
            "cosine_decay(0.1, decay_step=10)",
            ["has no argument 'decay_step'", "Did you mean decay_steps", "init_value", "column"],
        ),
        ("cosine_decay(0.1, 0)", ["decay_steps", "must be > 0, got 0"]),
        ("cosine_decay(0.1,", ["invalid syntax", "column"]),
        ("__import__('os').system('true')", ["only plain schedule names can be called"]),
    ],
)
def test_bad_schedule_prints_the_parsers_message(capsys, text, messages):
    assert main(["plot", text, "--steps", "10"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("jaxdecay plot: error: invalid SCHEDULE")
    for m in messages:
        assert m in err
    assert "Traceback" not in err


# --------------------------------------------------------------------------------------------
# In-process: plot
# --------------------------------------------------------------------------------------------


def test_plot_terminal(capsys):
    assert main(["plot", STEP, f"  {WARMUP_COSINE} ", "--steps", "1500", "--width", "64"]) == 0
    lines = capsys.readouterr().out.rstrip("\n").split("\n")
    assert lines[0] == "value"
    assert [len(line) for line in lines[1:22]] == [64] * 21  # 20 rows (default) and the axis
    assert lines[-2:] == ["── " + STEP, "━━ " + WARMUP_COSINE]  # stripped text as legend

    assert main(["plot", STEP, "--steps", "1500", "--width", "64", "--log-y"]) == 0
    assert capsys.readouterr().out.startswith("value (log scale)\n")

    assert main(["plot", STEP, "--steps", "1500", "--width", "64", "--color", "always"]) == 0
    assert "\x1b[34m" in capsys.readouterr().out


def test_plot_png_default_size_and_legend(tmp_path, capsys):
    image = pytest.importorskip("matplotlib.image")
    out = tmp_path / "lr.png"
    assert main(["plot", WARMUP_COSINE, STEP, "--steps", "1500", "-o", str(out), "--log-y"]) == 0
    assert f"wrote {out}" in capsys.readouterr().err
    assert image.imread(out).shape[:2] == (600, 1000)


def test_plot_unwritable_output(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert main(["plot", STEP, "--steps", "10", "-o", str(tmp_path / "no" / "x.png")]) == 1
    assert "cannot write" in capsys.readouterr().err
    assert main(["plot", STEP, "--steps", "10", "-o", str(tmp_path / "x.nope")]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_plot_png_without_matplotlib_names_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main(["plot", STEP, "--steps", "10", "-o", str(tmp_path / "x.png")]) == 1
    assert 'pip install "jaxdecay[plot]"' in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


# --------------------------------------------------------------------------------------------
# In-process: list, help, version
# --------------------------------------------------------------------------------------------


def test_list_shows_every_schedule_with_signature_and_summary(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    registry = jaxdecay.registry()
    assert registry, "no schedules registered"
    for name, fn in registry.items():
        assert f"  {name}(" in out
        summary = inspect.getdoc(fn).strip().splitlines()[0]
        assert f"      {summary}\n" in out
    assert "  step_decay(init_value, step_size, gamma=0.1)\n" in out
    schedules, combinators = out.split("Combinators")
    assert "  warmup(schedule, warmup_steps," in combinators
    assert "  cosine_decay(" in schedules


def test_help_and_version(capsys):
    assert main(["--help"]) == 0
    assert "plot" in capsys.readouterr().out
    assert main(["table", "--help"]) == 0
    assert "--every" in capsys.readouterr().out
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"jaxdecay {jaxdecay.__version__}"
