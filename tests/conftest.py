"""Test configuration.

- Keras 3 runs on JAX in the parity tests.
- Strict dtype promotion while jaxdecay's own schedules run (STYLE: no silent promotion), via the
  `strict_promotion` fixture that the contract and property tests use. Optax's own schedules and
  `inject_hyperparams` are not strict-clean, so it is not global.
- Warnings are errors (pyproject's `filterwarnings = ["error"]`).
"""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def strict_promotion():
    with jax.numpy_dtype_promotion("strict"):
        yield
