"""jaxdecay: learning-rate schedules for JAX and Optax.

Every constructor returns a :class:`jaxdecay.Schedule`, an ``optax.Schedule`` (``count -> value``)
that is traceable in every numeric hyperparameter, carries its own description (``repr``,
:func:`to_config`, pickling) and is a JAX pytree.
"""

from jaxdecay._config import ConfigError, ParseError, from_config, parse, to_config
from jaxdecay._core import Schedule, registry
from jaxdecay._find_lr import FindLRResult, find_lr

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "FindLRResult",
    "ParseError",
    "Schedule",
    "find_lr",
    "from_config",
    "parse",
    "registry",
    "to_config",
]
