"""The documentation site: the built pages, the gallery in a real browser, the guides' code.

These tests need the site built first (CI's docs step does it)::

    sphinx-build -W --keep-going -b html docs docs/_build/html
    python -m pytest -n 0 tests/test_docs.py

Without ``docs/_build/html`` every test here is skipped, so the normal test run costs nothing.
The browser test also needs Chromium (Debian: ``apt-get install -y chromium``); CI installs it.

Every fenced block with the info string ``python`` in ``docs/index.md`` and ``docs/guides/*.md``
runs, top to bottom, each file's blocks in one namespace (a later block may use what an earlier
one defined). A block that shows another library's code for comparison is written as a MyST
``{code-block} python`` directive instead, which renders the same and is not run.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "docs" / "_build" / "html"
GUIDES = [ROOT / "docs" / "index.md", *sorted((ROOT / "docs" / "guides").glob("*.md"))]

pytestmark = pytest.mark.skipif(
    not (SITE / "index.html").exists(),
    reason="the docs are not built (sphinx-build -b html docs docs/_build/html)",
)

_FENCE = re.compile(r"^(`{3,})python[ \t]*\n(.*?)^\1[ \t]*$", re.S | re.M)


def _registry():
    import jaxdecay

    return jaxdecay.registry()


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower())


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


@pytest.mark.parametrize("guide", GUIDES, ids=[g.stem for g in GUIDES])
def test_guide_code_runs(guide, tmp_path, monkeypatch):
    blocks = [m.group(2) for m in _FENCE.finditer(guide.read_text())]
    if not blocks:
        pytest.skip(f"{guide.name} has no python blocks")
    monkeypatch.chdir(tmp_path)  # files a guide writes (lr.png) land here
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace: dict = {"__name__": "__guide__"}
    for i, code in enumerate(blocks):
        exec(compile(code, f"{guide.name}[python block {i + 1}]", "exec"), namespace)
