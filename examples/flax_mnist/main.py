"""Train an MNIST classifier with a jaxdecay learning-rate schedule.

    python examples/flax_mnist/main.py       # defaults: configs/default.py, workdir from them
    python examples/flax_mnist/main.py --workdir=/tmp/mnist --config.num_epochs=2
    python examples/flax_mnist/main.py --config.sweep="decay_rate=0.7,0.8,0.9"
    python examples/flax_mnist/main.py --config.dataset=fashion_mnist --config.model=cnn

This file only defines the flags; the work is in ``train.train_and_evaluate``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from absl import app, flags, logging
from ml_collections import config_flags

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # `python examples/flax_mnist/main.py` from any folder
    sys.path.insert(0, str(HERE))

FLAGS = flags.FLAGS
flags.DEFINE_string(
    "workdir",
    None,
    "outputs and checkpoints; rerunning in the same folder resumes (default: a folder under "
    "<tmp>/jaxdecay_mnist/ named after the configuration)",
)
config_flags.DEFINE_config_file(
    "config",
    str(HERE / "configs" / "default.py"),
    "the configuration file (a get_config() returning an ml_collections.ConfigDict)",
    lock_config=True,
)


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if not FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)  # Orbax's INFO lines; -v 0 brings them back
    import train  # after flag parsing: `--help` stays instant

    config = FLAGS.config
    train.train_and_evaluate(config, FLAGS.workdir or train.default_workdir(config))


if __name__ == "__main__":
    app.run(main)
