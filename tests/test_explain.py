"""Explanations (issue 18): Integrated Gradients' completeness, IG = weight × pixel for logistic
regression, occlusion on a model that reads one pixel (and against Captum's own Occlusion), the
randomised-weights sanity check, the deletion curve, nearest examples against brute force."""
import numpy as np
import pytest
import torch
from torch import nn

from analysis.datasets import Split, load_dataset, split_dataset
from analysis.explain import (
    ExplainConfig,
    explain,
    integrated_gradients,
    is_linear,
    occlusion,
    occlusion_maps,
    output_change,
    weight_times_pixel,
)
from analysis.explain_checks import (
    SANITY_THRESHOLD,
    deletion_curve,
    ink_mask,
    randomized_copy,
    rank_correlation,
    sanity_check,
    sanity_verdict,
)
from analysis.models import default_config, representations
from analysis.nearest import nearest_examples, neighbour_index
from analysis.train import TrainConfig, fit


@pytest.fixture(scope="module")
def mnist():
    return load_dataset("mnist5k")


@pytest.fixture(scope="module")
def split(mnist):
    full = split_dataset(mnist, seed=0)
    return Split(train=full.train[:1000], val=full.val[:200], test=full.test[:200])


@pytest.fixture(scope="module")
def models(mnist, split):
    """The three kinds, trained once on 1,000 digits for 2 epochs (a few seconds)."""
    config = TrainConfig(epochs=2, device="cpu")
    return {kind: fit(mnist, default_config(kind), config, split=split).model for kind in ("logreg", "mlp", "cnn")}


def test_integrated_gradients_completeness(mnist, split, models):
    for kind in ("mlp", "cnn"):
        for i in split.test[:3]:
            x = mnist.images[i]
            for target, contrast in ((int(mnist.labels[i]), None), (int(mnist.labels[i]), (mnist.labels[i] + 1) % 10)):
                attr = integrated_gradients(models[kind], x, target, contrast)
                change = output_change(models[kind], x, target, contrast)
                assert abs(change) > 0.05  # a real change to explain
                assert abs(attr.sum(dtype=np.float64) - change) <= 0.01 * abs(change) + 1e-3, (kind, i, contrast)


def test_integrated_gradients_equal_weight_times_pixel_for_logistic_regression(mnist, split, models):
    model = models["logreg"]
    assert is_linear(model) and not is_linear(models["mlp"]) and not is_linear(models["cnn"])
    for i in split.test[:3]:
        x = mnist.images[i]
        ig = integrated_gradients(model, x, 7)
        wxp = weight_times_pixel(model, x, 7)
        assert np.abs(wxp).max() > 1e-3
        np.testing.assert_allclose(ig, wxp, atol=1e-5)
        np.testing.assert_allclose(integrated_gradients(model, x, 7, 1), weight_times_pixel(model, x, 7, 1), atol=1e-5)
        assert wxp.sum(dtype=np.float64) == pytest.approx(output_change(model, x, 7), abs=1e-4)
    with pytest.raises(ValueError, match="logistic regression"):
        weight_times_pixel(models["cnn"], mnist.images[0], 7)


class OnePixel(nn.Module):
    """Class 3's logit is 5 × pixel (r, c); every other logit is 0."""

    def __init__(self, r, c):
        super().__init__()
        self.r, self.c = r, c
        self.scale = nn.Parameter(torch.tensor(5.0))

    def forward(self, x):
        score = self.scale * x[:, 0, self.r, self.c]
        return torch.stack([score if k == 3 else torch.zeros_like(score) for k in range(10)], dim=1)


@pytest.mark.parametrize("r, c", [(13, 13), (6, 20), (0, 27)])
def test_occlusion_marks_the_one_pixel_a_model_reads(r, c):
    model = OnePixel(r, c)
    image = np.random.default_rng(r * 28 + c).uniform(0.2, 1.0, (28, 28)).astype(np.float32)
    heat = occlusion(model, image, 3)
    assert heat[r, c] == pytest.approx(heat.max()) and heat[r, c] == pytest.approx(5 * image[r, c], rel=1e-5)
    rows, cols = np.nonzero(heat >= 0.999 * heat.max())
    assert np.all(np.abs(rows - r) <= 1) and np.all(np.abs(cols - c) <= 1)  # that pixel, at the stride's resolution
    far = np.maximum(*np.abs(np.indices(heat.shape) - np.array([r, c])[:, None, None])) >= 4
    assert np.all(heat[far] == 0)
    assert np.all(occlusion(model, image, 5) == 0)  # class 5 reads nothing
    ig = integrated_gradients(model, image, 3)
    assert ig[r, c] == pytest.approx(5 * image[r, c], rel=1e-4) and np.count_nonzero(np.abs(ig) > 1e-6) == 1


def test_occlusion_matches_captum_unbatched(mnist, split, models):
    from captum.attr import Occlusion

    for kind, model in models.items():
        x = np.array(mnist.images[split.test[0]])
        maps = occlusion_maps(model, x)
        for target in (0, int(mnist.labels[split.test[0]])):
            ref = Occlusion(model).attribute(torch.from_numpy(x)[None, None], sliding_window_shapes=(1, 4, 4),
                                             strides=(1, 2, 2), baselines=0.0, target=target)
            np.testing.assert_allclose(maps[target], ref[0, 0].numpy(), atol=2e-5 * max(1, np.abs(maps).max()))
        np.testing.assert_allclose(occlusion(model, x, 2, 5), maps[2] - maps[5], atol=1e-6)


def test_randomised_weights_break_the_maps_but_noise_does_not(mnist, split, models):
    model = models["cnn"]
    before = [p.detach().clone() for p in model.parameters()]
    random_model = randomized_copy(model, seed=1)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # original untouched
    pairs = list(zip(model.parameters(), random_model.parameters()))
    assert all(a.shape == b.shape and not torch.equal(a, b) for a, b in pairs)
    rng = np.random.default_rng(0)
    for method in (occlusion, integrated_gradients):
        vs_random, vs_noisy = [], []
        for i in split.test[:5]:
            x = mnist.images[i]
            noisy = np.clip(x + rng.normal(0, 0.05, x.shape), 0, 1).astype(np.float32)
            target, ink = int(mnist.labels[i]), ink_mask(x)
            trained = method(model, x, target)
            vs_random.append(rank_correlation(trained, method(random_model, x, target), ink))
            vs_noisy.append(rank_correlation(trained, method(model, noisy, target), ink))
        assert np.mean(vs_random) < np.mean(vs_noisy), (method.__name__, vs_random, vs_noisy)
        assert np.mean(vs_noisy) > 0.7


def test_sanity_check_and_explain_together(mnist, split, models):
    x = mnist.images[split.test[1]]
    for kind, model in models.items():
        ex = explain(model, x)
        assert ex.target == int(ex.probabilities.argmax()) and ex.probabilities.sum() == pytest.approx(1.0)
        assert abs(ex.ig_sum - ex.output_change) <= 0.01 * abs(ex.output_change) + 1e-3
        assert (ex.weight_x_pixel is not None) == (kind == "logreg")
        check = sanity_check(model, x, ex)
        assert check.random_occlusion.shape == x.shape and -1 <= check.ig_correlation <= 1
        contrast = explain(model, x, target=3, contrast=8)
        np.testing.assert_allclose(contrast.occlusion, occlusion(model, x, 3) - occlusion(model, x, 8), atol=1e-5)


def test_rank_correlation():
    a = np.arange(16.0).reshape(4, 4)
    assert rank_correlation(a, a ** 2) == pytest.approx(1.0)
    assert rank_correlation(a, -a) == pytest.approx(1.0)  # of |map|
    assert rank_correlation(a, 16 - a) == pytest.approx(-1.0)
    assert rank_correlation(a, -a, signed=True) == pytest.approx(-1.0)
    assert np.isnan(rank_correlation(a, np.zeros((4, 4))))
    mask = np.zeros((4, 4), bool)
    mask[0] = True
    assert rank_correlation(a, np.where(mask, a, 99 - a), mask) == pytest.approx(1.0)


def test_sanity_verdict_fails_the_map_against_itself_and_its_negation(mnist, split, models):
    for i in split.test[:3]:
        x = mnist.images[i]
        ink, target = ink_mask(x), int(mnist.labels[i])
        for kind, model in models.items():
            for trained in (integrated_gradients(model, x, target), occlusion(model, x, target)):
                same = sanity_verdict(trained, trained, ink)
                assert not same.passed and same.abs_rho == pytest.approx(1.0) and same.signed_rho == pytest.approx(1.0)
                flipped = sanity_verdict(trained, -trained, ink)
                assert not flipped.passed and flipped.signed_rho == pytest.approx(-1.0), kind
                assert "flipped" in flipped.reason and f"{SANITY_THRESHOLD:g}" in flipped.reason


def test_sanity_verdict_passes_against_an_independent_random_models_map(mnist, split, models):
    model = models["mlp"]
    random_model = randomized_copy(model, seed=7)
    verdicts = []
    for i in split.test[:5]:
        x, target = mnist.images[i], int(mnist.labels[i])
        verdicts.append(sanity_verdict(integrated_gradients(model, x, target),
                                       integrated_gradients(random_model, x, target), ink_mask(x)))
    assert all(v.passed for v in verdicts), [(v.abs_rho, v.signed_rho) for v in verdicts]
    assert all(abs(v.abs_rho) < SANITY_THRESHOLD and abs(v.signed_rho) < SANITY_THRESHOLD for v in verdicts)
    assert "passes" == verdicts[0].words and "learned" in verdicts[0].reason


def test_sanity_verdict_edges():
    a = np.arange(16.0).reshape(4, 4)
    flat = sanity_verdict(a, np.zeros((4, 4)))
    assert not flat.passed and "flat" in flat.reason  # cannot be checked: not a pass
    rng = np.random.default_rng(0)
    b = rng.normal(size=(4, 4))
    assert sanity_verdict(a, b, threshold=1.0).passed != (abs(rank_correlation(a, b, signed=True)) >= 1.0)
    with pytest.raises(ValueError, match="threshold"):
        sanity_verdict(a, b, threshold=0)


def test_deletion_curve(mnist, split, models):
    model = models["cnn"]
    aucs, random_aucs = [], []
    for i in split.test[:5]:
        x, target = mnist.images[i], int(mnist.labels[i])
        curve = deletion_curve(model, x, occlusion(model, x, target), target)
        probs = torch.softmax(model(torch.from_numpy(np.array(x))[None, None]), 1)[0, target].item()
        assert curve.shares[0] == 0 and curve.shares[-1] == 1 and len(curve.shares) == 29
        assert curve.confidence[0] == pytest.approx(probs, abs=1e-5)
        assert curve.confidence[-1] == pytest.approx(curve.random_confidence[-1])  # all removed either way
        aucs.append(curve.auc)
        random_aucs.append(curve.random_auc)
    assert np.mean(aucs) < np.mean(random_aucs)  # the map's order removes what matters sooner


def test_nearest_examples_match_brute_force(mnist, split, models):
    train = split.train[:500]
    for kind, model in models.items():
        index = neighbour_index(model, mnist.images[train], mnist.labels[train], indices=train)
        reps = representations(model, mnist.images[train])
        layer = [k for k in reps if k not in ("logits", "probabilities")][-1]
        assert index.layer == layer and index.pixel_space == (kind == "logreg")
        for i in split.test[:3]:
            query = representations(model, mnist.images[i][None])[layer][0]
            brute = [float(np.sqrt(sum((float(a) - float(b)) ** 2 for a, b in zip(row, query)))) for row in reps[layer]]
            order = sorted(range(len(brute)), key=lambda j: brute[j])[:6]
            found = nearest_examples(index, model, mnist.images[i], k=6)
            assert list(found.indices) == [int(train[j]) for j in order]
            np.testing.assert_allclose(found.distances, [brute[j] for j in order], rtol=1e-4)
            np.testing.assert_array_equal(found.labels, mnist.labels[found.indices])


def test_refusals(mnist, models):
    model, x = models["mlp"], mnist.images[0]
    with pytest.raises(ValueError, match="shape"):
        explain(model, np.zeros((2, 28, 28)))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        explain(model, x * 255)
    with pytest.raises(ValueError, match="different class"):
        explain(model, x, target=3, contrast=3)
    with pytest.raises(ValueError, match="from 0 to 9"):
        occlusion(model, x, 10)
    with pytest.raises(ValueError, match="stride"):
        occlusion_maps(model, x, ExplainConfig(stride=0))
    with pytest.raises(ValueError, match="No training digits"):
        neighbour_index(model, np.zeros((0, 28, 28)), np.zeros(0))
