"""jaxdecay: learning-rate schedules for JAX and Optax.

Every constructor returns a :class:`jaxdecay.Schedule`, an ``optax.Schedule`` (``count -> value``)
that is traceable in every numeric hyperparameter, carries its own description (``repr``,
:func:`to_config`, pickling) and is a JAX pytree.
"""

from jaxdecay._combinators import (
    add,
    clip,
    multiply,
    per_epoch,
    repeat,
    scale,
    shift,
    stretch,
    warmup,
)
from jaxdecay._config import ConfigError, ParseError, from_config, parse, to_config
from jaxdecay._core import Schedule, registry
from jaxdecay._piecewise import (
    join_schedules,
    multistep_decay,
    piecewise_constant,
    piecewise_constant_schedule,
    piecewise_interpolate_schedule,
    piecewise_linear,
)

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "ParseError",
    "Schedule",
    "add",
    "clip",
    "from_config",
    "join_schedules",
    "multistep_decay",
    "multiply",
    "parse",
    "per_epoch",
    "piecewise_constant",
    "piecewise_constant_schedule",
    "piecewise_interpolate_schedule",
    "piecewise_linear",
    "registry",
    "repeat",
    "scale",
    "shift",
    "stretch",
    "to_config",
    "warmup",
]
