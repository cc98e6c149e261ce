"""The Flax MNIST example resumed with more epochs: the schedule is re-planned, not restarted.

A run planned for 4 epochs is interrupted after epoch 2 and resumed with ``num_epochs=6``:
``steps.csv`` must show one continuous learning-rate curve, the planned cosine up to the resume
step and ``jaxdecay.replan(planned, at_count=16, new_end=48)`` after it.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from test_flax_mnist_data import tiny_dataset  # sets sys.path

for _module in ("flax", "mlxtend", "orbax.checkpoint", "ml_collections"):
    pytest.importorskip(_module)

import plan as planning  # noqa: E402
import train  # noqa: E402
from configs.default import get_config  # noqa: E402
from test_flax_mnist import quiet, tiny_config  # noqa: E402

import jaxdecay  # noqa: E402

TEXT = "cosine_decay(0.1, total_steps, end_value=0.001)"


@pytest.fixture(scope="module")
def tiny():
    return tiny_dataset(512, 5)  # 8 updates per epoch with batches of 64


class Interrupted(Exception):
    pass


def _rates(workdir) -> np.ndarray:
    with open(workdir / "steps.csv") as f:
        return np.asarray([float(r["learning_rate"]) for r in csv.DictReader(f)])


def test_resume_with_more_epochs_is_continuous_and_ends_at_the_new_total(
    tmp_path, tiny, monkeypatch
):
    def stop_after_epoch_2(point):
        if point == "epoch 2 saved":
            raise Interrupted(point)

    with monkeypatch.context() as m:  # a run planned for 4 epochs, stopped after 2
        m.setattr(train, "_kill_point", stop_after_epoch_2)
        with pytest.raises(Interrupted):
            train.train_and_evaluate(
                tiny_config(schedule=TEXT, num_epochs=4, checkpoint=True),
                tmp_path,
                dataset=tiny,
                log=quiet,
            )
    assert json.loads((tmp_path / "plan.json").read_text()) == {"total_steps": 32, "replans": []}
    lines = []
    result = train.train_and_evaluate(
        tiny_config(schedule=TEXT, num_epochs=6, checkpoint=True),
        tmp_path,
        dataset=tiny,
        log=lines.append,
    )
    assert result["steps_per_epoch"] == 8
    assert any("re-planned: 32 -> 48 updates from update 16" in ln for ln in lines), lines
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert plan == {"total_steps": 32, "replans": [[16, 48, None]]}

    lr = _rates(tmp_path)
    assert len(lr) == 48
    planned = jaxdecay.cosine_decay(0.1, 32, end_value=0.001)
    want = np.asarray(jaxdecay.replan(planned, at_count=16, new_end=48)(np.arange(48)))
    np.testing.assert_allclose(lr, want, rtol=1e-6)
    np.testing.assert_allclose(lr[:16], np.asarray(planned(np.arange(16))), rtol=1e-6)
    # Continuous at the resume step: no step larger than the planned schedule's own largest.
    own = np.max(np.abs(np.diff(np.asarray(planned(np.arange(33))))))
    assert np.max(np.abs(np.diff(lr))) <= own * (1 + 1e-5)
    # Re-parsing the text with the new total instead would jump at the resume step.
    naive = jaxdecay.cosine_decay(0.1, 48, end_value=0.001)
    assert abs(float(naive(16)) - lr[15]) > 3 * own
    # The decay reaches its end value at the new total (the last update is one step before).
    schedule = planning.planned_schedule(TEXT, result["names"], plan)
    assert float(schedule(48)) == pytest.approx(0.001, rel=1e-6)
    assert 0.001 < lr[-1] < 0.001 + own
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert [r["epoch"] for r in metrics] == [1, 2, 3, 4, 5, 6]

    # Resuming the finished run with the same num_epochs trains nothing and keeps the plan;
    # with more epochs it continues at the end value (nothing of the cosine is left).
    train.train_and_evaluate(
        tiny_config(schedule=TEXT, num_epochs=7, checkpoint=True), tmp_path, dataset=tiny, log=quiet
    )
    lr7 = _rates(tmp_path)
    np.testing.assert_array_equal(lr7[:48], lr)
    np.testing.assert_allclose(lr7[48:], float(schedule(48)), rtol=1e-6)
    assert json.loads((tmp_path / "plan.json").read_text())["replans"][-1] == [48, 56, None]


def test_a_schedule_without_total_steps_is_not_replanned(tmp_path, tiny):
    # The length does not enter the schedule: a longer run just goes on (as before).
    names = {"steps_per_epoch": 8, "total_steps": 48, "decay_rate": 0.7}
    text = "exponential_decay(0.1, steps_per_epoch, decay_rate)"
    tmp_path.joinpath(planning.PLAN_FILE).write_text(json.dumps({"total_steps": 16, "replans": []}))
    plan = planning.update_plan(tmp_path, text, names, 16, log=quiet)
    assert plan == {"total_steps": 16, "replans": []}
    # A schedule with no horizon is re-planned with the old total as its end.
    text = "exponential_decay(0.1, total_steps, 0.01)"
    plan = planning.update_plan(tmp_path, text, names, 16, log=quiet)
    assert plan["replans"] == [[16, 48, 16]]
    s = planning.planned_schedule(text, names, plan)
    assert float(s(48)) == pytest.approx(0.1 * 0.01, rel=1e-5)


def test_time_budget_with_a_fake_clock_ends_on_the_end_value(tmp_path, tiny, monkeypatch):
    now = [0.0]

    def fake_clock():  # every reading of the clock is one second later
        now[0] += 1.0
        return now[0]

    monkeypatch.setattr(planning, "CLOCK", fake_clock)
    config = tiny_config(schedule=TEXT, num_epochs=2, time_budget_s=12.0, chunk_steps=4)
    lines = []
    train.train_and_evaluate(config, tmp_path, dataset=tiny, log=lines.append)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    progress = [r["progress"] for r in metrics]
    assert progress[-1] == 1.0 and np.all(np.diff(progress) >= 0) and progress[0] < 1.0
    lr = _rates(tmp_path)
    # The budget, not num_epochs (2 epochs of 8 updates), ends the run, in the middle of an
    # epoch; its last update uses the end value exactly.
    assert [r["epoch"] for r in metrics] == list(range(1, len(metrics) + 1))
    assert len(metrics) > 2 and len(lr) % 8 != 0, (len(metrics), len(lr))
    assert float(lr[-1]) == pytest.approx(0.001, rel=1e-6)
    assert lr[0] < 0.1 and np.all(np.diff(lr) <= 1e-9)  # the cosine, run on the progress
    budget = jaxdecay.budget(jaxdecay.cosine_decay(0.1, 16, end_value=0.001))
    first = float(budget.value(1.0 / 12.0))  # first chunk: one second of twelve spent
    np.testing.assert_allclose(lr[:4], first, rtol=1e-6)
    assert any("budget(" in ln for ln in lines)
    # A rerun finds the budget spent: nothing more is trained.
    again = train.train_and_evaluate(
        tiny_config(
            schedule=TEXT, num_epochs=2, time_budget_s=12.0, chunk_steps=4, checkpoint=True
        ),
        tmp_path / "ckpt",
        dataset=tiny,
        log=quiet,
    )
    rows = len(_rates(tmp_path / "ckpt"))
    train.train_and_evaluate(
        tiny_config(
            schedule=TEXT, num_epochs=2, time_budget_s=12.0, chunk_steps=4, checkpoint=True
        ),
        tmp_path / "ckpt",
        dataset=tiny,
        log=quiet,
    )
    assert (
        len(_rates(tmp_path / "ckpt")) == rows
        and again["runs"][0]["metrics"][-1]["progress"] == 1.0
    )


def test_time_budget_on_the_default_schedule_runs_over_the_planned_updates(
    tmp_path, tiny, monkeypatch
):
    # Issue 19: the default schedule, exponential_decay(0.1, steps_per_epoch, decay_rate), never
    # becomes constant (no horizon), so jaxdecay.budget alone refuses it. The example runs it over
    # the updates it planned, num_epochs * steps_per_epoch: progress 1 is the value there.
    now = [0.0]

    def fake_clock():  # every reading of the clock is one second later
        now[0] += 1.0
        return now[0]

    monkeypatch.setattr(planning, "CLOCK", fake_clock)
    default = get_config()
    assert default.schedule == "exponential_decay(0.1, steps_per_epoch, decay_rate)"
    config = tiny_config(
        schedule=default.schedule,
        decay_rate=default.schedule_names.decay_rate,
        num_epochs=default.num_epochs,
        time_budget_s=6.0,
        chunk_steps=4,
    )
    planned = 8 * default.num_epochs  # 8 updates per epoch on the tiny data
    train.train_and_evaluate(config, tmp_path, dataset=tiny, log=quiet)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    lr = _rates(tmp_path)
    # The budget ends the run early (6 chunks of 4 updates, one second each), not num_epochs.
    assert 0 < len(lr) < planned and len(metrics) < default.num_epochs, (len(lr), len(metrics))
    assert metrics[-1]["progress"] >= 0.95
    assert metrics[-1]["progress"] == 1.0  # BudgetClock: the last update gets progress 1
    # The last update uses the value at the planned end: 0.1 * 0.8 ** num_epochs.
    assert float(lr[-1]) == pytest.approx(0.1 * 0.8**default.num_epochs, rel=1e-6)
    # The first chunk: one second of six spent, i.e. count planned / 6 = 10/6 epochs of decay.
    np.testing.assert_allclose(lr[:4], 0.1 * 0.8 ** (default.num_epochs / 6), rtol=1e-6)
    assert np.all(np.diff(lr) <= 0) and lr[0] < 0.1


def test_budget_horizon_of_each_kind_of_schedule():
    plan = {"total_steps": 80, "replans": []}
    budgeted = tiny_config(time_budget_s=5.0)
    # No horizon, or constant from count 0 on: progress 1 is the planned 80 updates.
    for text, at_one in [
        ("exponential_decay(0.1, 8, 0.8)", 0.1 * 0.8**10),
        ("constant_schedule(0.1)", 0.1),
    ]:
        lr = planning.learning_rate(budgeted, jaxdecay.parse(text), plan)
        assert lr.horizon == 80, text
        assert float(lr.value(1.0)) == pytest.approx(at_one, rel=1e-6), text
        assert float(lr.value(0.5)) == pytest.approx(float(jaxdecay.parse(text)(40)), rel=1e-6)
    # A schedule with its own horizon keeps it; without a budget the schedule is unchanged.
    cosine = jaxdecay.cosine_decay(0.1, 50, end_value=0.001)
    assert planning.learning_rate(budgeted, cosine, plan).horizon == 50
    assert planning.learning_rate(tiny_config(), cosine, plan) is cosine
