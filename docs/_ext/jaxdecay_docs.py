"""Pages generated from the code at build time: the gallery, the schedule API list, the CLI help.

Everything here is read from :func:`jaxdecay.registry` and the docstrings, so a new schedule or
combinator gets its API entry and its figure without anyone writing a page:

- the example schedule of a figure is the one the docstring's ``Examples`` build (the doctest is
  executed), drawn over the counts those examples evaluate;
- the formula is the docstring's first ``.. math::`` block;
- the counterparts are Optax's function of the same name, the ``jaxdecay.compat`` constructors
  that return this schedule (found by running *their* docstring examples), and the PyTorch, Keras,
  TF1 or Hugging Face names the docstring mentions.

A registry name whose docstring builds no example schedule is a build warning (an error under
``sphinx-build -W``): the gallery must hold every name.
"""

from __future__ import annotations

import contextlib
import doctest
import inspect
import io
import os
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sphinx.util import logging

logger = logging.getLogger(__name__)

DOCS = Path(__file__).resolve().parent.parent
GALLERY = DOCS / "gallery"
API = DOCS / "api"

# Section of the gallery and of the schedule API list, in this order.
GROUPS = (
    (
        "optax",
        "Optax-compatible schedules",
        "Same names, parameters and values as ``optax.schedules``.",
    ),
    ("jaxdecay", "Added by jaxdecay", "Schedules ``optax.schedules`` does not have."),
    ("combinator", "Combinators", "Functions of schedules that return a schedule."),
    (
        "compat",
        "Migration names",
        "Registered by ``jaxdecay.compat.torch`` and ``jaxdecay.compat.keras``.",
    ),
)

_MENTION = re.compile(r"\b(PyTorch|Keras|TF1|TensorFlow|Hugging Face)\s+``([A-Za-z_][\w.]*)``")


@dataclass
class Entry:
    name: str
    fn: Any
    group: str
    summary: str
    math: str | None
    example: Any = None  # the schedule the docstring's examples build
    counts: set[float] = field(default_factory=set)
    counterparts: list[str] = field(default_factory=list)

    @property
    def target(self) -> str:
        """The documented Python path of the constructor."""
        if "." in self.name:
            return f"jaxdecay.compat.{self.name}"
        return f"jaxdecay.{self.name}"

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.name.lower())


def _is_combinator(fn: Any) -> bool:
    return bool(set(inspect.signature(fn).parameters) & {"schedule", "schedules"})


def _first_math(doc: str) -> str | None:
    lines = doc.splitlines()
    for i, line in enumerate(lines):
        if line.strip() == ".. math::":
            indent = len(line) - len(line.lstrip())
            body = []
            for nxt in lines[i + 1 :]:
                if nxt.strip() and len(nxt) - len(nxt.lstrip()) <= indent:
                    break
                body.append(nxt)
            return textwrap.dedent("\n".join(body)).strip("\n")
    return None


class _CallRecorder:
    """Records, per schedule name, the largest concrete count a schedule was called with."""

    def __init__(self) -> None:
        import jaxdecay

        self.cls = jaxdecay.Schedule
        self.original = self.cls.__call__
        self.counts: dict[str, set[float]] = {}

    def __enter__(self) -> _CallRecorder:
        import numpy as np

        original, seen = self.original, self.counts

        def call(schedule: Any, count: Any) -> Any:
            with contextlib.suppress(Exception):  # a tracer has no concrete value: not recorded
                values = np.asarray(count, dtype=np.float64).ravel()
                seen.setdefault(schedule.name, set()).update(values[np.isfinite(values)].tolist())
            return original(schedule, count)

        self.cls.__call__ = call  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        self.cls.__call__ = self.original  # type: ignore[method-assign]


def _run_examples(fn: Any) -> dict[str, Any]:
    """Execute the doctest examples of ``fn``'s docstring; return the namespace they left."""
    import jaxdecay

    ns: dict[str, Any] = {"jaxdecay": jaxdecay}
    examples = doctest.DocTestParser().get_examples(inspect.getdoc(fn) or "")
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        for ex in examples:
            if ex.options.get(doctest.SKIP):
                continue
            try:
                exec(compile(ex.source, f"<{fn.__name__} example>", "exec"), ns)
            except Exception:  # examples that show an error message raise on purpose
                pass
    return ns


def collect() -> list[Entry]:
    """Every registry name with its figure's schedule, formula and counterparts."""
    import optax

    import jaxdecay
    from jaxdecay.compat import keras as compat_keras
    from jaxdecay.compat import torch as compat_torch

    entries: dict[str, Entry] = {}
    with _CallRecorder() as recorder:
        for name, fn in sorted(jaxdecay.registry().items()):
            doc = inspect.getdoc(fn) or ""
            if "." in name:
                group = "compat"
            elif _is_combinator(fn):
                group = "combinator"
            elif hasattr(optax.schedules, name):
                group = "optax"
            else:
                group = "jaxdecay"
            entry = Entry(
                name, fn, group, doc.split("\n\n")[0].replace("\n", " "), _first_math(doc)
            )
            if group == "optax" or (group == "combinator" and hasattr(optax.schedules, name)):
                entry.counterparts.append(f"Optax: :func:`optax.schedules.{name}`")
            for lib, what in dict.fromkeys(_MENTION.findall(doc)):
                entry.counterparts.append(f"{lib}: ``{what}``")
            ns = _run_examples(fn)
            built = [v for v in ns.values() if isinstance(v, jaxdecay.Schedule) and v.name == name]
            if built:
                entry.example = built[0]
            entries[name] = entry
        counts = {k: set(v) for k, v in recorder.counts.items()}

        # The compat constructors that return a core schedule: found by running their examples.
        for module in (compat_torch, compat_keras):
            lib = module.__name__.rsplit(".", 1)[1]
            for attr in module.__all__:
                ns = _run_examples(getattr(module, attr))
                names = {v.name for v in ns.values() if isinstance(v, jaxdecay.Schedule)}
                for n in sorted(names & entries.keys()):
                    if n != f"{lib}.{attr}":
                        entries[n].counterparts.append(
                            f"jaxdecay: :func:`jaxdecay.compat.{lib}.{attr}`"
                        )
    for entry in entries.values():
        entry.counts = counts.get(entry.name, set())
    return list(entries.values())


def _steps(entry: Entry) -> int:
    """Counts ``0 .. N-1`` to draw: up to the largest count the docstring's examples looked at.

    A count far beyond the others (an example showing that the final value holds at ``10**6``)
    is left out, so that the figure shows the interesting part.
    """
    top = sorted(c for c in entry.counts if c >= 0)
    while len(top) > 1 and top[-1] > 10 * max(top[-2], 1.0):
        top.pop()
    return max(int(top[-1]) + 1 if top else 0, 8)


_POINTS = 400  # counts drawn per figure (fewer when the range is shorter)


def _evaluate(entries: list[Entry]) -> list[tuple[Any, Any]]:
    """``(counts, values)`` of every entry's example, from one jitted program.

    Evaluated eagerly, each schedule would dispatch (and compile) its operations one by one, for
    minutes in all; one program for every figure compiles in seconds. Every entry gets counts of
    the same shape, with repeats when its range is short, removed again before drawing.
    """
    import jax
    import jax.numpy as jnp
    import numpy as np

    counts = np.stack(
        [np.rint(np.linspace(0, _steps(e) - 1, _POINTS)).astype(np.int32) for e in entries]
    )

    @jax.jit
    def values(c):
        return [jnp.broadcast_to(e.example(c[i]), c[i].shape) for i, e in enumerate(entries)]

    out = []
    for c, v in zip(counts, values(jnp.asarray(counts)), strict=True):
        c, first = np.unique(c, return_index=True)
        out.append((c, np.asarray(v, dtype=np.float64)[first]))
    return out


def _figure(entry: Entry, counts: Any, values: Any, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.0, 2.6), dpi=100, layout="constrained")
    if len(counts) <= 60:  # few counts: draw the value each count holds, as the optimizer sees it
        ax.plot([*counts, counts[-1] + 1], [*values, values[-1]], drawstyle="steps-post")
    else:
        ax.plot(counts, values)
    ax.set_xlabel("step")
    ax.set_ylabel("value")
    ax.grid(True, alpha=0.3)
    ax.set_title(entry.name, fontsize="medium", family="monospace")
    fig.savefig(path)
    plt.close(fig)


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def _gallery(entries: list[Entry]) -> None:
    GALLERY.mkdir(exist_ok=True)
    out = [
        ".. This page is generated by docs/_ext/jaxdecay_docs.py from jaxdecay.registry().",
        "",
        "Gallery",
        "=======",
        "",
        "Every schedule and combinator in :func:`jaxdecay.registry`, drawn from the example in its",
        "docstring (over the counts that example evaluates), next to its formula and its",
        "counterparts in Optax, PyTorch and Keras. The figures are made when the documentation is",
        "built, so a new schedule appears here without anyone writing a page.",
        "",
    ]
    wanted = set()
    drawn = [e for e in entries if e.example is not None]
    curves = dict(zip((e.name for e in drawn), _evaluate(drawn), strict=True))
    for key, title, blurb in GROUPS:
        members = [e for e in entries if e.group == key]
        if not members:
            continue
        out += [title, "-" * len(title), "", blurb, ""]
        for e in members:
            out += [f".. _gallery-{e.slug}:", "", f"``{e.name}``", "~" * (len(e.name) + 4), ""]
            if e.example is None:
                logger.warning(
                    f"jaxdecay gallery: the docstring of {e.target} builds no `{e.name}` schedule "
                    "in its Examples, so it has no figure (add a doctest example)"
                )
                continue
            image = f"{e.slug}.png"
            wanted.add(image)
            _figure(e, *curves[e.name], GALLERY / image)
            out += [
                f".. image:: {image}",
                f"   :alt: {e.name}: {e.example!r}",
                "   :class: jaxdecay-figure",
                "",
                f"{e.summary} API: :func:`{e.target}`.",
                "",
            ]
            if e.math:
                out += [".. math::", "", textwrap.indent(e.math, "   "), ""]
            else:
                out += ["No formula in the docstring; see the API page.", ""]
            out += ["Drawn: ``" + repr(e.example).replace("``", "` `") + "``", ""]
            if e.counterparts:
                out += ["Counterparts: " + "; ".join(e.counterparts) + ".", ""]
    for stale in GALLERY.glob("*.png"):
        if stale.name not in wanted:
            stale.unlink()
    _write_if_changed(GALLERY / "index.rst", "\n".join(out) + "\n")


def _schedule_api(entries: list[Entry]) -> None:
    out = [
        ".. This page is generated by docs/_ext/jaxdecay_docs.py from jaxdecay.registry().",
        "",
        "Schedules and combinators",
        "=========================",
        "",
        "Every constructor in :func:`jaxdecay.registry`, importable from ``jaxdecay``.",
        "Each returns a :class:`jaxdecay.Schedule`. The migration names (``torch.LinearLR``,",
        "...) are on the :doc:`compat` page.",
        "",
        ".. currentmodule:: jaxdecay",
        "",
    ]
    for key, title, blurb in GROUPS:
        members = [e for e in entries if e.group == key]
        if not members or key == "compat":
            continue
        out += [
            title,
            "-" * len(title),
            "",
            blurb,
            "",
            ".. autosummary::",
            "   :toctree: generated",
            "",
        ]
        out += [f"   {e.name}" for e in members]
        out += [""]
    _write_if_changed(API / "schedules.rst", "\n".join(out) + "\n")


def _cli_help() -> None:
    from jaxdecay import cli

    parser = cli._build_parser()
    parts = [parser.format_help()]
    for action in parser._subparsers._group_actions if parser._subparsers else []:
        for name, sub in action.choices.items():
            parts.append(f"$ jaxdecay {name} --help\n{sub.format_help()}")
    text = "$ jaxdecay --help\n" + "\n".join(parts)
    _write_if_changed(API / "cli_help.txt", text)


def _check_api_coverage(app: Any) -> None:
    """Every name in ``jaxdecay.__all__`` must appear on an API page."""
    import jaxdecay

    text = "\n".join(p.read_text() for p in API.glob("*.rst"))
    documented = set(re.findall(r"[\w.]+", text))
    for name in jaxdecay.__all__:
        if name not in documented and f"jaxdecay.{name}" not in documented:
            logger.warning(f"jaxdecay api: `jaxdecay.{name}` is on no page under docs/api/")


def generate(app: Any, config: Any = None) -> None:
    os.environ.setdefault("MPLBACKEND", "Agg")
    entries = collect()
    _schedule_api(entries)
    _gallery(entries)
    _cli_help()
    _check_api_coverage(app)


def setup(app: Any) -> dict[str, Any]:
    # Before Sphinx lists the source files, so that autosummary sees the generated pages.
    app.connect("config-inited", generate)
    app.add_css_file("jaxdecay.css")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
