"""benchmarks/device.sh: the one-table run for a lent accelerator, checked on the CPU.

The figures are not judged here (performance is measured by the benchmarks themselves): the
tests check the table's shape and sanity at ``--tiny`` sizes, and that every kind of failure
makes the script exit non-zero.
"""

from __future__ import annotations

import json
import math
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
# The rows a run must print (part, start of the case), whatever the sizes.
EXPECTED = [
    ("sweep", "vmap sweep, N = 1 "),
    ("sweep", "vmap sweep, N = 8"),
    ("sweep", "vmap sweep, N = 64"),
    *[
        ("throughput", f"jd.piecewise_constant_schedule, {n} pieces, {style} ")
        for n in (10, 100, 1000)
        for style in ("array", "vmap")
    ],
    *[
        ("compile", f"jd.{name}, n = {n}")
        for name in ("piecewise_constant_schedule", "piecewise_interpolate_schedule")
        for n in (10, 100, 1000, 5000)
    ],
]


def _device_sh(*args: str, out: pathlib.Path | None = None, **env: str):
    unset = ("JAXDECAY_DEVICE_FAIL", "JAXDECAY_EXPECT_BACKEND", "OUT")
    full_env = {k: v for k, v in os.environ.items() if k not in unset}
    full_env.update(PYTHON=sys.executable, JAX_PLATFORMS="cpu", **env)
    if out is not None:
        full_env["OUT"] = str(out)
    return subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "device.sh"), *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=300,
        check=False,
    )


def _table(stdout: str) -> list[dict[str, str]]:
    lines = [line for line in stdout.splitlines() if line.startswith("| ")]
    head = [c.strip() for c in lines[0].strip("|").split("|")]
    assert head == ["part", "case", "value", "unit", "ratio", "baseline (value)", "device"]
    return [
        dict(zip(head, (c.strip() for c in line.strip("|").split("|")), strict=True))
        for line in lines[1:]
    ]


def _number(cell: str) -> float:
    return float(cell.removesuffix("x"))


def test_tiny_run_prints_every_row_with_finite_positive_figures(tmp_path):
    res = _device_sh("--tiny", "--expect-backend", "cpu", out=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    rows = _table(res.stdout)
    assert len(rows) == len(EXPECTED)
    for (part, case), row in zip(EXPECTED, rows, strict=True):
        assert row["part"] == part
        assert row["case"].startswith(case), (row["case"], case)
        assert row["device"].startswith("cpu: "), row
        value, ratio = _number(row["value"]), _number(row["ratio"])
        baseline = float(row["baseline (value)"].rsplit("(", 1)[1].rstrip(")"))
        for x in (value, ratio, baseline):
            assert math.isfinite(x) and x > 0, row
        # The printed ratio is the printed value over the printed baseline (4 digits each).
        assert ratio == pytest.approx(value / baseline, rel=2e-3), row
    assert "FAILED" not in res.stdout
    assert "all 3 parts passed" in res.stdout
    saved = json.loads((tmp_path / "device.json").read_text())
    assert saved["mode"] == "tiny"
    assert [r["case"] for p in saved["parts"].values() for r in p["rows"]] == [
        r["case"] for r in rows
    ]
    assert all(not p["failures"] for p in saved["parts"].values())


def test_a_raising_part_and_a_nan_figure_fail_the_run_but_the_other_figures_print():
    res = _device_sh("--tiny", "--parts", "sweep,compile", JAXDECAY_DEVICE_FAIL="sweep,compile:nan")
    assert res.returncode == 1, res.stdout + res.stderr
    rows = _table(res.stdout)
    failed = {r["part"]: r["case"] for r in rows if r["case"].startswith("FAILED")}
    assert "injected" in failed["sweep"]
    assert "figure nan" in failed["compile"]
    figures = [r for r in rows if r["part"] == "compile" and not r["case"].startswith("FAILED")]
    assert figures[0]["value"] == "nan"
    assert len(figures) == 8 and all(math.isfinite(_number(r["value"])) for r in figures[1:])
    assert "RuntimeError: failure injected" in res.stderr  # the part's traceback


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["--parts", "compile", "--expect-backend", "gpu"], 1, "expected the gpu backend"),
        (["--tiny", "--parts", "compile", "--part-timeout", "1"], 1, "timed out after 1 s"),
        (["--bogus"], 2, "unrecognized arguments"),
        (["--parts", "sweep,nope"], 2, "--parts must name"),
    ],
    ids=["no-gpu", "timeout", "bad-argument", "bad-part"],
)
def test_exits_non_zero(args, status, message):
    res = _device_sh(*args)
    assert res.returncode == status, res.stdout + res.stderr
    assert message in res.stdout + res.stderr
