"""Migration namespaces: PyTorch's and Keras' learning-rate schedulers as jaxdecay schedules.

``jaxdecay.compat.torch`` mirrors ``torch.optim.lr_scheduler`` and ``jaxdecay.compat.keras``
mirrors ``keras.optimizers.schedules``: same class names and parameters, values checked against
the real libraries. Neither imports PyTorch or Keras.
"""

from jaxdecay.compat import keras, torch

__all__ = ["keras", "torch"]
