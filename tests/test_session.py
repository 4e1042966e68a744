"""The session layer, without Qt: settings, data, runs, the continue-or-restart rule, export."""
import dataclasses
import io
import json
import math
import subprocess
import sys

import numpy as np
import pytest

from micrograd import modelfile
from micrograd.config import Config, DataSpec
from micrograd.session import CONTINUE, RESTART, Session, Snapshot
from micrograd.train import STOPPED, TOLERANCE, flatten

# SGD at 1.0 decaying over 100 epochs: the tests read the updates and the rates
SMALL = dict(layers=[4, 1], activations=["relu", "linear"], optimizer="sgd", lr=1.0, decay_steps=100)


def session(**kw):
    return Session(Config(**{**SMALL, **kw}), DataSpec(samples=40))


def test_a_whole_session_without_qt(tmp_path):
    """Configure, train, pause, change the learning rate, continue, export: what the window does."""
    s = session(epochs=30, schedule="constant")
    assert s.edit(l2=0.0) == RESTART
    first = s.trainer.theta.copy()
    for _ in range(5):  # train ...
        s.step()
    paused = s.trainer.theta.copy()  # ... and pause: nothing runs between two steps
    assert s.edit(lr=0.25) == CONTINUE  # a new rate goes on from here
    np.testing.assert_array_equal(s.trainer.theta, paused)
    e = s.step()
    assert e.epoch == 6 and e.lr == 0.25
    np.testing.assert_allclose(s.trainer.theta, paused - 0.25 * s.trainer.grad)
    assert s.edit(epochs=40) == CONTINUE  # a larger budget: the same run goes on
    epochs = [e.epoch for e in s.run()]
    assert epochs == list(range(7, 41)) and s.finished and not s.can_step
    path = s.save(tmp_path / "m.json")
    m = modelfile.load(path)
    assert m.config.lr == 0.25 and m.config.epochs == 40 and m.metrics["epoch"] == 40
    np.testing.assert_array_equal(flatten(m.weights), s.trainer.theta)
    assert DataSpec.from_block(m.data) == s.data
    # Reset: back to epoch 0 from the same initial weights
    s.restart()
    assert s.trainer.epoch == 0 and not s.finished
    np.testing.assert_array_equal(s.trainer.theta, first)


def test_the_continue_or_restart_rule():
    s = session(epochs=10)
    s.step(), s.step()
    assert s.edit(tolerance=0.01) == CONTINUE and s.trainer.epoch == 2
    assert s.edit(epochs=2) == RESTART  # below what it has done: a new run
    s.step(), s.step()
    assert s.trainer.done and s.finished
    assert s.edit(epochs=20) == CONTINUE  # it ended at its budget: a larger one lets it go on
    assert not s.trainer.done and not s.finished and s.trainer.epoch == 2
    assert s.step().epoch == 3
    assert s.edit(lr=0.5, epochs=30) == CONTINUE
    assert s.edit(epochs=0) == CONTINUE  # until stopped
    for _ in range(40):
        s.step()
    assert not s.finished and s.trainer.epoch == 43 and s.done_epochs == 43 and s.total_epochs == 0
    assert s.edit(loss="mse") == RESTART and s.trainer.epoch == 0  # another objective
    initial = s.trainer.theta.copy()
    s.step()
    assert s.edit(momentum=0.5) == RESTART
    np.testing.assert_array_equal(s.trainer.theta, initial)  # same initial weights
    assert s.edit(seed=7) == RESTART
    assert not np.array_equal(s.trainer.theta, initial)  # new ones
    assert s.edit() == CONTINUE and s.edit(lr=s.config.lr) == CONTINUE  # no change


def test_runs_that_ended_otherwise_restart():
    s = session(epochs=2, evals=2)
    list(s.run())
    assert s.edit(epochs=5) == RESTART  # several runs: compared alike, from the start
    s = session(epochs=5, loss="sse", lr=1000.0, schedule="constant", l2=0.0)
    with np.errstate(all="ignore"):
        list(s.run())
    assert s.trainer.stop_reason.startswith("diverged")
    assert s.edit(epochs=50) == RESTART and s.trainer.epoch == 0
    s.step()
    s.stop()
    assert s.edit(epochs=60) == RESTART  # stopped by the user: a new run


def test_a_bad_edit_changes_nothing():
    s = session()
    s.step()
    before, theta = s.config.to_dict(), s.trainer.theta.copy()
    for bad in ({"lr": -1.0}, {"layers": [4, 2]}, {"loss": "bce", "activations": ["relu", "sigmoid"]},
                {"inputs": 3}, {"nope": 1}, {"epochs": 0, "evals": 2}):
        with pytest.raises(ValueError):
            s.edit(**bad)
        assert s.config.to_dict() == before and s.trainer.epoch == 1
        np.testing.assert_array_equal(s.trainer.theta, theta)


def test_one_copy_of_the_settings():
    """The runs read the session's config itself, so a rate set between epochs is the rate used."""
    s = session(evals=2, epochs=2)
    assert all(t.cfg is s.config for t in s.runs)
    s.step(), s.step()
    s.edit(lr=0.3)
    s.step()  # the second run starts with the new rate
    assert s.trainer.run == 1 and s.trainer.cfg is s.config and s.trainer.history[-1].lr == 0.3


def test_runs_over_seeds_and_their_summary():
    cfg = Config(layers=[4, 1], activations=["tanh", "linear"], optimizer="sgd", lr=1.0, epochs=15, tolerance=0.6,
                 evals=5)
    s = Session(cfg, DataSpec(dataset="xor", samples=30))
    epochs = list(s.run())
    assert len(s.runs) == 5 and [t.seed for t in s.runs] == [0, 1, 2, 3, 4]
    assert len(epochs) == sum(len(t.history) for t in s.runs)
    assert s.done_epochs == s.total_epochs == 75
    finals = [t.history[-1] for t in s.runs]
    summary = s.summary()
    assert summary["runs"] == 5
    for key in ("train_loss", "test_loss", "train_metric", "test_metric"):
        v = np.array([getattr(f, key) for f in finals])
        assert summary[key] == pytest.approx({"mean": v.mean(), "std": v.std(), "min": v.min(), "max": v.max()})
    reached = [f.epoch for f in finals if f.stop == TOLERANCE]
    assert 0 < len(reached) < 5, "pick a tolerance some runs reach and some do not"
    assert summary["converged"] == len(reached) / 5
    assert summary["epochs_to_tolerance"]["min"] == min(reached)
    assert summary["epochs_to_tolerance"]["max"] == max(reached)
    # the run a model file gets: the lowest final test loss
    losses = [t.history[-1].test_loss for t in s.runs]
    assert s.best() is s.runs[int(np.argmin(losses))]


def test_best_puts_diverged_runs_last_and_falls_back_to_the_current_run():
    s = session(evals=3, epochs=1)
    assert s.best() is s.trainer  # nothing trained yet
    list(s.run())
    t0, t1, t2 = s.runs
    t0.history.replace_last(dataclasses.replace(t0.history[-1], test_loss=0.1, stop="diverged at epoch 1"))
    t1.history.replace_last(dataclasses.replace(t1.history[-1], test_loss=0.5))
    t2.history.replace_last(dataclasses.replace(t2.history[-1], test_loss=0.5))
    assert s.best() is t1  # t0 diverged; t1 and t2 tie, the earlier wins


def test_the_command_line_saves_what_the_session_saves(tmp_path):
    """One rule for which run a model file gets: `micrograd train --evals 3` and a session of
    the same settings write the same weights."""
    from micrograd import cli
    out = tmp_path / "cli.json"
    argv = ["train", "--samples", "40", "--layers", "4", "--epochs", "5", "--evals", "3", "--quiet",
            "--out", str(out)]
    assert cli.main(argv, stdout=io.StringIO(), stderr=io.StringIO()) == 0
    m = modelfile.load(out)
    s = Session(m.config, DataSpec.from_block(m.data))
    list(s.run())
    s.save(tmp_path / "session.json")
    np.testing.assert_array_equal(flatten(modelfile.load(tmp_path / "session.json").weights),
                                  flatten(m.weights))
    assert m.metrics["run"] == s.best().run


def test_stop_ends_the_session():
    s = session(epochs=50)
    s.step()
    s.stop()
    assert s.finished and s.trainer.history[-1].stop == STOPPED
    with pytest.raises(RuntimeError):
        s.step()


def test_changing_data_follows_the_task_and_keeps_what_fits():
    s = session()
    weights = [(np.ones((4, 2)), np.zeros(4)), (np.ones((1, 4)), np.zeros(1))]
    s = Session(s.config, s.data, weights=weights)
    s.set_data(s.data.replace(dataset="circles"))  # same inputs: the start weights stay
    np.testing.assert_array_equal(s.trainer.weights()[0][0], np.ones((4, 2)))
    assert s.config.loss == "hinge" and s.dataset.source["dataset"] == "circles"
    s.set_data(s.data.replace(dataset="sine"))  # regression, one input
    assert s.dataset.task == "regression" and s.config.inputs == 1
    assert (s.config.loss, s.config.activations, s.config.optimizer, s.config.lr, s.config.epochs) == \
        ("mse", ["tanh", "linear"], "adam", 0.01, 500)
    assert s.weights is None
    before = (s.config.to_dict(), s.data)
    with pytest.raises(ValueError):
        s.set_data(DataSpec(csv=str("/nonexistent/x.csv")))
    assert (s.config.to_dict(), s.data) == before


def test_from_model_restores_settings_weights_and_data(tmp_path):
    s = session(epochs=3, l2=0.001)
    list(s.run())
    m = modelfile.load(s.save(tmp_path / "m.json"))
    other = Session(Config(), DataSpec(dataset="xor"))
    again, note = Session.from_model(m, fallback=other)
    assert note == "" and again.config.to_dict() == s.config.to_dict() and again.data == s.data
    np.testing.assert_array_equal(again.trainer.theta, s.trainer.theta)
    assert again.finished and again.trainer.epoch == 3  # its run used its budget
    again.restart()
    again.step()
    again.restart()  # Reset returns to the imported weights
    np.testing.assert_array_equal(again.trainer.theta, s.trainer.theta)


def test_from_model_without_its_data_takes_the_current_data_if_it_fits(tmp_path):
    s = session(epochs=1)
    s.step()
    doc = modelfile.load(s.save(tmp_path / "m.json"))
    doc.data = {}
    other = Session(Config(), DataSpec(dataset="xor"))
    again, note = Session.from_model(doc, fallback=other)
    assert note == "kept the current data" and again.data == other.data
    with pytest.raises(ValueError, match="no data set that can be rebuilt"):
        Session.from_model(doc, fallback=Session(Config(inputs=1, loss="mse", **SMALL), DataSpec(dataset="sine")))


def test_snapshots_are_plain_copies():
    s = session(epochs=5)
    first = s.snapshot()
    assert first.epoch == 0 and first.new == () and first.last is None and not first.finished
    e = s.step()
    snap = s.snapshot([e])
    assert isinstance(snap, Snapshot) and snap.last == e and snap.done == 1 and snap.total == 5
    with pytest.raises(dataclasses.FrozenInstanceError):
        snap.epoch = 3
    snap.weights[0][0][0, 0] = 1e9  # a copy: the run is untouched
    assert s.trainer.weights()[0][0][0, 0] != 1e9
    list(s.run())
    last = s.snapshot()
    assert last.finished and last.summary["runs"] == 1 and last.stop is not None
    setup = s.setup()
    assert setup.task == "classification" and setup.threshold == 0.0 and setup.config is not s.config


def test_session_and_config_import_no_qt():
    code = ("import sys, micrograd.session, micrograd.config; "
            "bad = [m for m in sys.modules if m.startswith(('PySide6', 'pyqtgraph'))]; "
            "sys.exit(1 if bad else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_settings_round_trip_through_json():
    cfg = Config(layers=[3, 1], activations=["tanh", "linear"], lr=0.125, seed=2**32 - 1)
    assert Config.from_dict(cfg.to_dict()) == cfg
    spec = DataSpec(csv="/tmp/x.csv", label="k", test_ratio=0.3, split_seed=4)
    assert DataSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(ValueError, match="data.noise"):
        DataSpec.from_dict({"noise": float("inf")})
    with pytest.raises(ValueError, match="unknown field 'x'"):
        DataSpec.from_dict({"x": 1})
    assert math.isclose(Config().threshold, 0.0)


def test_an_imported_run_goes_on_from_its_history(tmp_path):
    s = session(epochs=30)
    for _ in range(12):
        s.step()
    s.stop()  # stopped by the user at 12 of 30: an import may simply go on
    m = modelfile.load(s.save(tmp_path / "m.json"))
    again, _ = Session.from_model(m)
    t = again.trainer
    assert t.epoch == 12 and not t.done and [e.epoch for e in t.history] == list(range(1, 13))
    assert [e.train_loss for e in t.history] == [e.train_loss for e in s.trainer.history]
    snap = again.snapshot(list(t.history))
    assert snap.epoch == 12 and len(snap.new) == 12 and snap.done == 12
    assert again.step().epoch == 13 and again.trainer.history[-1].lr == s.config.lr * (1 - 0.9 * 12 / 100)
    again.restart()  # Reset: epoch 0 from the imported weights, no history
    assert again.trainer.epoch == 0 and not again.trainer.history
    np.testing.assert_array_equal(again.trainer.theta, s.trainer.theta)
    # a run that used its whole budget: done, and a larger budget lets it go on
    full = session(epochs=5)
    list(full.run())
    done, _ = Session.from_model(modelfile.load(full.save(tmp_path / "full.json")))
    assert done.trainer.done and done.finished and done.trainer.stop_reason == "epochs exhausted"
    assert done.edit(epochs=8) == CONTINUE and [e.epoch for e in done.run()] == [6, 7, 8]


def test_weight_init_is_a_setting_and_files_without_it_read_as_micrograds(tmp_path):
    s = session()
    assert s.config.init == "auto"
    he = np.sqrt(6 / 2)  # relu layer, fan-in 2: He's bound
    assert np.abs(s.trainer.weights()[0][0]).max() <= he
    first = s.trainer.theta.copy()
    assert s.edit(init="uniform") == RESTART and not np.array_equal(s.trainer.theta, first)
    path = s.save(tmp_path / "m.json")
    with open(path) as f:
        doc = json.load(f)
    assert doc["training"]["init"] == "uniform"
    del doc["training"]["init"]  # a file written before the field
    old = modelfile.loads(json.dumps(doc))
    assert old.config.init == "uniform"
    with pytest.raises(ValueError, match="training.init"):
        s.edit(init="glorot")


def test_a_weight_set_by_hand_is_where_the_run_goes_on_from():
    s = session(epochs=20)
    s.step()
    t = s.trainer
    W, b = t.weights()[1]
    old = s.set_parameter(1, 0, 2, 0.75)
    assert old == W[0, 2] and t.weights()[1][0][0, 2] == 0.75
    bias = t.weights()[0][1][3]
    assert s.set_parameter(0, 3, None, -0.5) == bias and t.weights()[0][1][3] == -0.5
    snap = s.snapshot(measure=True)
    loss, acc, test_loss, test_acc = snap.measured
    theta = t.theta.copy()
    e = s.step()
    assert e.train_loss == pytest.approx(loss, rel=1e-12) and e.train_metric == acc  # measured = the next epoch's view
    assert not np.array_equal(t.theta, theta)  # and trained on from the edited weights
    s.restart()  # Reset: the initial weights, unedited
    np.testing.assert_array_equal(s.trainer.theta, session(epochs=20).trainer.theta)
    with pytest.raises(IndexError):
        s.set_parameter(1, 0, 4, 1.0)
    with pytest.raises(ValueError):
        s.set_parameter(0, 0, 0, float("nan"))


# --- the way back: rewind, branch, pin -------------------------------------------------------------

def trained(epochs, **settings):
    s = Session(Config(layers=[6, 1], activations=["tanh", "linear"], epochs=1000, **settings))
    for _ in range(epochs):
        s.step()
    return s


def test_at_shows_the_weights_the_run_had_then():
    s = trained(40)
    for k in (0, 1, 17, 39):
        snap = s.at(k)
        again = trained(k)  # the same run, stopped at k
        assert snap.rewound and snap.epoch == k and snap.new == ()
        for (W, b), (W2, b2) in zip(snap.weights, again.trainer.weights()):
            np.testing.assert_array_equal(W, W2)
            np.testing.assert_array_equal(b, b2)
        if k:
            assert snap.measured[0] == again.trainer.history[-1].train_loss
    assert not s.at(40).rewound and not s.at(99).rewound and s.at(40).epoch == 40


def test_a_branch_goes_on_from_there_with_the_settings_now_and_keeps_the_run_it_left():
    s = trained(40)
    s.branch(15)
    assert s.trainer.epoch == 15 and [e.epoch for e in s.trainer.history][-1] == 15
    np.testing.assert_array_equal(s.trainer.theta, trained(15).trainer.theta)
    assert len(s.ghosts) == 1 and s.ghosts[0].last.epoch == 40 and s.ghosts[0].label == "#1 branched at 15"
    assert s.edit(optimizer="sgd", lr=0.05) == RESTART  # a restart comes back to the branch point
    assert s.trainer.epoch == 15 and s.config.optimizer == "sgd"
    np.testing.assert_array_equal(s.trainer.theta, trained(15).trainer.theta)
    e = s.step()
    assert e.epoch == 16 and e.lr == pytest.approx(0.05 * (1 - 0.9 * 15 / 300))  # the schedule counts on from 15
    s.reset()  # back to epoch 0
    np.testing.assert_array_equal(s.trainer.theta, trained(0).trainer.theta)
    with pytest.raises(ValueError, match="earlier"):
        s.branch(0)
    s.edit(layers=[3, 1], activations=["tanh", "linear"])  # a new network: no branch point to go back to
    for _ in range(5):
        s.step()
    s.branch(2)
    s.edit(seed=7)
    assert s.trainer.epoch == 0


def test_save_writes_the_epoch_on_show(tmp_path):
    s = trained(30)
    path = s.save(str(tmp_path / "m.json"), epoch=12)
    m = modelfile.load(path)
    np.testing.assert_array_equal(flatten([(np.array(W), np.array(b)) for W, b in m.weights]),
                                  trained(12).trainer.theta)
    assert m.history["epoch"][-1] == 12 and m.metrics["train_loss"] == trained(12).trainer.history[-1].train_loss


def test_pinned_runs_are_kept_bounded_and_cleared():
    s = trained(5)
    for i in range(12):
        s.pin()
    assert len(s.ghosts) == 8 and s.ghosts[0].label == "#5 pinned"
    assert s.setup().ghosts == tuple(s.ghosts)
    s.unpin()
    assert s.ghosts == [] and s.setup().ghosts == ()
