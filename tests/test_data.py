import json
import os
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from micrograd import data
from micrograd.data import (CLASSIFICATION, DATASETS, REGRESSION, DataError, Dataset,
                            load_csv, make_dataset, split)


def reference_moons(n, noise, seed):
    """The reference code from the spec, verbatim apart from 0/1 labels."""
    rng = np.random.default_rng(seed)
    n_out = n // 2
    n_in = n - n_out
    t_out = np.linspace(0.0, np.pi, n_out)
    t_in = np.linspace(0.0, np.pi, n_in)
    X = np.concatenate([np.stack([np.cos(t_out), np.sin(t_out)], axis=1),
                        np.stack([1.0 - np.cos(t_in), 1.0 - np.sin(t_in) - 0.5], axis=1)])
    y = np.concatenate([np.zeros(n_out), np.ones(n_in)])
    X = X + rng.normal(0.0, noise, size=X.shape)
    return X, y


# --- built-in data sets ------------------------------------------------------

def test_names_partition():
    assert DATASETS == ("moons", "circles", "xor", "gaussian", "spiral", "plane", "sine", "bumps")
    assert set(CLASSIFICATION) | set(REGRESSION) == set(DATASETS)
    assert not set(CLASSIFICATION) & set(REGRESSION)


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("n", [2, 7, 100])
def test_shape_and_metadata(name, n):
    ds = make_dataset(name, samples=n, noise=0.1, seed=3)
    d = 1 if name == "sine" else 2
    assert ds.X.shape == (n, d) and ds.y.shape == (n,) and len(ds) == n
    assert ds.X.dtype == np.float64 and ds.y.dtype == np.float64
    assert ds.features == [f"x{i + 1}" for i in range(d)] and ds.label == "y"
    assert ds.source == {"dataset": name, "samples": n, "noise": 0.1, "seed": 3}
    assert json.loads(json.dumps(ds.source)) == ds.source
    assert np.isfinite(ds.X).all() and np.isfinite(ds.y).all()
    if name in CLASSIFICATION:
        assert ds.task == "classification" and ds.classes == ["0", "1"]
        assert sorted(np.unique(ds.y)) == [0.0, 1.0]
        assert (ds.y == 1).sum() == n - n // 2  # balanced to within one
    else:
        assert ds.task == "regression" and ds.classes == []


@pytest.mark.parametrize("name", DATASETS)
def test_same_seed_same_points_other_seed_differs(name):
    a = make_dataset(name, 50, 0.2, seed=7)
    b = make_dataset(name, 50, 0.2, seed=7)
    c = make_dataset(name, 50, 0.2, seed=8)
    assert np.array_equal(a.X, b.X) and np.array_equal(a.y, b.y)
    assert not (np.array_equal(a.X, c.X) and np.array_equal(a.y, c.y))


@pytest.mark.parametrize("name", DATASETS)
def test_coordinates_fit_one_plot_extent(name):
    ds = make_dataset(name, 500, 0.1, seed=0)
    if name == "sine":
        assert np.abs(ds.X).max() <= np.pi
    else:  # gaussian tails are unbounded, so judge the bulk and the extremes apart
        assert np.quantile(np.abs(ds.X), 0.99) <= 2.0 and np.abs(ds.X).max() <= 3.0
    assert np.abs(ds.y).max() <= 3.0


@pytest.mark.parametrize("n,noise,seed", [(100, 0.1, 0), (101, 0.3, 5), (2, 0.0, 1), (1000, 0.05, 42)])
def test_moons_matches_reference_exactly(n, noise, seed):
    X, y = reference_moons(n, noise, seed)
    ds = make_dataset("moons", n, noise, seed)
    assert np.array_equal(ds.X, X) and np.array_equal(ds.y, y)
    assert np.array_equal(ds.signed_labels(), np.where(y == 1, 1.0, -1.0))


def test_moons_noise_free_on_arcs():
    ds = make_dataset("moons", 60, 0.0)
    upper, lower = ds.X[ds.y == 0], ds.X[ds.y == 1]
    assert np.allclose(np.hypot(*upper.T), 1.0)
    assert np.allclose(np.hypot(lower[:, 0] - 1.0, lower[:, 1] - 0.5), 1.0)


def test_circles_noise_free_radii():
    ds = make_dataset("circles", 80, 0.0, seed=2)
    r = np.hypot(*ds.X.T)
    assert np.allclose(r[ds.y == 0], 1.0) and np.allclose(r[ds.y == 1], 0.5)


def test_xor_noise_free_rule():
    ds = make_dataset("xor", 400, 0.0, seed=4)
    assert np.array_equal(ds.y, (ds.X[:, 0] * ds.X[:, 1] > 0).astype(float))
    assert np.abs(ds.X).min() >= 0.1
    # all four quadrants are used
    quadrants = {(a > 0, b > 0) for a, b in ds.X}
    assert len(quadrants) == 4


def test_gaussian_blob_centres():
    ds = make_dataset("gaussian", 4000, 0.0, seed=1)
    assert np.allclose(ds.X[ds.y == 0].mean(axis=0), [-1, -1], atol=0.05)
    assert np.allclose(ds.X[ds.y == 1].mean(axis=0), [1, 1], atol=0.05)


def reference_bumps(X):
    """TensorFlow Playground's six bumps (dataset.ts, regressGaussian: centres (-4, 0, 4) x
    (2.5, -2.5) on [-6, 6], signs alternating), scaled by 1/3 to our square, as gaussians of
    height 2 and standard deviation 0.5 summed."""
    y = np.zeros(len(X))
    for cx, cy, sign in [(-4, 2.5, 1), (0, 2.5, -1), (4, 2.5, 1), (-4, -2.5, -1), (0, -2.5, 1), (4, -2.5, -1)]:
        y += 2.0 * sign * np.exp(-((X[:, 0] - cx / 3) ** 2 + (X[:, 1] - cy / 3) ** 2) / (2 * 0.5 ** 2))
    return y


def test_bumps_are_the_playgrounds_multi_gaussian():
    ds = make_dataset("bumps", 2000, 0.0, seed=3)
    assert ds.task == "regression" and np.abs(ds.X).max() <= 2.0
    np.testing.assert_allclose(ds.y, reference_bumps(ds.X), rtol=1e-12, atol=1e-12)
    # a checkerboard: the same across x1 = 0, the opposite across x2 = 0
    mirrored = np.column_stack([-ds.X[:, 0], ds.X[:, 1]])
    flipped = np.column_stack([ds.X[:, 0], -ds.X[:, 1]])
    np.testing.assert_allclose(reference_bumps(mirrored), ds.y, atol=1e-12)
    np.testing.assert_allclose(reference_bumps(flipped), -ds.y, atol=1e-12)
    peaks = np.array([[-4 / 3, 5 / 6], [0, 5 / 6], [4 / 3, 5 / 6]])
    assert np.all(np.abs(reference_bumps(peaks)) > 1.8) and list(np.sign(reference_bumps(peaks))) == [1, -1, 1]


def test_bumps_noise_goes_to_the_target():
    clean, noisy = make_dataset("bumps", 200, 0.0, seed=1), make_dataset("bumps", 200, 0.3, seed=1)
    assert np.array_equal(clean.X, noisy.X)
    assert 0.2 < np.std(noisy.y - clean.y) < 0.4


def test_spiral_noise_free_arms():
    ds = make_dataset("spiral", 50, 0.0)
    for k in (0, 1):
        arm = ds.X[ds.y == k]
        t = np.linspace(0, 1, len(arm))
        r, a = 0.2 + 1.6 * t, 3 * np.pi * t + k * np.pi
        assert np.allclose(arm, np.stack([r * np.cos(a), r * np.sin(a)], axis=1))
    # the two arms are point-reflections of each other
    assert np.allclose(ds.X[ds.y == 0], -ds.X[ds.y == 1])


def test_plane_noise_free_is_linear():
    ds = make_dataset("plane", 30, 0.0, seed=9)
    assert np.allclose(ds.y, 0.6 * ds.X[:, 0] - 0.4 * ds.X[:, 1] + 0.5)
    noisy = make_dataset("plane", 30, 0.5, seed=9)
    assert np.array_equal(noisy.X, ds.X)  # noise goes on y only
    assert not np.allclose(noisy.y, ds.y)


def test_sine_noise_free_and_sorted():
    ds = make_dataset("sine", 40, 0.0, seed=3)
    x = ds.X[:, 0]
    assert np.array_equal(ds.y, np.sin(x))
    assert np.all(np.diff(x) >= 0) and x.min() >= -np.pi and x.max() <= np.pi


def test_noise_scale_is_respected():
    clean = make_dataset("circles", 2000, 0.0)
    noisy = make_dataset("circles", 2000, 0.2)
    assert np.std(noisy.X - clean.X) == pytest.approx(0.2, rel=0.1)


def test_signed_labels_regression_refused():
    with pytest.raises(ValueError, match="classification"):
        make_dataset("sine").signed_labels()


@pytest.mark.parametrize("kwargs,match", [
    ({"name": "banana"}, "moons, circles, xor, gaussian, spiral, plane, sine"),
    ({"name": "moons", "samples": 1}, "samples"),
    ({"name": "moons", "samples": 100_001}, "samples"),
    ({"name": "moons", "samples": 10.0}, "samples"),
    ({"name": "moons", "samples": True}, "samples"),
    ({"name": "moons", "noise": -0.1}, "noise"),
    ({"name": "moons", "noise": float("nan")}, "noise"),
    ({"name": "moons", "seed": -1}, "seed"),
])
def test_make_dataset_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_dataset(**kwargs)


def test_dataset_checks_shapes():
    with pytest.raises(ValueError, match="shape"):
        Dataset(np.zeros((3, 2)), np.zeros(4), "regression", ["a", "b"], "y", {})
    with pytest.raises(ValueError, match="task"):
        Dataset(np.zeros((3, 2)), np.zeros(3), "ranking", ["a", "b"], "y", {})


# --- split -------------------------------------------------------------------

def indexed(task, y):
    """A dataset whose first feature is the row index, to track rows through split."""
    n = len(y)
    X = np.stack([np.arange(n, dtype=float), np.zeros(n)], axis=1)
    return Dataset(X, np.asarray(y, float), task, ["i", "z"], "t", {"dataset": "t"},
                   ["no", "yes"] if task == "classification" else [])


def test_split_sizes_disjoint_union():
    ds = make_dataset("moons", 100, 0.1)
    train, test = split(ds, 0.2, seed=1)
    assert (len(train), len(test)) == (80, 20)
    rows = lambda d: {tuple(r) + (l,) for r, l in zip(d.X, d.y)}
    assert not rows(train) & rows(test)
    assert rows(train) | rows(test) == rows(ds)
    assert train.X.shape == (80, 2) and test.y.shape == (20,)


def test_split_keeps_metadata_and_copies():
    ds = indexed("classification", [0, 1] * 10)
    train, test = split(ds, 0.3, 0)
    for part in (train, test):
        assert (part.task, part.features, part.label, part.source, part.classes) == \
            (ds.task, ds.features, ds.label, ds.source, ds.classes)
    train.features.append("oops")
    train.source["x"] = 1
    assert ds.features == ["i", "z"] and ds.source == {"dataset": "t"}


def test_split_seeded():
    ds = make_dataset("spiral", 60, 0.1)
    a, b, c = split(ds, 0.25, 3), split(ds, 0.25, 3), split(ds, 0.25, 4)
    assert np.array_equal(a[0].X, b[0].X) and np.array_equal(a[1].y, b[1].y)
    assert not np.array_equal(a[1].X, c[1].X)


def test_split_shuffles():
    ds = indexed("regression", np.arange(50.0))
    train, test = split(ds, 0.2, 0)
    assert not np.array_equal(np.sort(test.X[:, 0]), np.arange(40.0, 50.0))
    assert not np.all(np.diff(train.X[:, 0]) > 0)


def test_split_ratio_zero_gives_empty_test():
    ds = make_dataset("plane", 30)
    train, test = split(ds, 0.0, 0)
    assert len(train) == 30 and len(test) == 0
    assert test.X.shape == (0, 2) and test.y.shape == (0,)
    assert test.X.dtype == np.float64


def test_split_stratified():
    y = [0] * 70 + [1] * 30
    train, test = split(indexed("classification", y), 0.2, seed=5)
    assert (test.y == 1).sum() == 6 and (test.y == 0).sum() == 14
    assert (train.y == 1).sum() == 24 and (train.y == 0).sum() == 56


def test_split_keeps_both_classes_in_train():
    ds = indexed("classification", [0, 0, 0, 0, 0, 0, 0, 0, 0, 1])
    for seed in range(10):
        train, test = split(ds, 0.9, seed)
        assert set(train.y) == {0.0, 1.0}
        assert len(train) + len(test) == 10
    train, test = split(indexed("classification", [0, 1, 1]), 0.9, 0)
    assert set(train.y) == {0.0, 1.0} and len(test) == 1


def test_split_regression_keeps_one_train_sample():
    train, test = split(indexed("regression", np.arange(2.0)), 0.9, 0)
    assert (len(train), len(test)) == (1, 1)
    train, test = split(indexed("regression", [1.0]), 0.9, 0)
    assert (len(train), len(test)) == (1, 0)


@pytest.mark.parametrize("ratio", [-0.1, 0.95, 1.0, float("nan"), "0.2"])
def test_split_bad_ratio(ratio):
    with pytest.raises(ValueError, match="test_ratio"):
        split(make_dataset("moons"), ratio, 0)


def test_split_empty_refused():
    _, empty = split(make_dataset("moons"), 0.0, 0)
    with pytest.raises(ValueError, match="empty"):
        split(empty, 0.2, 0)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from([0.0, 1.0]), min_size=1, max_size=60),
       st.floats(0.0, 0.9), st.integers(0, 2**32), st.booleans())
def test_split_properties(y, ratio, seed, classify):
    ds = indexed("classification" if classify else "regression", y)
    train, test = split(ds, ratio, seed)
    ids = np.concatenate([train.X[:, 0], test.X[:, 0]])
    assert sorted(ids) == list(range(len(y)))  # disjoint, and union is everything
    assert len(train) >= 1
    assert np.array_equal(ds.y[ids.astype(int)], np.concatenate([train.y, test.y]))
    target = min(round(len(y) * ratio), len(y) - 1)
    if classify:
        assert set(train.y) == set(y)
        assert target - 1 <= len(test) <= target
    else:
        assert len(test) == target


# --- CSV: happy paths --------------------------------------------------------

def write(tmp_path, text, name="d.csv", encoding="utf-8"):
    p = tmp_path / name
    p.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return p


def test_csv_with_header(tmp_path):
    p = write(tmp_path, "a,b,label\n1,2,0\n3.5,-4,1\n5,6e1,0\n")
    ds = load_csv(p)
    assert np.array_equal(ds.X, [[1, 2], [3.5, -4], [5, 60]])
    assert np.array_equal(ds.y, [0, 1, 0])
    assert ds.task == "classification" and ds.classes == ["0", "1"]
    assert ds.features == ["a", "b"] and ds.label == "label" and len(ds) == 3
    assert ds.source == {"csv": str(p.resolve()), "label": "label", "columns": ["a", "b", "label"]}
    assert json.loads(json.dumps(ds.source)) == ds.source


def test_csv_without_header(tmp_path):
    ds = load_csv(write(tmp_path, "1,2,0.5\n3,4,1.5\n5,6,2.5\n"))
    assert ds.features == ["x1", "x2"] and ds.label == "y"
    assert ds.task == "regression" and ds.classes == []
    assert np.array_equal(ds.y, [0.5, 1.5, 2.5]) and ds.X.shape == (3, 2)


def test_csv_label_by_name(tmp_path):
    p = write(tmp_path, "a,target,b\n1,10,2\n3,20,4\n5,30,6\n")
    ds = load_csv(p, label="target")
    assert ds.features == ["a", "b"] and ds.label == "target"
    assert np.array_equal(ds.X, [[1, 2], [3, 4], [5, 6]])
    assert np.array_equal(ds.y, [10, 20, 30])
    assert ds.source["columns"] == ["a", "target", "b"]
    no_header = load_csv(write(tmp_path, "1,10,2\n3,20,4\n5,30,6\n", "n.csv"), label="x2")
    assert no_header.features == ["x1", "y"] and np.array_equal(no_header.y, [10, 20, 30])


def test_csv_text_labels_become_classes(tmp_path):
    ds = load_csv(write(tmp_path, "w,h,kind\n1,2,dog\n3,4,cat\n5,6,dog\n"))
    assert ds.classes == ["cat", "dog"]
    assert np.array_equal(ds.y, [1, 0, 1])
    assert np.array_equal(ds.signed_labels(), [1, -1, 1])


def test_csv_text_labels_without_header(tmp_path):
    ds = load_csv(write(tmp_path, "0.5,1.2,yes\n0.7,1.0,no\n"))
    assert len(ds) == 2 and ds.features == ["x1", "x2"]
    assert ds.classes == ["no", "yes"] and np.array_equal(ds.y, [1, 0])


def test_csv_two_numeric_values_are_classes_in_numeric_order(tmp_path):
    ds = load_csv(write(tmp_path, "x,y\n1,10\n2,-1\n3,10.0\n"))
    assert ds.task == "classification"
    assert ds.classes == ["-1", "10"] and np.array_equal(ds.y, [1, 0, 1])


def test_csv_tolerates_bom_crlf_spaces_quotes_blank_lines(tmp_path):
    text = '\ufeffa, b ,y\r\n 1 ,"2",cat\r\n3,4, dog \r\n\r\n\r\n  \n'
    ds = load_csv(write(tmp_path, text))
    assert ds.features == ["a", "b"] and ds.classes == ["cat", "dog"]
    assert np.array_equal(ds.X, [[1, 2], [3, 4]]) and np.array_equal(ds.y, [0, 1])


def test_csv_single_feature_and_max_features(tmp_path):
    ds = load_csv(write(tmp_path, "1,0\n2,1\n"))
    assert ds.X.shape == (2, 1)
    row = ",".join(["1"] * data.MAX_FEATURES)
    ds = load_csv(write(tmp_path, f"{row},0\n{row},1\n", "wide.csv"))
    assert ds.X.shape == (2, data.MAX_FEATURES)


# --- CSV: refusals -----------------------------------------------------------

def refused(path, *parts, **kw):
    with pytest.raises(DataError) as info:
        load_csv(path, **kw)
    msg = str(info.value)
    for part in parts:
        assert part in msg, msg
    return msg


def test_dataerror_is_valueerror():
    assert issubclass(DataError, ValueError)


def test_csv_text_in_feature_column(tmp_path):
    p = write(tmp_path, "x1,x2,y\n1,2,0\n3,4,1\n\n5,abc,0\n")
    refused(p, "line 5", "column 'x2'", "'abc' is not a number")


def test_csv_text_in_feature_first_row_without_header(tmp_path):
    refused(write(tmp_path, "1,abc,0\n2,3,1\n"), "line 1", "column 'x2'", "'abc'")


def test_csv_empty_feature_cell(tmp_path):
    refused(write(tmp_path, "a,b,y\n1,,0\n2,3,1\n"), "line 2", "column 'b'", "''")


@pytest.mark.parametrize("cell", ["nan", "NaN", "inf", "-inf", "1e999"])
def test_csv_non_finite_feature(tmp_path, cell):
    p = write(tmp_path, f"a,b,y\n1,2,0\n{cell},3,1\n")
    refused(p, "line 3", "column 'a'", repr(cell), "finite")


def test_csv_non_finite_label(tmp_path):
    refused(write(tmp_path, "a,y\n1,2\n2,3\n3,inf\n"), "line 4", "column 'y'", "finite")


def test_csv_ragged_row(tmp_path):
    refused(write(tmp_path, "a,b,y\n1,2,0\n3,4\n"), "line 3 has 2 cells, expected 3")
    refused(write(tmp_path, "1,2,0\n3,4,1,9\n", "n.csv"), "line 2 has 4 cells, expected 3")


@pytest.mark.parametrize("text", ["", "\n\n", "   \n"])
def test_csv_empty_file(tmp_path, text):
    refused(write(tmp_path, text), "empty")


def test_csv_header_only(tmp_path):
    refused(write(tmp_path, "a,b,y\n\n"), "no data rows")


def test_csv_one_class(tmp_path):
    refused(write(tmp_path, "a,y\n1,cat\n2,cat\n"), "column 'y'", "only one class", "'cat'")


def test_csv_three_text_classes(tmp_path):
    refused(write(tmp_path, "a,y\n1,cat\n2,dog\n3,cow\n"), "column 'y'", "3 text classes", "binary")


def test_csv_empty_label(tmp_path):
    refused(write(tmp_path, "a,y\n1,cat\n2,\n3,dog\n"), "line 3", "column 'y'", "empty label")


def test_csv_missing_label_column(tmp_path):
    p = write(tmp_path, "a,b,y\n1,2,0\n3,4,1\n")
    refused(p, "'target' not found", "available columns: a, b, y", label="target")


def test_csv_header_problems(tmp_path):
    refused(write(tmp_path, "a,,y\n1,2,0\n3,4,1\n"), "line 1", "column 2 has no name")
    refused(write(tmp_path, "a,a,y\n1,2,0\n3,4,1\n", "dup.csv"), "line 1", "'a' appears twice")


def test_csv_too_few_and_too_many_columns(tmp_path):
    refused(write(tmp_path, "1\n2\n"), "at least 2 columns")
    row = ",".join(["1"] * (data.MAX_FEATURES + 1))
    refused(write(tmp_path, f"{row},0\n{row},1\n", "wide.csv"), f"{data.MAX_FEATURES + 1} feature columns")


def test_csv_missing_file_and_directory(tmp_path):
    refused(tmp_path / "nope.csv", "nope.csv", "not found")
    refused(tmp_path, "directory")


def test_csv_not_utf8(tmp_path):
    p = write(tmp_path, b"a,b,y\n1,2,0\n3,4,\xe9t\xe9\n")
    refused(p, "line 3", "UTF-8")
    refused(write(tmp_path, "a,y\n1,caf\u00e9\n2,th\u00e9\n", "latin.csv", "latin-1"), "line 2", "UTF-8")


def test_a_device_file_is_refused_without_reading_it():
    with pytest.raises(DataError, match="not a regular file"):
        load_csv("/dev/zero")


# --- issue 10: CSV files as other tools write them, and as attackers do ---------

class CountingName(str):
    """A column name that counts how often it is compared: a set lookup hashes, a list search compares."""
    compares = 0

    def __eq__(self, other):
        CountingName.compares += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def test_duplicate_column_check_is_linear():
    names = [CountingName(f"c{i}") for i in range(2_000)]
    CountingName.compares = 0
    assert data._header_names("d.csv", 1, names, 0) == names
    assert CountingName.compares <= len(names)  # a search of the names before would make 2,000,000


def test_wide_header_refused_by_its_width_before_names_are_compared(tmp_path):
    names = [f"c{i}" for i in range(5_000)] + ["c0"]  # a duplicate too, found only by comparing
    p = write(tmp_path, ",".join(names) + "\n" + ",".join(["1"] * len(names)) + "\n")
    refused(p, f"5000 feature columns; the limit is {data.MAX_FEATURES}")


@pytest.mark.parametrize("text,features", [
    (",a,b,y\n0,1,2,0\n1,3,4,1\n2,5,6,0\n", ["a", "b"]),                        # pandas' to_csv()
    ('"","a","b","y"\n"1",1,2,0\n"2",3,4,1\n"3",5,6,0\n', ["a", "b"]),          # R's write.csv()
    ("idx,a,b,y\n0,1,2,0\n1,3,4,1\n2,5,6,0\n", ["idx", "a", "b"]),              # a named column is data
])
def test_csv_unnamed_index_column_is_dropped(tmp_path, text, features):
    ds = load_csv(write(tmp_path, text))
    assert ds.features == features and ds.source["columns"] == features + ["y"]
    assert np.array_equal(ds.X[:, -2:], [[1, 2], [3, 4], [5, 6]]) and np.array_equal(ds.y, [0, 1, 0])


@pytest.mark.parametrize("sep", [";", "\t", ","])
def test_csv_separator_is_detected(tmp_path, sep):
    text = sep.join(["a", "b", "kind"]) + "\n" + "\n".join(
        sep.join(r) for r in [["1", "-2.5", "cat"], ["3e1", "4", "dog"], ["5", '"6"', "cat"]]) + "\n"
    ds = load_csv(write(tmp_path, text))
    assert ds.features == ["a", "b"] and ds.classes == ["cat", "dog"]
    assert np.array_equal(ds.X, [[1, -2.5], [30, 4], [5, 6]])


def test_csv_separator_inside_quotes_is_not_counted(tmp_path):
    ds = load_csv(write(tmp_path, '"x;1","x;2",y\n1,2,0\n3,4,1\n'))
    assert ds.features == ["x;1", "x;2"]


def test_csv_decimal_commas_are_named(tmp_path):
    p = write(tmp_path, "a;b;y\n1,5;2;0\n3;4;1\n")
    refused(p, "line 2, column 'a': '1,5' is not a number (write decimals with a point: 1.5, not 1,5)")
    p = write(tmp_path, "2;1,5;0\n3;4,5;1\n", "noheader.csv")  # as many commas as semicolons
    refused(p, "line 1, column 'x2': '1,5' is not a number (write decimals with a point")


def test_csv_one_column_message_names_the_separators(tmp_path):
    refused(write(tmp_path, "a|b|y\n1|2|0\n"), "found 1 (columns are separated by commas, semicolons or tabs)")


@pytest.mark.parametrize("cell", ["\u0661\u0662", "\uff11\uff12", "1_000", "\u0967", "\U0001d7d9"])
def test_csv_numbers_are_ascii_decimal_only(tmp_path, cell):
    assert float(cell) > 0  # Python itself would read it
    p = write(tmp_path, f"a,b,y\n1,2,0\n3,{cell},1\n")
    refused(p, f"line 3, column 'b': {cell!r} is not a number (numbers are read in ASCII decimal notation only")


def test_csv_unicode_digits_make_a_header_not_data(tmp_path):
    ds = load_csv(write(tmp_path, "\uff11,\uff12,y\n1,2,0\n3,4,1\n"))
    assert ds.features == ["\uff11", "\uff12"] and len(ds) == 2


def test_csv_symbolic_link_problems_are_named(tmp_path):
    os.symlink(tmp_path / "b.csv", tmp_path / "a.csv")
    os.symlink(tmp_path / "a.csv", tmp_path / "b.csv")
    refused(tmp_path / "a.csv", "a.csv: symbolic link loop")
    os.symlink(tmp_path / "gone.csv", tmp_path / "c.csv")
    refused(tmp_path / "c.csv", "c.csv: broken symbolic link")


def test_csv_unreadable_file_is_a_data_error(tmp_path, monkeypatch):
    p = write(tmp_path, "a,y\n1,0\n2,1\n")
    real_open = open

    def denied(file, *args, **kwargs):  # as chmod 0 would, for a user who is not root (CI runs as root)
        if os.fspath(file) == os.fspath(p):
            raise PermissionError(13, "Permission denied", os.fspath(p))
        return real_open(file, *args, **kwargs)
    monkeypatch.setattr("builtins.open", denied)
    refused(p, "cannot read: Permission denied")


def test_csv_unclosed_quote_is_named_where_it_opened(tmp_path):
    refused(write(tmp_path, 'a,b,y\n1,2,0\n3,"4,1\n5,6,0\n7,8,1\n'), "line 3: the quote opened here is never closed")
    long = 'a,y\n1,0\n2,"1\n' + ("3,0\n" * 40_000)  # runs past the csv module's cell limit
    refused(write(tmp_path, long, "long.csv"), "line 3: the quote opened here is not closed within 131,072 characters")


def test_csv_quoted_line_breaks_and_lines_after_them(tmp_path):
    p = write(tmp_path, 'a,y\n1,"cat\nsat"\n2,dog\nx,cat\n')
    refused(p, "line 5, column 'a': 'x' is not a number")  # lines count in the file, not in rows
    refused(write(tmp_path, 'a,y\n1,"x"z\n', "q.csv"), "line 2: ',' expected after '\"'")


def test_csv_nul_bytes_are_refused(tmp_path):
    refused(write(tmp_path, b"a,y\n1,0\n2\x00,1\n"), "line 3: holds a NUL byte")


def test_csv_bare_carriage_returns_end_lines(tmp_path):
    ds = load_csv(write(tmp_path, "a,y\r1,0\r2,1\r"))
    assert np.array_equal(ds.X[:, 0], [1, 2])
    refused(write(tmp_path, "a,y\r1,0\r2,1\rx,0\r", "cr.csv"), "line 4, column 'a': 'x' is not a number")


def test_csv_is_streamed_into_float_arrays(tmp_path):
    """Peak memory of a load: 8 bytes a number where the file spends ~19 (doubling the array
    costs a copy), so below the file's size; the text as lists of strings took 18 times the
    size. tracemalloc counts allocations, so this holds on any machine."""
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(16_384, 9))
    p = tmp_path / "big.csv"
    p.write_text("".join(",".join(map(repr, r)) + "\n" for r in rows.tolist()))
    load_csv(write(tmp_path, "a,y\n1,0.5\n2,1.5\n3,2\n", "warm.csv"))  # modules imported on first use
    tracemalloc.start()
    try:
        ds = load_csv(p)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert np.array_equal(ds.X, rows[:, :8]) and np.array_equal(ds.y, rows[:, 8])
    assert peak < p.stat().st_size, (peak, p.stat().st_size)


# --- the limits of docs/model-format.md, each at the limit and just past it ------------

def padded_row(size, cells, last="0"):
    """A row of exactly `size` bytes: `cells` cells, each spaces and a digit (cells are stripped)."""
    body = size - 1 - (cells - 1)  # the newline and the separators
    widths = [body // cells] * cells
    widths[0] += body % cells
    return ",".join(" " * (w - 1) + (last if i == cells - 1 else "1") for i, w in enumerate(widths)) + "\n"


def test_limit_file_size(tmp_path):
    row = padded_row(100_000, 2)
    head, rows = "a,y\n", 524
    tail = data.MAX_CSV_BYTES - len(head) - rows * len(row)
    p = write(tmp_path, head + row * rows + padded_row(tail, 2, last="1"))
    assert p.stat().st_size == data.MAX_CSV_BYTES
    assert len(load_csv(p)) == rows + 1
    with open(p, "ab") as f:
        f.write(b"\n")
    refused(p, "file is 50.0 MB (52,428,801 bytes); a CSV file is at most 50 MB")


def test_limit_file_size_is_checked_before_reading(tmp_path, monkeypatch):
    p = tmp_path / "big.csv"
    with open(p, "wb") as f:
        f.truncate(data.MAX_CSV_BYTES + 1)  # sparse: costs nothing on disk
    monkeypatch.setattr("builtins.open", lambda *a, **k: pytest.fail("opened"))
    refused(p, "a CSV file is at most 50 MB")


def test_limit_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "MAX_ROWS", 5)
    assert len(load_csv(write(tmp_path, "a,y\n" + "1,0\n2,1\n" * 2 + "3,0\n"))) == 5
    refused(write(tmp_path, "a,y\n" + "1,0\n2,1\n" * 3, "big.csv"), "more than 5 rows")
    refused(write(tmp_path, "1,0\n2,1\n" * 3, "nohead.csv"), "more than 5 rows")


def test_limit_columns(tmp_path):
    names = [f"f{i}" for i in range(data.MAX_FEATURES)]
    row = ",".join(["1"] * data.MAX_FEATURES)
    ds = load_csv(write(tmp_path, f",{','.join(names)},y\n0,{row},0\n1,{row},1\n"))  # and an index column
    assert ds.X.shape == (2, data.MAX_FEATURES)
    refused(write(tmp_path, f"{row},1,0\n{row},1,1\n", "wide.csv"), f"{data.MAX_FEATURES + 1} feature columns")


def test_limit_row_length(tmp_path):
    head = ",".join(f"f{i}" for i in range(8)) + ",y\n"
    short = ",".join(["2"] * 8) + ",1\n"
    ds = load_csv(write(tmp_path, head + padded_row(data.MAX_ROW_BYTES, 9) + short))
    assert np.array_equal(ds.X[0], [1] * 8)
    refused(write(tmp_path, head + padded_row(data.MAX_ROW_BYTES + 1, 9) + short, "long.csv"),
            "line 2: the row is longer than 1 MB")


def test_limit_cell_length(tmp_path):
    cell = " " * (131_072 - 1) + "5"
    ds = load_csv(write(tmp_path, f"a,y\n{cell},0\n2,1\n"))
    assert ds.X[0, 0] == 5
    refused(write(tmp_path, f"a,y\n {cell},0\n2,1\n", "long.csv"), "line 2: a cell is longer than 131,072 characters")
