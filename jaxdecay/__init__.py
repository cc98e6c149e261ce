"""jaxdecay: learning-rate schedules for JAX and Optax."""

from jaxdecay._core import Schedule
from jaxdecay._hyperparams import effective_learning_rate, hyperparams
from jaxdecay._plateau import ReduceOnPlateauState, reduce_on_plateau

__version__ = "0.1.0"

__all__ = [
    "Schedule",
    "ReduceOnPlateauState",
    "effective_learning_rate",
    "hyperparams",
    "reduce_on_plateau",
]
