"""``inject_hyperparams`` that keeps the numbers of the optimizer it wraps.

``optax.inject_hyperparams`` stores every float hyperparameter in the dtype of the params
(optax issue 1414): with bfloat16 params, Adam's ``b2=0.999`` becomes ``1.0`` and its second
moment never moves. This wrapper re-uses Optax's implementation (same signature, same state type,
``optax.InjectStatefulHyperparamsState``) and changes two things:

1. the hyperparameters are *stored* in float32 (the default float: float64 under
   ``jax_enable_x64``), or in ``hyperparam_dtype``, whatever the dtype of the params;
2. they are *handed to the inner optimizer* as weakly typed values (of the same value, in JAX's
   default float or int dtype, made with the public ``jax.lax.full_like``), which is how JAX
   treats the Python numbers the same optimizer receives when it is built without injection. A
   weakly typed ``b2`` in ``b2 * nu`` takes the dtype of ``nu``, as the Python float ``0.999``
   does, so the moments stay in the params' dtype (state dtypes do not change from step to
   step) and the arithmetic is the non-injected optimizer's.

No private JAX module is imported (the ``jax._src`` converter that earlier versions used could
move in any JAX release and break ``import jaxdecay``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

__all__ = ["inject_hyperparams"]


def _weak_scalar(x: jax.Array) -> jax.Array:
    # `lax.full_like(template, fill)` keeps the template's weak type: a Python number as the
    # template gives a weakly typed array of JAX's default float (int) dtype holding `fill`.
    # This is public API (the same `convert_element_type(..., weak_type=True)` that
    # `jnp.asarray(0.999)` lowers to), and it holds under tracing.
    zero = 0.0 if jnp.issubdtype(x.dtype, jnp.floating) else 0
    return lax.full_like(zero, x)


def _weak(x: Any) -> Any:
    """A numeric array (or tracer) as a weakly typed array of the same value; the rest as is.

    The value keeps every bit: the weak array has JAX's default float dtype (float32, float64
    under x64) or default int dtype, which holds any float (int) hyperparameter stored at that
    width or narrower (``hyperparam_dtype`` can only be narrower). A weakly typed number takes
    the dtype of the array it meets, which is all its dtype decides, so this is how the inner
    optimizer sees the Python number it would be given without injection.
    """
    if isinstance(x, jax.Array):
        dt = x.dtype
        if jnp.issubdtype(dt, jnp.floating) or (
            jnp.issubdtype(dt, jnp.integer) and dt != jnp.bool_
        ):
            if x.ndim == 0:
                return _weak_scalar(x)
            return jax.vmap(_weak_scalar)(x.reshape(-1)).reshape(x.shape)  # full_like: scalars
    return x


def inject_hyperparams(
    inner_factory: Callable[..., optax.GradientTransformation],
    static_args: str | Iterable[str] = (),
    hyperparam_dtype: jax.typing.DTypeLike | None = None,
) -> Callable[..., optax.GradientTransformationExtraArgs]:
    r"""Like ``optax.inject_hyperparams``, with updates equal to the non-injected optimizer's.

    ``jaxdecay.inject_hyperparams(optax.adamw)(learning_rate=schedule, b2=0.999)`` is an
    ``optax.adamw`` whose hyperparameters live in its state (``state.hyperparams["b2"]``, read by
    :func:`jaxdecay.hyperparams`), can be schedules (called with the update count, or
    ``optax.StatefulSchedule``\ s such as :func:`jaxdecay.budget` that receive the update's extra
    arguments), and can be changed between updates without recompiling. Let :math:`h` be a
    hyperparameter and :math:`p` a parameter of dtype :math:`d_p`:

    .. math::

      \text{stored: } h_s = \mathrm{cast}(h, d_h), \qquad
      \text{used: } h_s \cdot p \text{ computed as } \mathrm{cast}(h_s, d_p) \cdot p,

    with :math:`d_h` = ``hyperparam_dtype`` or float32 (float64 under ``jax_enable_x64``):
    exactly how JAX computes ``0.999 * p`` for the Python float ``0.999``, while
    ``1 - b2`` is computed in :math:`d_h` first (``optax.inject_hyperparams`` stores
    :math:`\mathrm{cast}(h, d_p)`: in bfloat16, ``b2 = 0.999`` is stored as ``1.0`` and
    ``1 - b2 = 0``). Consequences:

    - the updates equal those of ``inner_factory(**same_values)`` built without injection, for
      float32, bfloat16 and float16 params (up to the rounding of constants that XLA folds at
      compile time for the non-injected optimizer but not for values read from the state);
    - the optimizer state has the same dtypes after every update (inside ``jit`` and as a
      ``lax.scan`` carry): moments stay in the params' dtype (or the ``mu_dtype`` asked for), the
      hyperparameters in :math:`d_h`.

    Everything else is Optax's: the signature, the state type
    (``optax.InjectStatefulHyperparamsState``: ``count``, ``hyperparams``,
    ``hyperparams_states``, ``inner_state``), which arguments are hyperparameters (numbers and
    arrays; callables are schedules unless named in ``static_args``; booleans, strings and
    ``None`` stay static), and the rule that a scheduled hyperparameter is recomputed at every
    update while a numeric one may be overwritten in ``state.hyperparams`` by the caller.
    Integer hyperparameters are stored as int32 and also passed on weakly typed.

    Args:
      inner_factory: a function returning an ``optax.GradientTransformation``
        (``optax.adamw``, ``optax.sgd``, ``optax.scale_by_adam``...).
      static_args: the name(s) of callable arguments that are not schedules (e.g. ``"mask"``
        for ``optax.adamw(mask=fn)``), as in Optax.
      hyperparam_dtype: the dtype the float hyperparameters are stored in; ``None`` (default)
        is float32 (float64 when x64 is enabled), whatever the params' dtype. A narrower dtype
        given here is honoured (and rounds the stored values).

    Returns:
      A function with ``inner_factory``'s signature (numbers may be replaced by schedules)
      returning an ``optax.GradientTransformationExtraArgs``; extra keyword arguments of
      ``update`` go to stateful schedules and to the inner transformation.

    Raises:
      ValueError: ``static_args`` names an argument ``inner_factory`` does not have (raised by
        Optax).
      TypeError: ``hyperparam_dtype`` is not a floating dtype.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optax
      >>> import jaxdecay
      >>> params = jnp.ones(3, jnp.bfloat16)
      >>> opt = jaxdecay.inject_hyperparams(optax.adam)(learning_rate=1e-3, b2=0.999)
      >>> state = opt.init(params)
      >>> b2 = state.hyperparams["b2"]
      >>> print(b2.dtype, f"{float(b2):.4f}")
      float32 0.9990
      >>> naive = optax.inject_hyperparams(optax.adam)(learning_rate=1e-3, b2=0.999)
      >>> b2 = naive.init(params).hyperparams["b2"]
      >>> print(b2.dtype, f"{float(b2):.4f}")
      bfloat16 1.0000
      >>> grads = jnp.full(3, 0.5, jnp.bfloat16)
      >>> updates, state = opt.update(grads, state, params)
      >>> nu = optax.tree_utils.tree_get(state, "nu")
      >>> print(nu.dtype, f"{float(nu[0]):.6f}")
      bfloat16 0.000250

    References:
      Optax issue 1414, `inject_hyperparams casts hyperparameters to the params' dtype
      <https://github.com/google-deepmind/optax/issues/1414>`_; JAX,
      `Type promotion semantics (weak types)
      <https://docs.jax.dev/en/latest/type_promotion.html#weak-types>`_.
    """
    if hyperparam_dtype is None:
        dtype = jnp.dtype(jnp.result_type(float))
    else:
        try:
            dtype = jnp.dtype(hyperparam_dtype)
        except TypeError:
            raise TypeError(
                f"`hyperparam_dtype` must be a floating dtype, got {hyperparam_dtype!r}"
            ) from None
        if not jnp.issubdtype(dtype, jnp.floating):
            raise TypeError(f"`hyperparam_dtype` must be a floating dtype, got {dtype}")

    @functools.wraps(inner_factory)
    def weakly_typed_factory(*args: Any, **kwargs: Any) -> optax.GradientTransformation:
        # Optax calls this with the stored (strong, `dtype`) hyperparameters at every init and
        # update; the inner optimizer sees them as it would see Python numbers.
        return inner_factory(*(_weak(a) for a in args), **{k: _weak(v) for k, v in kwargs.items()})

    return optax.inject_hyperparams(weakly_typed_factory, static_args, np.dtype(dtype))
