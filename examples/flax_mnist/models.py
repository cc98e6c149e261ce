"""The example's Flax NNX models: an MLP and the CNN of Flax's MNIST example.

Public names (stable; ``examples/hypergradient.py`` and the benchmarks import them):
``MLP``, ``CNN``, ``conv3x3_same``, ``make_model``, ``DTYPES``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}
CONV_IMPLS = ("auto", "xla", "im2col")


class MLP(nnx.Module):
    """A multilayer perceptron: flatten, ``Linear -> ReLU`` per hidden size, ``Linear``."""

    def __init__(
        self,
        hidden_sizes: Sequence[int],
        num_classes: int = 10,
        *,
        dtype: Any = jnp.float32,
        rngs: nnx.Rngs,
    ):
        sizes = [28 * 28, *hidden_sizes, num_classes]
        self.layers = nnx.List(
            [
                nnx.Linear(a, b, dtype=dtype, param_dtype=jnp.float32, rngs=rngs)
                for a, b in zip(sizes[:-1], sizes[1:], strict=True)
            ]
        )

    def __call__(self, x: jax.Array) -> jax.Array:
        x = x.reshape(x.shape[0], -1)
        for layer in self.layers[:-1]:
            x = nnx.relu(layer(x))
        return self.layers[-1](x)


def conv3x3_same(x: jax.Array, kernel: jax.Array, bias: jax.Array) -> jax.Array:
    """A 3x3 stride-1 SAME convolution (NHWC, kernel HWIO) as im2col and one matmul.

    The same values as ``nnx.Conv``; used on the CPU backend only, where XLA:CPU's native
    convolution inside the epoch's ``lax.scan`` is many times slower than a matmul (measured in
    ``docs/guides/mnist.md``).
    """
    _, h, w, c = x.shape
    xp = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    cols = jnp.concatenate(
        [xp[:, i : i + h, j : j + w, :] for i in range(3) for j in range(3)], axis=-1
    )
    return cols @ kernel.reshape(9 * c, -1) + bias


class CNN(nnx.Module):
    """The CNN of Flax's MNIST example: ``nnx.Conv`` 3x3 with 32 then 64 channels, each with
    ReLU and ``nnx.avg_pool`` 2x2, then ``Linear`` 256 and the classifier.

    ``conv="auto"`` runs the convolutions as ``nnx.Conv`` on GPU/TPU and as the equal-valued
    :func:`conv3x3_same` (im2col) on the CPU backend; ``"xla"`` or ``"im2col"`` force one.
    """

    def __init__(
        self,
        num_classes: int = 10,
        *,
        dtype: Any = jnp.float32,
        conv: str = "auto",
        rngs: nnx.Rngs,
    ):
        if conv not in CONV_IMPLS:
            raise ValueError(f"`conv` must be one of {', '.join(CONV_IMPLS)}, got {conv!r}")
        if conv == "auto":
            conv = "im2col" if jax.default_backend() == "cpu" else "xla"
        kw = {"dtype": dtype, "param_dtype": jnp.float32, "rngs": rngs}
        self.im2col = conv == "im2col"
        self.dtype = dtype
        self.conv1 = nnx.Conv(1, 32, kernel_size=(3, 3), **kw)
        self.conv2 = nnx.Conv(32, 64, kernel_size=(3, 3), **kw)
        self.dense1 = nnx.Linear(7 * 7 * 64, 256, **kw)
        self.dense2 = nnx.Linear(256, num_classes, **kw)

    def _conv(self, conv: nnx.Conv, x: jax.Array) -> jax.Array:
        if not self.im2col:
            return conv(x)
        kernel, bias = conv.kernel[...].astype(self.dtype), conv.bias[...].astype(self.dtype)
        return conv3x3_same(x.astype(self.dtype), kernel, bias)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = x.reshape(x.shape[0], 28, 28, 1)
        x = nnx.avg_pool(nnx.relu(self._conv(self.conv1, x)), (2, 2), strides=(2, 2))
        x = nnx.avg_pool(nnx.relu(self._conv(self.conv2, x)), (2, 2), strides=(2, 2))
        x = nnx.relu(self.dense1(x.reshape(x.shape[0], -1)))
        return self.dense2(x)


def make_model(config: Any) -> nnx.Module:
    """The model ``config.model`` names (``mlp``/``cnn``), initialised from ``config.seed``."""
    if config.dtype not in DTYPES:
        raise ValueError(f"`dtype` must be one of {sorted(DTYPES)}, got {config.dtype!r}")
    dtype = DTYPES[config.dtype]
    rngs = nnx.Rngs(config.seed)
    if config.model == "mlp":
        return MLP(tuple(config.hidden_sizes), dtype=dtype, rngs=rngs)
    if config.model == "cnn":
        return CNN(dtype=dtype, conv=config.get("conv", "auto"), rngs=rngs)
    raise ValueError(f"`model` must be 'mlp' or 'cnn', got {config.model!r}")
