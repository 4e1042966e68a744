"""Bounded records: a run of any length is held in a fixed number of evenly spaced rows."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from micrograd.history import TAPE_BYTES, TAPE_ENTRIES, Epoch, History, Tape, Thinned


def held_indices(t):
    return t.held()[:, 0].astype(int).tolist()


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(0, 40), max_size=40), capacity=st.sampled_from([2, 4, 8, 16]))
def test_thinning_keeps_evenly_spaced_rows_whatever_the_batches(sizes, capacity):
    t = Thinned(1, capacity)
    start = 0
    for k in sizes:
        t.extend(np.arange(start, start + k)[:, None])
        start += k
    assert t.count == start and t.n <= capacity
    if start:
        # every row held has an index that is a multiple of the stride, and every such index is held
        assert held_indices(t) == list(range(0, start, t.stride))
        assert t.points()[-1, 0] == start - 1  # the latest is always at hand
    one = Thinned(1, capacity)  # the same rows one at a time: the same result
    for i in range(start):
        one.extend([[i]])
    assert held_indices(one) == held_indices(t) and one.stride == t.stride


def test_a_long_run_costs_a_fixed_amount():
    t = Thinned(3, capacity=1000)
    for i in range(0, 1_000_000, 1000):
        t.extend(np.full((1000, 3), float(i)))
    assert t.n <= 1000 and t.rows.shape == (1000, 3) and t.stride == 1024
    assert t.count == 1_000_000


def test_capacity_must_be_even():
    with pytest.raises(ValueError):
        Thinned(1, 3)


def epoch(k, loss=1.0, stop=None):
    return Epoch(0, k, loss, None, 0.5, None, 0.1, 0.01 * k, stop)


def test_history_reads_like_a_list_of_epochs():
    h = History(capacity=8)
    assert not h and len(h) == 0
    for k in range(1, 6):
        h.append(epoch(k, loss=float(k)))
    assert [e.epoch for e in h] == [1, 2, 3, 4, 5] and h[-1] == epoch(5, 5.0)
    assert h[0] == epoch(1, 1.0) and h[1:3] == [epoch(2, 2.0), epoch(3, 3.0)]
    h.replace_last(epoch(5, 5.0, stop="stopped"))
    assert h[-1].stop == "stopped"
    for k in range(6, 101):
        h.append(epoch(k, loss=float("inf") if k == 100 else float(k)))
    assert len(h) <= 9 and h.count == 100
    assert h[0].epoch == 1 and h[-1].epoch == 100 and h[-1].train_loss == float("inf")
    epochs = [e.epoch for e in h]
    assert epochs == sorted(epochs) and len(set(np.diff(epochs[:-1]))) == 1  # evenly spaced
    assert h[1].test_loss is None  # missing values come back as None


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 5), st.integers(1, 3000), st.integers(1, 40_000))
def test_the_tape_keeps_evenly_spaced_epochs_within_its_bound(start, epochs, size):
    tape = Tape(size, start)
    theta = np.zeros(size)
    for e in range(start, start + epochs + 1):
        tape.record(e, theta + e, theta, None)
    kept = tape.epochs()
    assert len(kept) <= tape.capacity <= TAPE_ENTRIES and tape.nbytes <= TAPE_BYTES
    assert kept[0] == start and set(np.diff(kept)) <= {tape.stride}  # evenly spaced from the start
    assert kept[-1] > start + epochs - 2 * tape.stride  # up to the last stride
    e, w, _, _ = tape.at(start + epochs // 2)  # the latest kept at or before, with its own weights
    assert e <= start + epochs // 2 < e + tape.stride and w[0] == e


def test_a_tape_of_the_largest_network_holds_32_mib():
    size = 2 * 64 + 64 + 7 * (64 * 64 + 64) + 65  # 8 x 64
    tape = Tape(size)
    theta = np.zeros(size)
    for e in range(5000):
        tape.record(e, theta, theta)
    assert tape.capacity >= 64 and tape.capacity // 2 <= len(tape.entries) <= tape.capacity
    assert tape.nbytes <= TAPE_BYTES
