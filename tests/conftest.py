"""Test configuration: strict dtype promotion where it matters and warnings as errors."""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")
