"""jaxdecay: learning-rate schedules for JAX and Optax.

Every constructor returns a :class:`jaxdecay.Schedule`, an ``optax.Schedule`` (``count -> value``)
that is traceable in every numeric hyperparameter, carries its own description (``repr``,
:func:`to_config`, pickling) and is a JAX pytree.
"""

# `compat` registers the migration names (torch.LinearLR, keras.PiecewiseConstantDecay, ...) for
# from_config, parse and unpickling; it imports neither PyTorch nor Keras.
from jaxdecay import compat
from jaxdecay._budget import BudgetClock, BudgetSchedule, BudgetState, budget
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
from jaxdecay._cosine import (
    cosine_decay,
    cosine_decay_schedule,
    cosine_restarts,
    sgdr_schedule,
    warmup_cosine_decay_schedule,
)
from jaxdecay._cyclic import (
    cosine_onecycle_schedule,
    cyclic,
    linear_onecycle_schedule,
    one_cycle,
)
from jaxdecay._exponential import (
    exponential_decay,
    inverse_sqrt_decay,
    inverse_time_decay,
    natural_exp_decay,
    step_decay,
)
from jaxdecay._find_lr import FindLRResult, find_lr
from jaxdecay._horizon import horizon
from jaxdecay._hyperparams import effective_learning_rate, hyperparams
from jaxdecay._inject import inject_hyperparams
from jaxdecay._piecewise import (
    join_schedules,
    multistep_decay,
    piecewise_constant,
    piecewise_constant_schedule,
    piecewise_interpolate_schedule,
    piecewise_linear,
)
from jaxdecay._plateau import ReduceOnPlateauState, reduce_on_plateau
from jaxdecay._polynomial import (
    constant_schedule,
    linear_schedule,
    polynomial_decay,
    polynomial_schedule,
)
from jaxdecay._replan import replan
from jaxdecay._unconstrained import unconstrained
from jaxdecay._warmup import (
    warmup_constant_schedule,
    warmup_exponential_decay_schedule,
    warmup_stable_decay,
)

__version__ = "0.1.0"

__all__ = [
    # Optax-compatible schedules.
    "constant_schedule",
    "cosine_decay_schedule",
    "cosine_onecycle_schedule",
    "exponential_decay",
    "linear_onecycle_schedule",
    "linear_schedule",
    "polynomial_schedule",
    "sgdr_schedule",
    "warmup_constant_schedule",
    "warmup_cosine_decay_schedule",
    "warmup_exponential_decay_schedule",
    # Added by jaxdecay.
    "cosine_decay",
    "cosine_restarts",
    "cyclic",
    "inverse_sqrt_decay",
    "inverse_time_decay",
    "natural_exp_decay",
    "one_cycle",
    "polynomial_decay",
    "step_decay",
    "warmup_stable_decay",
    # Metric-driven decay and logging.
    "ReduceOnPlateauState",
    "effective_learning_rate",
    "hyperparams",
    "reduce_on_plateau",
    # Beyond Optax: what only traceable schedules allow (docs/guides/beyond_optax.md).
    "BudgetClock",
    "BudgetSchedule",
    "BudgetState",
    "budget",
    "horizon",
    "inject_hyperparams",
    "replan",
    # Choosing a learning rate.
    "FindLRResult",
    "find_lr",
    # Migration namespaces (jaxdecay.compat.torch, jaxdecay.compat.keras).
    "compat",
    # Schedules as data.
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
    # Learning a schedule: gradients with respect to its hyperparameters.
    "unconstrained",
]
