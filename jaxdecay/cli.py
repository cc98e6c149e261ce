"""The ``jaxdecay`` command: look at schedules from a shell.

::

    jaxdecay plot "warmup(cosine_decay(0.1, 1000), warmup_steps=100)" "step_decay(0.1, 300, 0.5)" \\
        --steps 1500 [-o lr.png] [--log-y]
    jaxdecay table "step_decay(0.1, 300, 0.5)" --steps 1500 --every 100 --format csv
    jaxdecay table "exponential_decay(0.1, 1, 0.9)" --at 0,10,100 --format json
    jaxdecay list

A SCHEDULE is the text :func:`jaxdecay.parse` reads. A bad one prints the parser's message (what is
unknown, what is valid, where) to stderr and exits with status 2; so does any other bad argument.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["main"]

_MAX_COUNT = 2**31 - 1


class _UsageError(Exception):
    """A bad argument: reported on stderr, exit status 2."""


def _build_parser() -> argparse.ArgumentParser:
    from jaxdecay import __version__

    parser = argparse.ArgumentParser(
        prog="jaxdecay",
        description="Plot, tabulate and list jaxdecay learning-rate schedules. A SCHEDULE is "
        'written as in Python, e.g. "warmup(cosine_decay(0.1, 1000), warmup_steps=100)" '
        "(see `jaxdecay list`); it is parsed, never evaluated.",
    )
    parser.add_argument("--version", action="version", version=f"jaxdecay {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "plot",
        help="draw schedules (a PNG with -o, else a chart in the terminal)",
        description="Draw one or more schedules over counts 0 .. STEPS-1, overlaid. With -o, "
        "matplotlib writes an image (the format follows the file's extension); without it, a "
        "unicode line chart is printed (no matplotlib needed).",
    )
    p.add_argument("schedules", nargs="+", metavar="SCHEDULE", help="schedule text")
    p.add_argument("--steps", type=int, required=True, metavar="N", help="number of steps")
    p.add_argument("-o", "--output", metavar="FILE", help="write an image (e.g. lr.png, lr.svg)")
    p.add_argument("--log-y", action="store_true", help="logarithmic value axis")
    p.add_argument(
        "--width",
        type=int,
        metavar="COLS",
        help="terminal chart width in characters (default: the terminal's width)",
    )
    p.add_argument(
        "--height", type=int, default=20, metavar="ROWS", help="terminal chart rows (default: 20)"
    )
    p.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour the terminal chart (default: auto, when stdout is a terminal and NO_COLOR "
        "is unset)",
    )
    p.add_argument(
        "--width-px", type=int, default=1000, metavar="PX", help="image width (default: 1000)"
    )
    p.add_argument(
        "--height-px", type=int, default=600, metavar="PX", help="image height (default: 600)"
    )

    t = sub.add_parser(
        "table",
        help="print a step/value table",
        description="Print a schedule's value at chosen steps: --at a list of steps, or every K "
        "steps over 0 .. STEPS-1 (default: K = max(1, STEPS // 10)).",
    )
    t.add_argument("schedule", metavar="SCHEDULE", help="schedule text")
    which = t.add_mutually_exclusive_group()
    which.add_argument("--at", metavar="STEPS", help="comma-separated steps, e.g. 0,100,1000")
    which.add_argument("--every", type=int, metavar="K", help="every K steps")
    t.add_argument("--steps", type=int, metavar="N", help="number of steps (needed unless --at)")
    t.add_argument(
        "--format", choices=("text", "csv", "json"), default="text", help="output format"
    )

    sub.add_parser(
        "list",
        help="list every schedule and combinator",
        description="Every registered schedule and combinator, with its signature and summary.",
    )
    return parser


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _parse_schedule(text: str) -> Any:
    import jaxdecay

    try:
        return jaxdecay.parse(text)
    except (ValueError, TypeError) as e:  # ParseError is a ValueError
        raise _UsageError(f"invalid SCHEDULE {text!r}:\n{e}") from None


def _check_steps(steps: int | None, option: str = "--steps") -> int:
    if steps is None:
        raise _UsageError(f"{option} is required")
    if not 1 <= steps <= _MAX_COUNT:
        raise _UsageError(f"{option} must be in [1, {_MAX_COUNT}], got {steps}")
    return steps


def _parse_at(text: str) -> np.ndarray:
    steps = []
    for part in text.split(","):
        part = part.strip()
        try:
            value = int(part)
        except ValueError:
            raise _UsageError(
                f"--at must be comma-separated whole steps such as 0,100,1000; {part!r} is not "
                "a whole number"
            ) from None
        if not 0 <= value <= _MAX_COUNT:
            raise _UsageError(f"--at steps must be in [0, {_MAX_COUNT}], got {value}")
        steps.append(value)
    return np.asarray(steps, dtype=np.int64)


def _fmt_value(v: np.generic) -> str:
    """The shortest text that reads back as the same value in the schedule's dtype."""
    return str(v)


def _plain_signature(fn: Any) -> str:
    sig = inspect.signature(fn)
    params = [p.replace(annotation=inspect.Parameter.empty) for p in sig.parameters.values()]
    return str(sig.replace(parameters=params, return_annotation=inspect.Signature.empty))


def _is_combinator(fn: Any) -> bool:
    names = set(inspect.signature(fn).parameters)
    return bool(names & {"schedule", "schedules"})


def _use_color(choice: str) -> bool:
    if choice == "always":
        return True
    if choice == "never":
        return False
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------


def _cmd_plot(args: argparse.Namespace) -> int:
    from jaxdecay import plotting

    steps = _check_steps(args.steps)
    texts = [t.strip() for t in args.schedules]
    schedules = {}
    for text in texts:
        schedules.setdefault(text, _parse_schedule(text))
    if args.output is None:
        if args.height < 2:
            raise _UsageError(f"--height must be >= 2, got {args.height}")
        try:
            chart = plotting.terminal_plot(
                schedules,
                steps,
                width=args.width,
                height=args.height,
                log_y=args.log_y,
                color=_use_color(args.color),
            )
        except ValueError as e:
            raise _UsageError(str(e).replace("`width`", "--width")) from None
        print(chart)
        return 0

    for option, px in (("--width-px", args.width_px), ("--height-px", args.height_px)):
        if not 16 <= px <= 20000:
            raise _UsageError(f"{option} must be in [16, 20000], got {px}")
    plt = plotting.pyplot()
    dpi = 100
    fig, ax = plt.subplots(
        figsize=(args.width_px / dpi, args.height_px / dpi), dpi=dpi, layout="constrained"
    )
    try:
        plotting.plot(schedules, steps, ax=ax, log_y=args.log_y)
        try:
            fig.savefig(args.output, dpi=dpi)
        except ValueError as e:  # an image format matplotlib does not know
            raise _UsageError(f"cannot write {args.output!r}: {e}") from None
        except OSError as e:
            print(f"jaxdecay plot: error: cannot write {args.output!r}: {e}", file=sys.stderr)
            return 1
    finally:
        plt.close(fig)
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


def _cmd_table(args: argparse.Namespace) -> int:
    from jaxdecay import plotting

    schedule = _parse_schedule(args.schedule.strip())
    if args.at is not None:
        counts = _parse_at(args.at)
    else:
        steps = _check_steps(args.steps)
        every = max(1, steps // 10) if args.every is None else args.every
        if every < 1:
            raise _UsageError(f"--every must be >= 1, got {every}")
        counts = np.arange(0, steps, every, dtype=np.int64)
    values = plotting.evaluate(schedule, counts)

    out = sys.stdout
    if args.format == "json":
        rows = [
            {"step": int(c), "value": float(_fmt_value(v))}
            for c, v in zip(counts, values, strict=True)
        ]
        out.write("[\n" + ",\n".join(" " + json.dumps(r) for r in rows) + "\n]\n")
    elif args.format == "csv":
        out.write("step,value\n")
        for c, v in zip(counts, values, strict=True):
            out.write(f"{int(c)},{_fmt_value(v)}\n")
    else:
        texts = [_fmt_value(v) for v in values]
        sw = max(len("step"), *(len(str(int(c))) for c in counts))
        vw = max(len("value"), *(len(t) for t in texts))
        out.write(f"{'step':>{sw}}  {'value':<{vw}}".rstrip() + "\n")
        for c, text in zip(counts, texts, strict=True):
            out.write(f"{int(c):>{sw}}  {text}\n")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from jaxdecay import registry

    entries = registry()
    if not entries:
        print("no schedules are registered")
        return 0
    groups = {
        "Schedules": [n for n in sorted(entries) if not _is_combinator(entries[n])],
        "Combinators (take schedules, return a schedule)": [
            n for n in sorted(entries) if _is_combinator(entries[n])
        ],
    }
    first = True
    for title, names in groups.items():
        if not names:
            continue
        if not first:
            print()
        first = False
        print(f"{title}:")
        for name in names:
            fn = entries[name]
            doc = inspect.getdoc(fn) or ""
            summary = doc.strip().splitlines()[0] if doc.strip() else ""
            print(f"  {name}{_plain_signature(fn)}")
            if summary:
                print(f"      {summary}")
    return 0


_COMMANDS = {"plot": _cmd_plot, "table": _cmd_table, "list": _cmd_list}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``jaxdecay`` command line with ``argv`` (default: ``sys.argv[1:]``).

    Returns:
      The exit status: 0 on success, 2 for a bad SCHEDULE or other bad argument (the message goes
      to stderr, with no traceback), 1 when matplotlib is missing for ``plot -o``.
    """
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse reports usage errors (status 2) and --help (status 0)
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    try:
        return _COMMANDS[args.command](args)
    except _UsageError as e:
        print(f"jaxdecay {args.command}: error: {e}", file=sys.stderr)
        return 2
    except ImportError as e:
        print(f"jaxdecay {args.command}: error: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (`jaxdecay table ... | head`): stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
