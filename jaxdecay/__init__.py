"""jaxdecay: learning-rate schedules for JAX and Optax."""

from jaxdecay._core import Schedule

__version__ = "0.1.0"

__all__ = [
    "Schedule",
]
