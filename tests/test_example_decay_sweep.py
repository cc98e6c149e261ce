"""The decay-sweep example prints the seed table and trains every rate in one program."""

from __future__ import annotations

import importlib.util
import pathlib

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _load():
    spec = importlib.util.spec_from_file_location("decay_sweep", ROOT / "examples/decay_sweep.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_prints_the_seed_table_and_the_sweep(capsys):
    _load().main(["--rates", "0.9,1.0", "--steps", "30"])
    out = capsys.readouterr().out.splitlines()
    table = out[out.index("iteration  learning rate") + 1 :][:4]
    got = [float(line.split()[1]) for line in table]
    np.testing.assert_allclose(got, [0.1, 0.09, 0.081, 0.0729], rtol=1e-6)
    sweep = out[next(i for i, line in enumerate(out) if line.startswith("decay_rate")) + 1 :]
    rows = [line.split() for line in sweep]
    assert len(rows) == 2
    # lr at the last step (t = 29) is 0.1 * rate ** 29.
    np.testing.assert_allclose(float(rows[0][1]), 0.1 * 0.9**29, rtol=1e-3)
    np.testing.assert_allclose(float(rows[1][1]), 0.1, rtol=1e-6)


def test_vmapped_training_equals_separate_runs():
    mod = _load()
    import jax
    import jax.numpy as jnp

    x, y = mod.make_problem(jax.random.key(1), n=32, d=4)
    sweep = jax.jit(jax.vmap(mod.train, in_axes=(0, None, None, None, None)), static_argnums=(3, 4))
    final, _, lrs = sweep(jnp.array([0.9, 0.99]), x, y, 20, 0.1)
    for i, r in enumerate([0.9, 0.99]):
        f, _, lr = jax.jit(mod.train, static_argnums=(3, 4))(jnp.float32(r), x, y, 20, 0.1)
        np.testing.assert_allclose(float(final[i]), float(f), rtol=1e-5)
        np.testing.assert_allclose(np.asarray(lrs[i]), 0.1 * r ** np.arange(20), rtol=1e-5)
