"""Robustness (issue 19): each alteration changes the pixels and keeps the digit readable by a
reference classifier (directly, and after a round trip through its inverse where it has one);
the accuracy table, per-class accuracy and disagreements against plain loops."""
import numpy as np
import pytest

from analysis.datasets import Split, load_dataset, split_dataset
from analysis.explain import logits
from analysis.models import default_config
from analysis.robustness import (
    ALTERATIONS,
    ORIGINAL,
    alter,
    disagreements,
    per_class_accuracy,
    per_class_rows,
    robustness_table,
)
from analysis.train import TrainConfig, fit


@pytest.fixture(scope="module")
def mnist():
    return load_dataset("mnist5k")


@pytest.fixture(scope="module")
def split(mnist):
    full = split_dataset(mnist, seed=0)
    return Split(train=full.train, val=full.val[:100], test=full.test[:300])


@pytest.fixture(scope="module")
def reference(mnist, split):
    """The reference classifier: a CNN trained on the 3,600 training digits for 2 epochs (~5 s)."""
    return fit(mnist, default_config("cnn"), TrainConfig(epochs=2, device="cpu"), split=split).model


@pytest.fixture(scope="module")
def few(mnist, split, reference):
    """Two test digits per class that the reference reads right with the most confidence."""
    x, y = mnist.images[split.test], mnist.labels[split.test]
    z = logits(reference, x)
    right = np.flatnonzero(z.argmax(1) == y)
    margin = np.sort(z, 1)[:, -1] - np.sort(z, 1)[:, -2]
    pick = np.concatenate([right[y[right] == k][np.argsort(-margin[right[y[right] == k]])][:2] for k in range(10)])
    assert len(pick) == 20
    return x[pick], y[pick]


def shift_back(images):
    out = np.zeros_like(images)
    out[:, :, :-3] = images[:, :, 3:]
    return out


# The inverse that undoes each alteration (approximately); None: no inverse (read directly only).
INVERSE = {
    "thinner": lambda x: alter(x, "thicker"),
    "thicker": lambda x: alter(x, "thinner"),
    "rotate_minus_20": lambda x: alter(x, "rotate_plus_20"),
    "rotate_plus_20": lambda x: alter(x, "rotate_minus_20"),
    "shift_3px": shift_back,
    "blur": None,
    "noise": None,
}


@pytest.mark.parametrize("name", list(ALTERATIONS))
def test_alteration_changes_pixels_and_keeps_the_label_readable(name, few, reference):
    x, y = few
    before = x.copy()
    altered = alter(x, name)
    np.testing.assert_array_equal(x, before)  # the input is not modified
    assert altered.shape == x.shape and altered.dtype == np.float32
    assert altered.min() >= 0 and altered.max() <= 1
    assert np.abs(altered - x).mean() > 0.02  # the pixels changed
    read = (logits(reference, altered).argmax(1) == y).mean()
    assert read >= 0.6, f"{name}: the reference reads only {read:.0%} of the altered digits (chance: 10%)"
    if INVERSE[name] is not None:  # the round trip: altered, then undone
        back = INVERSE[name](altered)
        assert (logits(reference, back).argmax(1) == y).mean() >= 0.9
        assert np.abs(back - x).mean() < np.abs(altered - x).mean()
    else:
        assert read >= 0.9


def test_alteration_details():
    dot = np.zeros((1, 28, 28), np.float32)
    dot[0, 13:15, 22:24] = 1.0  # right of the centre
    rows = {n: np.unravel_index(alter(dot, n)[0].argmax(), (28, 28))[0] for n in ("rotate_plus_20", "rotate_minus_20")}
    assert rows["rotate_plus_20"] < 13 and rows["rotate_minus_20"] > 14  # +20° is counter-clockwise on screen
    np.testing.assert_array_equal(np.nonzero(alter(dot, "shift_3px")[0]), (np.array([13, 13, 14, 14]),
                                                                          np.array([25, 26, 25, 26])))
    np.testing.assert_array_equal(alter(dot, "noise", seed=3), alter(dot, "noise", seed=3))
    assert not np.array_equal(alter(dot, "noise", seed=3), alter(dot, "noise", seed=4))
    assert alter(dot, "noise").std() == pytest.approx(0.2 * np.sqrt(0.5), rel=0.25)  # half the noise is clipped
    assert alter(dot, "thinner").sum() == 0 and alter(dot, "thicker").sum() == 16  # 2×2 dot: gone / 4×4
    with pytest.raises(ValueError, match="Unknown alteration"):
        alter(dot, "flip")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        alter(dot * 255, "blur")


def test_table_per_class_and_disagreements_against_loops(mnist, split, reference):
    other = fit(mnist, default_config("logreg"), TrainConfig(epochs=1, device="cpu"),
                split=Split(split.train[:500], split.val, split.test)).model
    x, y = mnist.images[split.test[:120]], mnist.labels[split.test[:120]]
    calls = []
    table = robustness_table({"cnn": reference, "logreg": other}, x, y,
                             on_progress=lambda done, total: calls.append((done, total)))
    assert table.alterations == (ORIGINAL,) + tuple(ALTERATIONS) and not table.stopped
    assert calls[-1] == (16, 16) and len(calls) == 16
    for i, model in enumerate((reference, other)):
        for j, name in enumerate(table.alterations):
            batch = x if name == ORIGINAL else alter(x, name)
            pred = logits(model, batch).argmax(1)
            assert table.accuracy[i, j] == pytest.approx(np.mean(pred == y))
            np.testing.assert_array_equal(table.predictions[i, j], pred)
    acc = per_class_accuracy(table, 10)
    for k in range(10):
        assert acc[1, 3, k] == pytest.approx(np.mean(table.predictions[1, 3][y == k] == k))
    assert len(per_class_rows(table)) == 2 * 8 * 10 and len(table.rows()) == 16
    d = disagreements(table, "cnn", "logreg", "blur")
    j = table.alterations.index("blur")
    expected = [n for n in range(len(y)) if table.predictions[0, j, n] != table.predictions[1, j, n]]
    assert d.indices.tolist() == expected and d.share == pytest.approx(len(expected) / len(y))
    assert d.a_right == sum(table.predictions[0, j, n] == y[n] for n in expected)
    with pytest.raises(ValueError, match="two different models"):
        disagreements(table, "cnn", "cnn")


def test_stop_and_refusals(mnist, split, reference):
    x, y = mnist.images[split.test[:20]], mnist.labels[split.test[:20]]
    table = robustness_table({"cnn": reference}, x, y, on_progress=lambda done, total: done < 3)
    assert table.stopped and np.isnan(table.accuracy[0, 3]) and not np.isnan(table.accuracy[0, 2])
    with pytest.raises(ValueError, match="not computed"):
        disagreements(robustness_table({"a": reference, "b": reference}, x, y, on_progress=lambda d, t: False),
                      "a", "b", "blur")
    with pytest.raises(ValueError, match="no"):
        robustness_table({"cnn": reference}, x[:0], y[:0])
    with pytest.raises(ValueError, match="at least one model"):
        robustness_table({}, x, y)
    with pytest.raises(ValueError, match="Unknown alteration"):
        robustness_table({"cnn": reference}, x, y, alterations=["tilt"])
