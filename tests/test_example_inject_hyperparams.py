"""examples/inject_hyperparams.py runs and prints the learning rates it actually used."""

from __future__ import annotations

import dataclasses
import importlib.util
import pathlib
import re
import sys

import numpy as np
import pytest
import torch

EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "examples" / "inject_hyperparams.py"


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("example_inject_hyperparams", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


def test_prints_the_learning_rate_each_epoch_used(example, capsys):
    epochs, steps = 8, 4
    history = example.main(["--epochs", str(epochs), "--steps-per-epoch", str(steps)])
    out = capsys.readouterr().out
    printed = [float(x) for x in re.findall(r"used lr (\S+)", out)]
    momenta = [float(x) for x in re.findall(r"momentum (\S+)", out)]
    assert len(printed) == len(momenta) == epochs

    config = dataclasses.replace(example.get_config(), num_epochs=epochs, steps_per_epoch=steps)
    _, lr_schedule, momentum_schedule = example.make_optimizer(config)
    # The plateau as PyTorch would run it: scheduler.step(val_loss) after each epoch.
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt,
        factor=config.plateau_factor,
        patience=config.plateau_patience,
        threshold=config.plateau_threshold,
    )
    scale = []  # the plateau scale during each epoch
    for record in history:
        scale.append(opt.param_groups[0]["lr"])
        plateau.step(record["val_loss"])

    last_steps = np.arange(1, epochs + 1) * steps - 1  # the update each line reports
    expected = np.array([float(lr_schedule(t)) for t in last_steps]) * np.array(scale)
    np.testing.assert_allclose(printed, expected, rtol=1e-5)  # printed with 7 digits
    np.testing.assert_allclose(
        momenta, [float(momentum_schedule(t)) for t in last_steps], atol=1e-4
    )
    # float32 cosine near its end: jitted and eager schedule values differ in the 6th digit.
    np.testing.assert_allclose([r["used_learning_rate"] for r in history], expected, rtol=1e-5)
    assert min(scale) < 1.0  # the plateau acted in this run
    assert history[-1]["val_loss"] < history[0]["val_loss"]  # and it learned
