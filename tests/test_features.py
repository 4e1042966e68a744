"""Input features: their definitions, the configuration that chooses them, training on them,
the session's rules for them, and circles learnt without a hidden layer."""
import numpy as np
import pytest

from micrograd import features
from micrograd.config import Config, DataSpec, for_data
from micrograd.data import Dataset, make_dataset
from micrograd.session import RESTART, Session
from micrograd.train import Trainer

X = np.random.default_rng(0).normal(0.0, 2.0, (50, 2))
x1, x2 = X[:, 0], X[:, 1]
ALL = list(features.NAMES)


def test_the_seven_features_of_the_playground():
    expected = {"x1": x1, "x2": x2, "x1sq": x1 ** 2, "x2sq": x2 ** 2, "x1x2": x1 * x2,
                "sinx1": np.sin(x1), "sinx2": np.sin(x2)}
    assert features.NAMES == tuple(expected)
    for name, want in expected.items():
        np.testing.assert_array_equal(features.values(name, X), want)
    assert [features.FEATURES[n].label for n in ALL] == ["x1", "x2", "x1²", "x2²", "x1·x2", "sin(x1)", "sin(x2)"]


def test_a_map_gives_one_column_per_feature_in_its_order():
    np.testing.assert_array_equal(features.apply(["sinx2", "x1"], X), np.column_stack([np.sin(x2), x1]))
    assert features.apply([], X) is X  # no map: the data's inputs as they are, no copy
    with pytest.raises(ValueError, match=r"computed from 2 inputs \(x1, x2\), got data shaped \(50, 1\)"):
        features.apply(["x1"], X[:, :1])


def test_choosing_x1_and_x2_is_choosing_no_map():
    assert features.normalized(["x1", "x2"]) == []
    assert features.normalized(["x2", "x1"]) == ["x2", "x1"]
    assert features.normalized(["x1", "x2", "x1sq"]) == ["x1", "x2", "x1sq"]


def test_a_choice_of_features_gives_the_settings_that_make_it():
    assert features.choice(["x1", "x2", "x1sq"], 2) == {"feature_map": ["x1", "x2", "x1sq"], "inputs": 3}
    assert features.choice(["x1", "x2"], 2) == {"feature_map": [], "inputs": 2}
    assert features.choice(["x1sq"], 1) == {"feature_map": [], "inputs": 1}  # no map without x1, x2


def test_the_configuration_records_and_checks_the_map():
    cfg = Config(inputs=3, feature_map=["x1sq", "x2sq", "x1x2"])
    assert Config.from_dict(cfg.to_dict()) == cfg
    assert Config().feature_map == [] and "feature_map" in Config().to_dict()
    assert cfg.data_inputs == 2 and Config(inputs=5).data_inputs == 5
    with pytest.raises(ValueError, match=r"training.feature_map: unknown feature 'x3'; choose from x1, x2, x1sq"):
        Config(inputs=1, feature_map=["x3"]).validate()
    with pytest.raises(ValueError, match=r"training.feature_map: the feature 'x1' is given twice"):
        Config(inputs=2, feature_map=["x1", "x1"]).validate()
    with pytest.raises(ValueError, match=r"training.inputs: must be the number of features in feature_map \(3\)"):
        Config(inputs=2, feature_map=["x1sq", "x2sq", "x1x2"]).validate()
    with pytest.raises(ValueError, match=r"training.feature_map: expected list"):
        Config(feature_map="x1sq").validate()


def test_a_map_needs_data_of_two_inputs():
    cfg = Config(inputs=2, feature_map=["x1sq", "x2sq"])
    cfg.check_inputs(2)
    with pytest.raises(ValueError, match=r"training.feature_map: input features are computed from 2 inputs "
                                         r"\(x1, x2\), but the data has 1"):
        cfg.check_inputs(1)
    with pytest.raises(ValueError, match=r"training.inputs: the network takes 2 inputs but the data has 3"):
        Config().check_inputs(3)
    # data of another width: the map goes, the inputs follow the data; two inputs: it stays
    assert (cfg.for_inputs(1).inputs, cfg.for_inputs(1).feature_map) == (1, [])
    assert (cfg.for_inputs(3).inputs, cfg.for_inputs(3).feature_map) == (3, [])
    assert cfg.for_inputs(2) == cfg


@pytest.mark.parametrize("engine", ["compiled", "value"])
def test_training_sees_the_features_and_predict_takes_the_data(engine):
    ds = make_dataset("moons", 30, 0.1, 0)
    cfg = Config(inputs=len(ALL), feature_map=ALL, layers=[4, 1], activations=["tanh", "linear"],
                 epochs=3, engine=engine)
    t = Trainer(cfg, ds)
    while not t.done:
        t.step()
    # the same network trained on the features as plain data: the same history, bit for bit
    mapped = Dataset(features.apply(ALL, ds.X), ds.y, ds.task, ALL, ds.label, ds.source, ds.classes)
    plain = Trainer(Config(**{**cfg.to_dict(), "feature_map": []}), mapped)
    while not plain.done:
        plain.step()
    assert [e.train_loss for e in t.history] == [e.train_loss for e in plain.history]
    np.testing.assert_array_equal(t.predict(ds.X), plain.predict(mapped.X))


def test_both_engines_agree_on_a_map():
    ds = make_dataset("circles", 30, 0.1, 1)
    runs = []
    for engine in ("compiled", "value"):
        # SGD: Adam divides by the root of the squared gradients, which blows up the last bits of a
        # gradient near 0 and would compare the optimizer, not the engines
        t = Trainer(Config(inputs=3, feature_map=["x1sq", "x2sq", "sinx1"], layers=[3, 1], epochs=4,
                           activations=["tanh", "linear"], optimizer="sgd", lr=0.1, engine=engine), ds)
        while not t.done:
            t.step()
        runs.append(t.theta)
    np.testing.assert_allclose(runs[0], runs[1], rtol=1e-12, atol=1e-12)


def circles_without_hidden_layer(feature_map, seed=0):
    """The window's default settings for circles (micrograd train --dataset circles), with the
    network cut to its output neuron: test accuracy at the end of the run."""
    spec = DataSpec("circles", samples=100, seed=seed, split_seed=seed)
    cfg = for_data(Config(inputs=len(feature_map) or 2, feature_map=feature_map, layers=[1], activations=["linear"],
                          seed=seed), "classification", "circles")
    session = Session(cfg, spec)
    for _ in session.run():
        pass
    return session.trainer.history[-1].test_metric


def test_circles_trains_without_a_hidden_layer_on_x1sq_and_x2sq():
    # x1, x2 stay checked as in the window, x1sq and x2sq are added: the circle is a straight line
    assert circles_without_hidden_layer(["x1", "x2", "x1sq", "x2sq"]) >= 0.95
    assert circles_without_hidden_layer([]) < 0.8  # a straight line in x1, x2 cannot part the rings


def test_a_session_restarts_with_new_weights_when_the_features_change():
    s = Session(Config(layers=[4, 1], activations=["relu", "linear"], epochs=5), DataSpec(samples=40))
    s.step()
    assert s.edit(feature_map=["x1", "x2", "x1sq"], inputs=3) == RESTART
    assert s.trainer.epoch == 0 and s.trainer.weights()[0][0].shape == (4, 3)
    # an imported run's weights give way to the seed's when the map changes, even at the same width
    weights = [(np.ones((4, 3)), np.zeros(4)), (np.ones((1, 4)), np.zeros(1))]
    s = Session(s.config, s.data, weights=weights)
    s.edit(feature_map=["x1", "x2", "sinx1"])
    assert s.weights is None and not np.array_equal(s.trainer.weights()[0][0], np.ones((4, 3)))


def test_a_session_keeps_the_map_on_two_inputs_and_drops_it_on_others(tmp_path):
    s = Session(Config(inputs=2, feature_map=["x1sq", "x2sq"]), DataSpec(samples=40))
    s.set_data(s.data.replace(dataset="xor"))
    assert (s.config.inputs, s.config.feature_map) == (2, ["x1sq", "x2sq"])
    s.set_data(s.data.replace(dataset="sine"))
    assert (s.config.inputs, s.config.feature_map) == (1, [])
    with pytest.raises(ValueError, match="training.feature_map: input features are computed from 2 inputs"):
        s.edit(inputs=1, feature_map=["sinx1"])
    assert s.config.feature_map == []
    path = tmp_path / "three.csv"
    path.write_text("a,b,c,y\n" + "".join(f"{i},{i % 3},{i % 5},{i % 2}\n" for i in range(20)))
    s = Session(Config(inputs=2, feature_map=["x1sq", "x2sq"]), DataSpec(samples=40))
    s.set_data(DataSpec(csv=str(path)))
    assert (s.config.inputs, s.config.feature_map) == (3, [])
    two = tmp_path / "two.csv"  # a CSV of two feature columns takes a map: they are x1 and x2
    two.write_text("a,b,y\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(20)))
    s = Session(Config(inputs=2, feature_map=["x1x2", "sinx1"]), DataSpec(csv=str(two)))
    assert s.trainer.X.shape == (len(s.train), 2)
    np.testing.assert_array_equal(s.trainer.X[:, 0], s.train.X[:, 0] * s.train.X[:, 1])


def test_the_data_stays_two_inputs_under_a_map():
    s = Session(Config(inputs=4, feature_map=["x1", "x2", "x1sq", "x2sq"], layers=[1], activations=["linear"]),
                DataSpec("circles", samples=40))
    setup = s.setup()
    assert setup.train.X.shape[1] == 2 and setup.train.features == ["x1", "x2"]  # the plot's axes
    assert setup.config.inputs == 4 and setup.config.feature_map == ["x1", "x2", "x1sq", "x2sq"]  # the diagram
    assert [W.shape for W, _ in s.snapshot().weights] == [(1, 4)]


def test_a_grid_of_feature_values_for_thumbnails():
    xs = np.linspace(-2, 2, 5)
    gx, gy = np.meshgrid(xs, xs)
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    picture = features.values("x1x2", grid).reshape(5, 5)  # picture[i, j] at (xs[j], xs[i])
    np.testing.assert_array_equal(picture, np.outer(xs, xs))
