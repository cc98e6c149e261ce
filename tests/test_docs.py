"""The documentation site: the built pages, the gallery in a real browser, the guides' code.

These tests need the site built first (CI's docs step does it)::

    sphinx-build -W --keep-going -b html docs docs/_build/html
    python -m pytest -n 0 tests/test_docs.py

Without ``docs/_build/html`` every test of the site and of the guides' code is skipped, so the
normal test run costs nothing (only the quick tests of the helpers below run). The browser test
also needs Chromium (Debian: ``apt-get install -y chromium``); CI installs it.

Every fenced block with the info string ``python`` in ``README.md``, ``docs/index.md`` and
``docs/guides/*.md`` runs, top to bottom, each file's blocks in one namespace (a later block may
use what an earlier one defined), and is checked:

- a block that prints is followed directly (blank lines only in between) by a fenced ``output``
  block holding what it prints; the test compares the two line by line (trailing spaces and
  blank lines at either end ignored) and shows a diff when they differ. Print floats with a
  fixed format (``f"{x:.4f}"``), never a raw float32 ``repr``, so that the text does not change
  with the platform; leave values that depend on timing or randomness out of the printed text
  and ``assert`` a property of them instead;
- a block that prints nothing must check its result with an ``assert`` (or an ``assert_*``
  call such as ``np.testing.assert_allclose``), against a formula or an independent
  computation.

The ``output`` blocks render as the output under the code (Pygments' ``output`` lexer, styled in
``docs/_static/jaxdecay.css``). A block that shows another library's code for comparison is
written as a MyST ``{code-block} python`` directive instead, which renders the same and is not
run.
"""

from __future__ import annotations

import ast
import contextlib
import difflib
import html
import io
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "docs" / "_build" / "html"
GUIDES = [
    ROOT / "README.md",
    ROOT / "docs" / "index.md",
    *sorted((ROOT / "docs" / "guides").glob("*.md")),
]

needs_site = pytest.mark.skipif(
    not (SITE / "index.html").exists(),
    reason="the docs are not built (sphinx-build -b html docs docs/_build/html)",
)

# A fenced block at the start of a line, ```python or ```output, up to its closing fence.
_FENCE = re.compile(r"^(`{3,})(python|output)[ \t]*\n(.*?)^\1[ \t]*$", re.S | re.M)
_INDENTED = re.compile(r"^[ \t]+`{3,}(python|output)[ \t]*$", re.M)  # would not be checked


def _registry():
    import jaxdecay

    return jaxdecay.registry()


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower())


@needs_site
def test_every_registry_name_has_an_api_page_and_a_gallery_figure():
    gallery = (SITE / "gallery" / "index.html").read_text()
    missing_api, missing_figure = [], []
    for name in _registry():
        target = f"jaxdecay.compat.{name}" if "." in name else f"jaxdecay.{name}"
        if not (SITE / "api" / "generated" / f"{target}.html").exists():
            missing_api.append(name)
        if f'src="../_images/{_slug(name)}.png"' not in gallery:
            missing_figure.append(name)
    assert not missing_api, f"no API page for {missing_api}"
    assert not missing_figure, f"no gallery figure for {missing_figure}"


@needs_site
def test_every_public_name_has_an_api_entry():
    import jaxdecay
    import jaxdecay.cli
    import jaxdecay.compat.keras
    import jaxdecay.compat.torch
    import jaxdecay.plotting

    generated = {p.stem for p in (SITE / "api" / "generated").glob("*.html")}
    expected = [f"jaxdecay.{n}" for n in jaxdecay.__all__ if n != "compat"]
    for module in (jaxdecay.compat.torch, jaxdecay.compat.keras, jaxdecay.plotting, jaxdecay.cli):
        expected += [f"{module.__name__}.{n}" for n in module.__all__]
    missing = [n for n in expected if n not in generated]
    assert not missing, f"no API page for {missing}"


@needs_site
def test_gallery_formulas_and_counterparts_come_from_the_docstrings():
    import inspect

    import optax

    gallery = html.unescape((SITE / "gallery" / "index.html").read_text())
    for name, fn in _registry().items():
        section = gallery.split(f'id="gallery-{_slug(name)}"', 1)[1].split('<section id="gallery-')[
            0
        ]
        if ".. math::" in (inspect.getdoc(fn) or ""):
            assert 'class="math' in section, name
        if "." not in name and hasattr(optax.schedules, name):
            assert f"optax.schedules.{name}" in section, name


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


# Appended to a copy of the gallery page (in the same folder, so relative paths still work):
# after the page loaded, write what every <img> did into the DOM that --dump-dom prints.
_CHECK = """
<script>
window.addEventListener("load", () => {
  const imgs = Array.from(document.querySelectorAll("img.jaxdecay-figure"));
  const bad = imgs.filter((i) => !(i.complete && i.naturalWidth > 0 && i.naturalHeight > 0));
  const out = document.createElement("pre");
  out.id = "jaxdecay-image-check";
  out.textContent = JSON.stringify({
    images: imgs.length,
    broken: bad.map((i) => i.getAttribute("src")),
    textLength: document.body.innerText.length,
  });
  document.body.appendChild(out);
});
</script>
"""


@needs_site
def test_gallery_in_headless_chromium(tmp_path):
    import json

    browser = _chromium()
    if browser is None:
        if os.environ.get("JAXDECAY_REQUIRE_BROWSER"):  # CI: a missing browser is a failure
            pytest.fail("chromium is not installed (apt-get install -y chromium)")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    page = SITE / "gallery" / "index.html"
    check = page.with_name("_image_check.html")
    check.write_text(page.read_text().replace("</body>", _CHECK + "</body>"))
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=10000",
    ]
    try:
        dom = subprocess.run(
            [browser, *flags, "--dump-dom", check.as_uri()],
            capture_output=True,
            text=True,
            timeout=90,
            check=True,
        ).stdout
    finally:
        check.unlink()
    found = re.search(r'<pre id="jaxdecay-image-check">(.*?)</pre>', dom, re.S)
    assert found, "the page script did not run (no result in the DOM)"
    result = json.loads(html.unescape(found.group(1)))
    assert result["images"] == len(_registry()), result
    assert result["broken"] == [], result
    assert result["textLength"] > 2000, result

    shot = Path(os.environ.get("JAXDECAY_SCREENSHOT", tmp_path / "gallery.png"))
    subprocess.run(
        [browser, *flags, "--window-size=1200,2400", f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        timeout=90,
        check=True,
    )
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(png) > 50_000, "the screenshot is (nearly) blank"


@dataclass
class Snippet:
    """A ``python`` block of a Markdown file and the ``output`` block that follows it, if any."""

    code: str
    line: int  # the line of the code's first line in the file (1-based)
    output: str | None = None
    output_line: int | None = None


def snippets(text: str, name: str) -> list[Snippet]:
    """The ``python`` blocks of ``text``, each with the ``output`` block right after it.

    Raises ``ValueError`` for an ``output`` block that does not directly follow a ``python``
    block (only blank lines may stand between them) or is empty, and for an indented block
    (in a list item), which this parser would skip.
    """
    indented = _INDENTED.search(text)
    if indented:
        line = text.count("\n", 0, indented.start()) + 1
        raise ValueError(f"{name}:{line}: an indented {indented.group(1)} block is not checked")
    found: list[Snippet] = []
    end = None  # where the previous python block ended
    for m in _FENCE.finditer(text):
        line = text.count("\n", 0, m.start(3)) + 1
        if m.group(2) == "python":
            found.append(Snippet(m.group(3), line))
            end = m.end()
        elif end is None or text[end : m.start()].strip():
            raise ValueError(f"{name}:{line - 1}: an output block must directly follow python code")
        elif not m.group(3).strip():
            raise ValueError(f"{name}:{line - 1}: an empty output block")
        else:
            found[-1].output, found[-1].output_line = m.group(3), line
    return found


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.strip("\n").splitlines()]


def output_diff(expected: str, printed: str, where: str) -> str | None:
    """``None`` when ``printed`` is the ``expected`` output, else a unified diff of the two.

    Lines compare exactly, except for trailing spaces and blank lines at the start or end.
    """
    want, got = _lines(expected), _lines(printed)
    if want == got:
        return None
    diff = difflib.unified_diff(want, got, f"{where} (written)", "printed", lineterm="")
    return "\n".join(diff)


def checks_its_result(code: str) -> bool:
    """Whether ``code`` holds an ``assert`` statement or calls an ``assert*`` function."""
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Assert):
            return True
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            if name.startswith("assert"):
                return True
    return False


def run_guide(path: Path, text: str | None = None) -> list[str]:
    """Run the ``python`` blocks of a Markdown file in one namespace; return what is wrong.

    An exception in a block propagates (its traceback names the file and line in the guide);
    a wrong or missing output, or a block that checks nothing, is reported and the following
    blocks still run, so one run lists every mismatch.
    """
    text = path.read_text() if text is None else text
    namespace: dict = {"__name__": "__guide__"}
    problems = []
    for s in snippets(text, path.name):
        where = f"{path.name}:{s.line - 1}"
        printed = io.StringIO()
        # Padding with newlines makes tracebacks point at the guide's own lines.
        code = compile("\n" * (s.line - 1) + s.code, str(path), "exec")
        with contextlib.redirect_stdout(printed):
            exec(code, namespace)
        if s.output is not None:
            diff = output_diff(s.output, printed.getvalue(), f"{path.name}:{s.output_line - 1}")
            if diff:
                problems.append(f"{where}: the block printed something else:\n{diff}")
        elif printed.getvalue():
            problems.append(
                f"{where}: the block prints, but no output block follows it; it printed:\n"
                + printed.getvalue()
            )
        elif not checks_its_result(s.code):
            problems.append(f"{where}: the block prints nothing and asserts nothing")
    return problems


@needs_site
@pytest.mark.parametrize("guide", GUIDES, ids=[g.stem for g in GUIDES])
def test_guide_code_runs(guide, tmp_path, monkeypatch):
    if not snippets(guide.read_text(), guide.name):
        pytest.skip(f"{guide.name} has no python blocks")
    monkeypatch.chdir(tmp_path)  # files a guide writes (lr.png) land here
    monkeypatch.setenv("MPLBACKEND", "Agg")
    problems = run_guide(guide)
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


# The checker itself, on small made-up guides (no site needed, milliseconds).

_GOOD = """Text.

```python
x = 0.1 + 0.2
print(f"{x:.2f}")
```

```output
0.30
```

```python
assert abs(x - 0.3) < 1e-12
```
"""


def test_run_guide_accepts_the_written_output(tmp_path):
    assert run_guide(tmp_path / "good.md", _GOOD) == []


def test_run_guide_reports_a_wrong_output_with_a_diff(tmp_path):
    problems = run_guide(tmp_path / "bad.md", _GOOD.replace("0.30\n", "0.31\n"))
    assert len(problems) == 1, problems
    assert problems[0].startswith("bad.md:3: the block printed something else"), problems[0]
    assert "\n-0.31\n+0.30" in problems[0], problems[0]


def test_run_guide_reports_unchecked_blocks(tmp_path):
    silent = _GOOD.replace("assert abs(x - 0.3) < 1e-12", "y = x * 2")
    assert run_guide(tmp_path / "a.md", silent) == [
        "a.md:12: the block prints nothing and asserts nothing"
    ]
    no_output = _GOOD.replace("```output\n0.30\n```\n", "")
    assert run_guide(tmp_path / "b.md", no_output) == [
        "b.md:3: the block prints, but no output block follows it; it printed:\n0.30\n"
    ]
    with pytest.raises(AssertionError):  # a failing assert in a block fails the guide
        run_guide(tmp_path / "c.md", _GOOD.replace("< 1e-12", "> 1"))


def test_output_blocks_must_follow_a_python_block():
    with pytest.raises(ValueError, match=r"x.md:10: an output block must directly follow"):
        snippets(_GOOD.replace("```\n\n```output", "```\n\nprose\n\n```output"), "x.md")
    with pytest.raises(ValueError, match=r"x.md:1: an output block"):
        snippets("```output\n1\n```\n", "x.md")
    with pytest.raises(ValueError, match=r"x.md:8: an empty output block"):
        snippets(_GOOD.replace("```output\n0.30\n", "```output\n"), "x.md")
    with pytest.raises(ValueError, match=r"x.md:3: an indented python block is not checked"):
        snippets("- a list item:\n\n  ```python\n  print(1)\n  ```\n", "x.md")


def test_output_diff_ignores_only_trailing_space():
    assert output_diff("a b\nc\n", "\na b  \nc", "g.md:1") is None
    assert output_diff("a b", "a  b", "g.md:1") is not None  # inner spacing counts
    assert checks_its_result("np.testing.assert_allclose(a, b)")
    assert not checks_its_result("x = 1")
