"""Tests for analysis.replay: Procrustes, movement, a warm-started t-SNE that stays put on
unchanged features, replays (t-SNE and PCA) with progress and Stop, k-NN over training,
the CSV. Small data: a few hundred points."""
import numpy as np
import pytest
from sklearn.datasets import make_blobs

from analysis.datasets import load_dataset
from analysis.embedding import knn_accuracy, tsne
from analysis.models import ModelConfig
from analysis.recording import RecordConfig, Recording, fit_recorded
from analysis.replay import (
    ReplayConfig,
    frames_csv,
    knn_over_training,
    movement,
    neighbour_overlap,
    procrustes,
    replay,
    replay_key,
    warm_tsne,
)
from analysis.train import TrainConfig

FAST = ReplayConfig(perplexity=20.0, first_iter=250, step_iter=60)


@pytest.fixture(scope="module")
def recording():
    ds = load_dataset("digits")
    _, rec = fit_recorded(ds, ModelConfig(kind="mlp", hidden=(32,)), TrainConfig(epochs=3, seed=0, device="cpu"),
                          record=RecordConfig(n_points=150))
    return rec


@pytest.fixture(scope="module")
def blobs():
    x, y = make_blobs(n_samples=300, n_features=10, centers=5, cluster_std=2.0, random_state=0)
    return x.astype(np.float32), y


def _rotation(k, seed):
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(k, k)))
    return q


@pytest.mark.parametrize("k", [2, 3])
def test_procrustes_undoes_rotation_reflection_translation_and_scale(k):
    rng = np.random.default_rng(k)
    original = rng.normal(size=(60, k))
    turn = _rotation(k, 7)
    reflect = np.diag([-1.0] + [1.0] * (k - 1))
    assert np.linalg.det(turn @ reflect) * np.linalg.det(turn) < 0  # the copy is really reflected
    copy = 2.7 * original @ turn @ reflect + rng.normal(size=k) * 5
    np.testing.assert_allclose(procrustes(copy, original, scaling=True), original, atol=1e-9)
    unscaled = procrustes(original @ turn @ reflect + 3.0, original)
    np.testing.assert_allclose(unscaled, original, atol=1e-9)
    shrunk = procrustes(0.5 * original @ turn, original)  # without scaling the size stays
    assert np.isclose(np.linalg.norm(shrunk - shrunk.mean(0)), 0.5 * np.linalg.norm(original - original.mean(0)))


def test_procrustes_refuses_mismatched_points():
    with pytest.raises(ValueError, match="same shape"):
        procrustes(np.zeros((5, 2)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="finite"):
        procrustes(np.full((5, 2), np.nan), np.zeros((5, 2)))


def test_movement_ignores_rotation_reflection_and_zoom():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(100, 2))
    assert movement(a, 3 * a @ _rotation(2, 2) @ np.diag([1.0, -1.0]) + 4) < 1e-9
    assert movement(a, rng.normal(size=(100, 2))) > 0.5  # unrelated maps move a lot


def test_warm_started_tsne_of_unchanged_features_stays_put(blobs):
    x, _ = blobs
    first = tsne(x, perplexity=20, n_iter=500, random_state=0, device="cpu")
    again = warm_tsne(x, first, perplexity=20, n_iter=150, seed=0)
    fresh = tsne(x, perplexity=20, n_iter=500, random_state=1, device="cpu")
    assert movement(first, again) < 0.05
    assert movement(first, fresh) > 5 * movement(first, again)  # a fresh map would move far more


def test_neighbour_overlap_against_scikit_learns_neighbours(blobs):
    from sklearn.neighbors import NearestNeighbors

    x, _ = blobs
    assert neighbour_overlap(x, x) == 1.0
    assert neighbour_overlap(x, 3 * x @ _rotation(10, 0) + 1) == pytest.approx(
        1.0
    )  # distances kept: the same neighbours
    rng = np.random.default_rng(0)
    assert neighbour_overlap(x, rng.normal(size=x.shape)) < 0.1  # unrelated: about 10/300
    y = x + rng.normal(scale=1.0, size=x.shape)
    near = [NearestNeighbors(n_neighbors=11).fit(v).kneighbors(v, return_distance=False)[:, 1:] for v in (x, y)]
    expected = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(*near)])
    assert neighbour_overlap(x, y) == pytest.approx(expected)


def test_a_reorganised_layer_gets_a_gentle_exaggeration_first(recording, monkeypatch):
    """Frame 1 of a layer that reorganised (its neighbourhoods replaced) starts with REORGANISE_STEPS;
    frames whose neighbourhoods stayed do not."""
    from analysis import replay as replay_module

    calls = []
    real = replay_module.warm_tsne
    monkeypatch.setattr(replay_module, "warm_tsne", lambda *a, reorganise=False, **k: calls.append(reorganise) or real(
        *a, reorganise=reorganise, **k))
    rng = np.random.default_rng(0)
    layers = {"logits": recording.layers["logits"].copy()}
    layers["logits"][1] = rng.normal(size=layers["logits"][1].shape).astype(np.float16)  # frame 1: a new layout
    layers["logits"][2] = layers["logits"][1]  # frame 2: the same as frame 1
    changed = Recording(epochs=recording.epochs, total_epochs=recording.total_epochs, indices=recording.indices,
                        labels=recording.labels, images=recording.images, pixels=recording.pixels, layers=layers)
    replay(changed, "logits", FAST)
    assert calls[:2] == [True, False]


def test_tsne_replay_frames_trust_and_progress(recording):
    layer = "hidden layer 1 (32 units)"
    seen = []
    result = replay(recording, layer, FAST, on_progress=lambda f, total, coords: seen.append((f, total, len(coords))))
    assert seen == [(1, 4, 1), (2, 4, 2), (3, 4, 3), (4, 4, 4)]
    assert result.complete and result.status == "all 4 frames" and result.epochs == (0, 1, 2, 3)
    assert result.coords.shape == (4, 150, 2) and result.coords.dtype == np.float32
    assert len(result.trust) == 4 and all(0.8 < t <= 1 for t in result.trust)
    (x0, x1), (y0, y1) = result.extent()
    assert x0 <= result.coords[..., 0].min() and x1 >= result.coords[..., 0].max() and y0 < y1
    moves = [movement(a, b) for a, b in zip(result.coords, result.coords[1:])]
    assert max(moves) < 0.5  # each frame starts from the last one


def test_stop_keeps_the_frames_so_far_as_a_complete_result(recording):
    result = replay(recording, "logits", FAST, on_progress=lambda f, total, coords: f < 2)
    assert result.stopped_at == 2 and not result.complete and result.status == "stopped at frame 2 of 4"
    assert result.coords.shape == (2, 150, 2) and result.epochs == (0, 1) and len(result.trust) == 2


def test_pca_replay_is_rotated_onto_the_previous_frame(recording):
    pixels = replay(recording, "pixels", ReplayConfig(method="pca"))
    for frame in pixels.coords[1:]:  # unchanged features: every frame identical
        np.testing.assert_allclose(frame, pixels.coords[0], atol=1e-4)
    hidden = replay(recording, "hidden layer 1 (32 units)", ReplayConfig(method="pca"))
    for prev, cur in zip(hidden.coords, hidden.coords[1:]):  # no better rotation or reflection is left
        assert np.linalg.norm(cur - prev) <= np.linalg.norm(procrustes(cur, prev) - prev) + 1e-4
        assert np.linalg.norm(cur - prev) <= np.linalg.norm(cur * [-1, 1] - prev) + 1e-4


def test_replay_refuses_what_it_cannot_replay(recording):
    one = Recording(epochs=(0,), total_epochs=3, indices=recording.indices, labels=recording.labels,
                    images=recording.images, pixels=recording.pixels,
                    layers={k: v[:1] for k, v in recording.layers.items()})
    with pytest.raises(ValueError, match="before its first epoch"):
        replay(one, "logits", FAST)
    with pytest.raises(ValueError, match="Unknown layer"):
        replay(recording, "hidden layer 9", FAST)
    with pytest.raises(ValueError, match="Unknown method"):
        replay(recording, "logits", ReplayConfig(method="umap"))
    with pytest.raises(ValueError, match="perplexity"):
        replay(recording, "logits", ReplayConfig(perplexity=60.0))
    dead = dict(recording.layers)
    dead["logits"] = dead["logits"].copy()
    dead["logits"][1] = 0
    dead_rec = Recording(epochs=recording.epochs, total_epochs=3, indices=recording.indices, labels=recording.labels,
                         images=recording.images, pixels=recording.pixels, layers=dead)
    with pytest.raises(ValueError, match="same output at epoch 1"):
        replay(dead_rec, "logits", FAST)


def test_knn_over_training(recording):
    knn = knn_over_training(recording)
    assert list(knn) == recording.layer_names
    assert all(len(v) == 4 and all(0 <= a <= 1 for a in v) for v in knn.values())
    assert len(set(knn["pixels"])) == 1
    expected = knn_accuracy(recording.features("logits", 2), recording.labels, k=5, random_state=0)
    assert knn["logits"][2] == expected
    assert knn["logits"][3] > knn["logits"][0]  # trained logits separate the digits better than random ones


def test_frames_csv_and_key(recording):
    result = replay(recording, "logits", ReplayConfig(method="pca"))
    lines = frames_csv(result, recording, class_names=[str(i) for i in range(10)]).splitlines()
    assert lines[0] == "frame,epoch,point,index,label,x,y" and len(lines) == 1 + 4 * 150
    frame, epoch, point, index, label, x, y = lines[1 + 150 * 3 + 7].split(",")
    assert (frame, epoch, point, index, label) == ("3", "3", "7", str(recording.indices[7]), str(recording.labels[7]))
    assert np.isclose(float(x), result.coords[3, 7, 0], rtol=1e-4, atol=1e-6)
    assert replay_key("abc", "logits") == replay_key("abc", "logits")
    assert replay_key("abc", "logits") != replay_key("abc", "logits", ReplayConfig(method="pca"))
