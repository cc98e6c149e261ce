"""Registering a migration constructor under ``<library>.<ClassName>`` (``torch.LinearLR``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec

import jax

from jaxdecay._core import Schedule, schedule_factory

P = ParamSpec("P")


def registered(
    library: str,
) -> Callable[[Callable[P, Callable[[Any], jax.Array]]], Callable[P, Schedule]]:
    """``schedule_factory`` with the registry name ``<library>.<function name>``.

    The dotted name is what ``repr`` shows and what :func:`jaxdecay.to_config`,
    :func:`jaxdecay.from_config` and :func:`jaxdecay.parse` use, so the migration names cannot
    clash with jaxdecay's own schedules (nor ``torch.X`` with ``keras.X``). Like every registered
    constructor, the function's ``__name__`` is its registry name (``__qualname__`` stays plain).
    """

    def deco(fn: Callable[P, Callable[[Any], jax.Array]]) -> Callable[P, Schedule]:
        fn.__name__ = f"{library}.{fn.__name__}"
        return schedule_factory(fn)

    return deco
