"""Teach it our handwriting (analysis.finetune, the `finetune` task): the split by student and the shared
model left as it was."""
import numpy as np
import pytest

from analysis.compute import tasks
from analysis.datasets import load_dataset, split_dataset
from analysis.finetune import FinetuneConfig, TooFewDigits, checksum, finetune, split_by_student
from analysis.models import build_model, default_config


@pytest.fixture(scope="module")
def room():
    """60 MNIST test digits 'sent' by 9 students (uneven: 2 to 12 digits each)."""
    ds = load_dataset("mnist5k")
    test = split_dataset(ds, 0).test[:60]
    counts = [12, 10, 9, 8, 7, 5, 4, 3, 2]
    senders = np.repeat([f"s{i:02d}" for i in range(len(counts))], counts)
    return ds.images[test], ds.labels[test], senders


@pytest.mark.parametrize("seed", range(5))
def test_no_student_is_in_both_halves(room, seed):
    _, _, senders = room
    a, b = split_by_student(senders, seed)
    assert set(senders[a]).isdisjoint(senders[b])
    assert sorted(np.concatenate([a, b]).tolist()) == list(range(len(senders)))  # every digit, once
    assert abs(len(a) - len(b)) <= 12  # about even: at most one student's digits apart


def test_the_split_depends_on_the_seed_and_not_on_the_order():
    senders = np.repeat([f"s{i}" for i in range(10)], 4)  # equal counts: the shuffle decides
    halves = {frozenset(senders[split_by_student(senders, s)[0]]) for s in range(8)}
    assert len(halves) > 1
    order = np.random.default_rng(0).permutation(len(senders))
    a, _ = split_by_student(senders[order], 3)
    b, _ = split_by_student(senders, 3)
    assert set(senders[order][a]) == set(senders[b])


@pytest.mark.parametrize("senders", [["a"] * 12, ["a", "b"] * 4])
def test_too_few_students_or_digits_is_a_plain_message(senders):
    with pytest.raises(TooFewDigits, match="at least 10 digits from at least 2 students"):
        split_by_student(senders)


def test_a_copy_learns_and_the_shared_model_never_changes(room):
    images, labels, senders = room
    shared = build_model(default_config("mlp"), (28, 28), 10, seed=0)
    before = checksum(shared)
    ds = load_dataset("mnist5k")
    val = split_dataset(ds, 0).val[:300]
    seen = []
    out = finetune(shared, images, labels, senders, ds.images[val], ds.labels[val], FinetuneConfig(epochs=8),
                   on_epoch=lambda e, s: seen.append(e) is None)
    assert checksum(shared) == before
    assert checksum(out["model"]) != before
    assert seen == list(range(1, 9)) and out["epochs"] == 8
    assert out["train_n"] + out["test_n"] == len(labels)
    assert out["after"]["room"] > out["before"]["room"]  # an untrained net learns something from ~30 digits


def test_the_task_trains_a_copy_and_stops_when_asked(room):
    images, labels, senders = room
    shared = build_model(default_config("mlp"), (28, 28), 10, seed=0)
    before = checksum(shared)
    state = {k: v.detach().clone() for k, v in shared.state_dict().items()}
    reports = []
    out = tasks.InlineExecutor().run(
        "finetune", {"model_config": default_config("mlp"), "state": state, "image_shape": (28, 28),
                     "n_classes": 10, "images": images, "labels": labels, "senders": senders,
                     "config": FinetuneConfig(epochs=4)},
        on_progress=lambda *a: reports.append(a), should_stop=lambda: len(reports) >= 3)
    assert checksum(shared) == before
    assert out["epochs"] == 2 and "model" not in out  # stopped after the second epoch's report
    assert 0 <= out["after"]["mnist"] <= 1


@pytest.mark.parametrize("bad", [dict(epochs=0), dict(batch_size=2.5), dict(lr=0)])
def test_bad_settings_say_what_was_expected(bad):
    with pytest.raises(ValueError, match="Expected"):
        FinetuneConfig(**bad)
