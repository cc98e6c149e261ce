"""Look at schedules: matplotlib curves (:func:`plot`) and terminal charts (:func:`terminal_plot`).

matplotlib is optional (``pip install "jaxdecay[plot]"``) and imported only inside :func:`plot`;
:func:`terminal_plot` needs nothing but NumPy, so it works over ssh.

Every schedule is evaluated with one vectorised call on an array of counts, never step by step in
Python.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax.numpy as jnp
import numpy as np

__all__ = ["plot", "pyplot", "terminal_plot"]

_MAX_POINTS = 100_000
_MAX_COUNT = 2**31 - 1
_PLOT_EXTRA = 'pip install "jaxdecay[plot]"'


def pyplot() -> Any:
    """``matplotlib.pyplot``, imported now; the Agg backend on a Linux machine with no display.

    What :func:`plot`, :meth:`jaxdecay.FindLRResult.plot` and the CLI draw with: matplotlib is
    optional, so it is imported on first use, and a machine without a display (a CI runner, a
    TPU VM over ssh) gets the file-only Agg backend unless ``MPLBACKEND`` says otherwise.

    Raises:
      ImportError: matplotlib is not installed (``pip install "jaxdecay[plot]"``).
    """
    try:
        import matplotlib
    except ImportError as e:
        raise ImportError(
            f"plotting needs matplotlib, which comes with jaxdecay's `plot` extra: {_PLOT_EXTRA}"
        ) from e
    headless = sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )
    if headless and "matplotlib.pyplot" not in sys.modules and not os.environ.get("MPLBACKEND"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _label(schedule: Callable[..., Any]) -> str:
    from jaxdecay._core import Schedule

    if isinstance(schedule, Schedule):
        return repr(schedule)
    return getattr(schedule, "__name__", None) or repr(schedule)


def _series(schedules: Any, labels: Sequence[str] | None) -> list[tuple[str, Callable[[Any], Any]]]:
    """``[(label, schedule), ...]`` from a schedule, a sequence or a dict label -> schedule."""
    if isinstance(schedules, Mapping):
        items = [(str(k), s) for k, s in schedules.items()]
    elif callable(schedules):
        items = [(None, schedules)]
    elif isinstance(schedules, Sequence) and not isinstance(schedules, str):
        items = [(None, s) for s in schedules]
    else:
        raise TypeError(
            "`schedules` must be a schedule, a list of schedules or a dict label -> schedule, "
            f"got {schedules!r}"
        )
    if not items:
        raise ValueError("`schedules` must hold at least one schedule, got none")
    for i, (_, s) in enumerate(items):
        if not callable(s):
            raise TypeError(f"`schedules[{i}]` must be a schedule (a callable), got {s!r}")
    if labels is not None:
        labels = list(labels)
        if len(labels) != len(items):
            raise ValueError(
                f"`labels` must have one entry per schedule ({len(items)}), got {len(labels)}"
            )
        return [(str(lab), s) for lab, (_, s) in zip(labels, items, strict=True)]
    return [(lab if lab is not None else _label(s), s) for lab, s in items]


def _counts(steps: Any) -> np.ndarray:
    """The counts to evaluate: ``0 .. steps-1`` for an int (evenly thinned to at most
    ``_MAX_POINTS``), or the given 1-D sequence of counts."""
    if isinstance(steps, bool):
        raise TypeError(f"`steps` must be an int or a 1-D sequence of counts, got {steps!r}")
    if isinstance(steps, int | np.integer):
        n = int(steps)
        if not 1 <= n <= _MAX_COUNT:
            raise ValueError(f"`steps` must be in [1, {_MAX_COUNT}], got {n}")
        if n <= _MAX_POINTS:
            return np.arange(n, dtype=np.int64)
        return np.unique(np.rint(np.linspace(0, n - 1, _MAX_POINTS)).astype(np.int64))
    counts = np.asarray(steps)
    if counts.ndim != 1 or counts.size == 0 or not np.issubdtype(counts.dtype, np.number):
        raise ValueError(
            f"`steps` must be an int or a non-empty 1-D sequence of counts, got {steps!r}"
        )
    if np.issubdtype(counts.dtype, np.integer) and (counts.min() < 0 or counts.max() > _MAX_COUNT):
        raise ValueError(f"counts in `steps` must be in [0, {_MAX_COUNT}]")
    return counts


def evaluate(schedule: Callable[[Any], Any], counts: Any) -> np.ndarray:
    """``schedule`` at every count in ``counts``, with one vectorised call, as a NumPy array.

    A schedule that returns a scalar (a constant) is broadcast to the shape of ``counts``.
    """
    counts = np.asarray(counts)
    c = counts.astype(np.int32) if np.issubdtype(counts.dtype, np.integer) else counts
    values = np.asarray(schedule(jnp.asarray(c)))
    return np.broadcast_to(values, counts.shape)


def plot(
    schedules: Any,
    steps: int | Sequence[int] | np.ndarray,
    ax: Any = None,
    log_y: bool = False,
    labels: Sequence[str] | None = None,
) -> tuple[Any, Any]:
    """Draw schedules as overlaid curves of value against step, with matplotlib.

    Args:
      schedules: one schedule (any ``count -> value`` callable that accepts an array of counts,
        such as a jaxdecay or Optax schedule), a list of them, or a dict ``label -> schedule``.
      steps: the number of steps ``N`` (counts ``0 .. N-1``, the values a run of ``N`` updates
        uses; more than 100,000 are evenly thinned to 100,000), or a 1-D sequence of counts.
      ax: a matplotlib ``Axes`` to draw into; when ``None``, a new ``pyplot`` figure is made.
      log_y: a logarithmic value axis (values <= 0 are left out).
      labels: legend entries, one per schedule; by default the dict's keys, else ``repr`` of each
        schedule (which reads like the call that made a jaxdecay schedule).

    Returns:
      ``(figure, axes)``: the figure holding the axes (a new one when ``ax`` is ``None``) and the
      axes drawn into.

    Raises:
      ImportError: matplotlib is not installed (``pip install "jaxdecay[plot]"``).
      ValueError, TypeError: ``steps``, ``labels`` or ``schedules`` are malformed.

    Examples:
      >>> import jaxdecay
      >>> from jaxdecay.plotting import plot
      >>> fig, ax = plot([jaxdecay.cosine_decay(0.1, 1000), jaxdecay.step_decay(0.1, 300, 0.5)],
      ...                steps=1500)  # doctest: +SKIP
      >>> fig.savefig("lr.png")  # doctest: +SKIP
    """
    series = _series(schedules, labels)
    counts = _counts(steps)
    values = [evaluate(s, counts) for _, s in series]
    plt = pyplot()
    if ax is None:
        fig, ax = plt.subplots(layout="constrained")
    else:
        fig = ax.figure
    for (label, _), v in zip(series, values, strict=True):
        v = np.asarray(v, dtype=np.float64)
        if log_y:
            v = np.where(v > 0, v, np.nan)
        ax.plot(counts, v, label=label)
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("value")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return fig, ax


# --------------------------------------------------------------------------------------------
# Terminal line charts
# --------------------------------------------------------------------------------------------

# Per series: horizontal, vertical, then the corners of a rise (left+up at the old level,
# down+right at the new one) and of a fall (left+down, up+right).
_STYLES = (
    ("─", "│", "╯", "╭", "╮", "╰"),
    ("━", "┃", "┛", "┏", "┓", "┗"),
    ("═", "║", "╝", "╔", "╗", "╚"),
    ("╌", "╎", "╯", "╭", "╮", "╰"),
)
_COLORS = ("\x1b[34m", "\x1b[31m", "\x1b[32m", "\x1b[35m", "\x1b[33m", "\x1b[36m")
_RESET = "\x1b[0m"


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def _nice_ticks(lo: float, hi: float, max_ticks: int) -> np.ndarray:
    """Round numbers in ``[lo, hi]``, 1, 2, 2.5 or 5 times a power of ten apart: the closest
    spacing that gives at most ``max_ticks`` of them (at least one)."""

    def multiples(step: float) -> np.ndarray:
        first = np.ceil(lo / step - 1e-9)
        ticks = (first + np.arange(max(int(np.floor(hi / step + 1e-9) - first) + 1, 0))) * step
        return np.where(np.abs(ticks) < step * 1e-9, 0.0, ticks)

    mag = 10.0 ** np.floor(np.log10((hi - lo) / max(max_ticks, 1)))
    for e in (0.1, 1.0, 10.0, 100.0):
        for m in (1.0, 2.0, 2.5, 5.0):
            ticks = multiples(m * mag * e)
            if 1 <= len(ticks) <= max_ticks:
                return ticks
    return np.asarray([lo, hi])


def _truncate(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def terminal_plot(
    schedules: Any,
    steps: int | Sequence[int] | np.ndarray,
    *,
    width: int | None = None,
    height: int = 20,
    log_y: bool = False,
    labels: Sequence[str] | None = None,
    color: bool = False,
) -> str:
    """Draw schedules as a unicode line chart for a terminal (no matplotlib needed).

    Each schedule is drawn with its own line style (light, heavy, double, dashed box-drawing
    characters; and its own colour when ``color`` is true), later ones over earlier ones. Every
    chart line (the rows and the x axis) is exactly ``width`` characters wide; the value axis is
    labelled on the left, the steps below, and a legend follows.

    Args:
      schedules: one schedule, a list of them or a dict ``label -> schedule`` (as in :func:`plot`).
      steps: the number of steps ``N`` (counts ``0 .. N-1``) or a 1-D sequence of counts. Each
        column shows the value at the count nearest to its position.
      width: characters per line, labels included; by default the terminal's width.
      height: rows of the chart area, >= 2.
      log_y: a logarithmic value axis (values <= 0 leave gaps).
      labels: legend entries, one per schedule (default as in :func:`plot`).
      color: wrap each series in ANSI colour codes.

    Returns:
      The chart, lines joined with ``"\\n"`` (no trailing newline).

    Raises:
      ValueError: ``width`` leaves fewer than 2 columns for the chart, or ``height`` < 2.

    Examples:
      >>> import jaxdecay
      >>> from jaxdecay.plotting import terminal_plot
      >>> print(terminal_plot(jaxdecay.step_decay(1.0, 10, 0.5), 40, width=30, height=4))
      ... # doctest: +SKIP
    """
    series = _series(schedules, labels)
    counts = _counts(steps)
    if width is None:
        width = shutil.get_terminal_size().columns
    if isinstance(height, bool) or not isinstance(height, int | np.integer) or height < 2:
        raise ValueError(f"`height` must be an int >= 2, got {height!r}")
    if isinstance(width, bool) or not isinstance(width, int | np.integer):
        raise ValueError(f"`width` must be an int, got {width!r}")

    values = []
    for _, s in series:
        v = evaluate(s, counts).astype(np.float64)
        if log_y:
            with np.errstate(divide="ignore", invalid="ignore"):
                v = np.where(v > 0, np.log10(np.where(v > 0, v, 1.0)), np.nan)
        values.append(np.where(np.isfinite(v), v, np.nan))
    finite = np.concatenate([v[np.isfinite(v)] for v in values])
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if hi == lo:
        pad = 0.5 if log_y else (abs(lo) * 0.5 or 1.0)
        lo, hi = lo - pad, hi + pad

    # Value labels at round numbers (decades on a log axis), on about every fourth row.
    max_ticks = max(2, height // 4 + 1)
    if log_y and np.floor(hi) - np.ceil(lo) >= 1:
        ticks = np.arange(np.ceil(lo), np.floor(hi) + 1)
        ticks = ticks[::-1][:: int(np.ceil(len(ticks) / max_ticks))][::-1]
    else:
        ticks = _nice_ticks(lo, hi, max_ticks)
    to_value = (lambda y: 10.0**y) if log_y else (lambda y: y)
    tick_text: dict[int, str] = {}
    for t in ticks:
        tick_text.setdefault(int(np.rint((t - lo) / (hi - lo) * (height - 1))), _fmt(to_value(t)))
    tick_rows = set(tick_text)
    label_w = max((len(t) for t in tick_text.values()), default=1)
    cols = width - label_w - 2
    if cols < 2:
        raise ValueError(
            f"`width` must be at least {label_w + 4} to leave room for the chart, got {width}"
        )

    # The count each column shows, and the nearest evaluated count.
    targets = counts.min() + (counts.max() - counts.min()) * np.arange(cols) / max(cols - 1, 1)
    idx = np.clip(np.searchsorted(counts, targets), 0, len(counts) - 1)
    left = np.clip(idx - 1, 0, len(counts) - 1)
    idx = np.where(np.abs(counts[left] - targets) <= np.abs(counts[idx] - targets), left, idx)

    grid = [[" "] * cols for _ in range(height)]
    owner = [[-1] * cols for _ in range(height)]

    def put(c: int, y: int, ch: str, k: int) -> None:
        grid[height - 1 - y][c] = ch
        owner[height - 1 - y][c] = k

    for k, v in enumerate(values):
        h, vert, up_from, up_to, down_from, down_to = _STYLES[k % len(_STYLES)]
        col_v = v[idx]
        rows = np.rint((col_v - lo) / (hi - lo) * (height - 1))
        prev = None
        for c in range(cols):
            if not np.isfinite(rows[c]):
                prev = None
                continue
            y = int(rows[c])
            if prev is None or y == prev:
                put(c, y, h, k)
            elif y > prev:
                put(c, prev, up_from, k)
                for r in range(prev + 1, y):
                    put(c, r, vert, k)
                put(c, y, up_to, k)
            else:
                put(c, prev, down_from, k)
                for r in range(y + 1, prev):
                    put(c, r, vert, k)
                put(c, y, down_to, k)
            prev = y

    def paint(ch: str, k: int) -> str:
        if not color or k < 0:
            return ch
        return f"{_COLORS[k % len(_COLORS)]}{ch}{_RESET}"

    lines = [("value (log scale)" if log_y else "value")[:width]]
    for r in range(height):
        y = height - 1 - r
        axis = "┤" if y in tick_rows else "│"
        cells = "".join(paint(ch, k) for ch, k in zip(grid[r], owner[r], strict=True))
        lines.append(f"{tick_text.get(y, ''):>{label_w}} {axis}{cells}")

    # The step axis: round counts, about one every 12 columns, centred under their column.
    c_lo, c_hi = float(targets[0]), float(targets[-1])
    axis_cells = ["─"] * cols
    label_cells = [" "] * cols
    end = -2
    xticks = _nice_ticks(c_lo, c_hi, max(2, cols // 12 + 1)) if c_hi > c_lo else np.asarray([c_lo])
    if counts.dtype.kind in "iu":
        xticks = xticks[xticks == np.round(xticks)]
    for t in xticks:
        c = int(np.rint((t - c_lo) / (c_hi - c_lo) * (cols - 1))) if c_hi > c_lo else 0
        text = f"{t:.0f}" if counts.dtype.kind in "iu" else _fmt(t)
        start = min(max(c - len(text) // 2, 0), cols - len(text))
        if start <= end + 1 or start < 0:
            continue
        axis_cells[c] = "┬"
        label_cells[start : start + len(text)] = text
        end = start + len(text) - 1
    lines.append(" " * label_w + " └" + "".join(axis_cells))
    tick_line = (" " * (label_w + 2) + "".join(label_cells)).rstrip()
    if len(tick_line) + 6 <= width:
        lines.append(tick_line + " " * (width - len(tick_line) - 4) + "step")
    else:
        lines.extend([tick_line, " " * (width - 4) + "step"])

    for k, (label, _) in enumerate(series):
        key = _STYLES[k % len(_STYLES)][0] * 2
        lines.append(paint(key, k) + " " + _truncate(label, max(width - 3, 1)))
    return "\n".join(lines)
