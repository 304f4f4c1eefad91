"""Tests for analysis.recording: what is recorded (shapes, epochs, a sample fixed across
epochs), that recording leaves training unchanged, the compact PCA, and the flat-dict
round trip for .safetensors. Small data: 8×8 digits, a 32-unit MLP, a few epochs."""
import numpy as np
import pytest
import torch
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

from analysis.datasets import load_dataset, split_dataset
from analysis.models import ModelConfig, build_model, representations
from analysis.randomized_pca import reduce_dims_warm
from analysis.recording import (
    TENSOR_PREFIX,
    RecordConfig,
    Recorder,
    fit_recorded,
    from_tensors,
    load_with_recording,
    recorded_epochs,
    reduce_dims,
    replay_unavailable,
    save_with_recording,
    split_tensors,
    to_tensors,
)
from analysis.train import TrainConfig, fit, save_weights

MC = ModelConfig(kind="mlp", hidden=(32, 16))
TC = TrainConfig(epochs=3, seed=1, device="cpu")
RC = RecordConfig(n_points=100)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def recorded(digits):
    return fit_recorded(digits, MC, TC, record=RC)


def test_recorded_epochs_all_or_evenly_spaced():
    assert recorded_epochs(10) == tuple(range(11))
    assert recorded_epochs(20) == tuple(range(21))
    many = recorded_epochs(50)
    assert len(many) == 21 and many[0] == 0 and many[-1] == 50
    assert set(np.diff(many[1:]).tolist()) <= {2, 3}  # evenly spaced, 2.5 epochs apart on average
    assert recorded_epochs(5, max_epochs=2) == (0, 3, 5)
    with pytest.raises(ValueError, match="at least 1 epoch"):
        recorded_epochs(0)


def test_shapes_epochs_and_sample(digits, recorded):
    trained, rec = recorded
    assert rec.epochs == (0, 1, 2, 3) and rec.total_epochs == 3 and not rec.stopped
    assert rec.layer_names == ["pixels", "hidden layer 1 (32 units)", "hidden layer 2 (16 units)", "logits",
                               "probabilities"]
    widths = {"hidden layer 1 (32 units)": 32, "hidden layer 2 (16 units)": 16, "logits": 10, "probabilities": 10}
    for name, frames in rec.layers.items():
        assert frames.dtype == np.float16 and frames.shape == (4, 100, widths[name])
    assert rec.pixels.dtype == np.float16 and rec.pixels.shape == (100, 50)  # 64 pixels -> 50 dims
    assert rec.images.dtype == np.uint8 and rec.images.shape == (100, 8, 8)
    split = trained.split
    assert set(rec.indices.tolist()) <= set(split.test.tolist()) and len(set(rec.indices.tolist())) == 100
    assert np.array_equal(rec.labels, digits.labels[rec.indices])
    assert np.bincount(rec.labels, minlength=10).min() >= 9  # stratified: every digit about 10 times
    assert np.abs(rec.images / 255.0 - digits.images[rec.indices]).max() <= 0.5 / 255 + 1e-6
    assert rec.nbytes == sum(a.nbytes for a in (rec.indices, rec.labels, rec.images, rec.pixels, *rec.layers.values()))


def test_frames_are_the_model_at_that_epoch_on_the_same_sample(digits, recorded):
    trained, rec = recorded
    images = digits.images[rec.indices]
    first = representations(build_model(MC, digits.image_shape, digits.n_classes, seed=TC.seed), images)
    last = representations(trained.model, images)
    for name in rec.layers:  # widths <= 50: stored as they are, in float16
        np.testing.assert_allclose(rec.features(name, 0), first[name], rtol=2e-3, atol=2e-3)
        np.testing.assert_allclose(rec.features(name, 3), last[name], rtol=2e-3, atol=2e-3)
    assert not np.allclose(rec.features("logits", 0), rec.features("logits", 3), atol=0.05)  # it learned
    pixels = reduce_dims(images.reshape(len(images), -1), 50, RC.seed)
    np.testing.assert_allclose(rec.features("pixels", 2), pixels, atol=2e-3)


def test_recording_leaves_training_unchanged(digits, recorded):
    trained, _ = recorded
    plain = fit(digits, MC, TC)
    for a, b in zip(plain.history.rows, trained.history.rows):
        assert a["train_loss"] == b["train_loss"] and a["val_accuracy"] == b["val_accuracy"]
    assert plain.test_accuracy == trained.test_accuracy


def test_at_most_max_epochs_and_stop_keeps_where_it_stopped(digits):
    tc = TrainConfig(epochs=5, seed=0, device="cpu")
    _, rec = fit_recorded(digits, MC, tc, record=RecordConfig(n_points=50, max_epochs=2))
    assert rec.epochs == (0, 3, 5) and rec.layers["logits"].shape[0] == 3
    _, stopped = fit_recorded(digits, MC, tc, on_epoch=lambda epoch, row: epoch < 2,
                              record=RecordConfig(n_points=50, max_epochs=2))
    assert stopped.epochs == (0, 2) and stopped.stopped and replay_unavailable(stopped) is None


def test_why_a_replay_is_not_available(digits):
    assert "no recording" in replay_unavailable(None)
    recorder = Recorder(digits, split_dataset(digits, seed=0), TrainConfig(epochs=2), RecordConfig(n_points=30))
    assert recorder.snapshot() is None
    with pytest.raises(ValueError, match="start"):
        recorder.on_epoch(1, {})
    recorder.start(build_model(MC, digits.image_shape, digits.n_classes))
    assert "before its first epoch" in replay_unavailable(recorder.snapshot())


def test_reduce_dims_keeps_the_top_principal_components():
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(400, 30)) * np.linspace(5, 0.1, 30)) @ rng.normal(size=(30, 300))
    x = (x + rng.normal(scale=0.05, size=x.shape)).astype(np.float32)
    z = reduce_dims(x, 20, seed=3)
    assert z.shape == (400, 20)
    centred = x - x.mean(0)
    exact = np.sort(np.linalg.eigvalsh(centred.T.astype(np.float64) @ centred))[::-1][:20].sum()
    assert (z.astype(np.float64) ** 2).sum() >= 0.99 * exact  # the variance the exact top 20 keep
    assert np.array_equal(z, reduce_dims(x, 20, seed=3))  # seeded: repeatable
    small = rng.normal(size=(40, 10)).astype(np.float32)
    assert np.array_equal(reduce_dims(small, 50), small)


def _top_variance(x: np.ndarray, k: int) -> float:
    centred = (x - x.mean(0)).astype(np.float64)
    return float(np.sort(np.linalg.eigvalsh(centred.T @ centred))[::-1][:k].sum())


def test_warm_start_follows_a_drifting_layer():
    rng = np.random.default_rng(1)
    mix, scale = rng.normal(size=(60, 200)), np.linspace(4, 0.5, 60)
    x = (rng.normal(size=(500, 60)) * scale) @ mix
    start = None
    for epoch in range(4):  # the layer drifts a little every epoch, as in training
        x = x + 0.3 * (rng.normal(size=(500, 60)) * scale) @ mix + rng.normal(scale=0.05, size=x.shape)
        z, start = reduce_dims_warm(x.astype(np.float32), 20, seed=0, start=start)
        assert start.shape == (200, 30) and z.shape == (500, 20)
        assert (z.astype(np.float64) ** 2).sum() >= 0.998 * _top_variance(x, 20), epoch  # as good as a cold start
    # one pass from an unrelated subspace keeps ~95%: the previous epoch's basis is what carries it
    unrelated = torch.linalg.qr(torch.randn(200, 30, generator=torch.Generator().manual_seed(0)))[0]
    lost, _ = reduce_dims_warm(x.astype(np.float32), 20, start=unrelated)
    assert (lost.astype(np.float64) ** 2).sum() < 0.98 * _top_variance(x, 20)
    cold, basis = reduce_dims_warm(x.astype(np.float32), 20, seed=3, start=torch.zeros(5, 5))  # wrong shape: cold
    assert np.array_equal(cold, reduce_dims(x.astype(np.float32), 20, seed=3)) and basis.shape == (200, 30)


def test_snapshots_share_their_frames_and_keep_them(digits):
    wide = ModelConfig(kind="mlp", hidden=(64,))
    recorder = Recorder(digits, split_dataset(digits, seed=0), TrainConfig(epochs=3), RecordConfig(n_points=60))
    model = build_model(wide, digits.image_shape, digits.n_classes, seed=0)
    recorder.start(model)
    first = recorder.snapshot()
    frozen = {name: frames.copy() for name, frames in first.layers.items()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.5)
    recorder.on_epoch(1, {})
    second = recorder.snapshot()
    assert first.epochs == (0,) and second.epochs == (0, 1) and second.images is first.images
    for name, frames in second.layers.items():
        assert frames.shape[0] == 2 and not frames.flags.writeable and not first.layers[name].flags.writeable
        assert np.shares_memory(frames, first.layers[name])  # no copy per epoch
        assert np.array_equal(first.layers[name], frozen[name]) and np.array_equal(frames[0], frozen[name][0])
    assert not np.allclose(second.features("logits", 0), second.features("logits", 1), atol=1e-3)
    exact = representations(model, digits.images[recorder.indices])["hidden layer 1 (64 units)"]
    warm = second.features("hidden layer 1 (64 units)", 1)  # 64 units -> 50 dims, warm-started from frame 0
    assert warm.shape == (60, 50) and (warm.astype(np.float64) ** 2).sum() >= 0.99 * _top_variance(exact, 50)


def test_flat_dict_round_trip_through_safetensors(recorded):
    _, rec = recorded
    tensors = to_tensors(rec)
    assert all(k.startswith(TENSOR_PREFIX) for k in tensors)
    loaded = st_load(st_save({**tensors, "output.weight": np.ones((2, 2), np.float32)}))
    weights, rec_part = split_tensors(loaded)
    assert list(weights) == ["output.weight"] and set(rec_part) == set(tensors)
    back = from_tensors(loaded)
    assert back.epochs == rec.epochs and back.total_epochs == rec.total_epochs
    assert list(back.layers) == list(rec.layers)  # order kept
    for a, b in [(back.indices, rec.indices), (back.labels, rec.labels), (back.images, rec.images),
                 (back.pixels, rec.pixels), *zip(back.layers.values(), rec.layers.values())]:
        assert a.dtype == b.dtype and np.array_equal(a, b)
    assert from_tensors({"output.weight": np.ones(2, np.float32)}) is None


@pytest.mark.parametrize("damage, match", [
    (lambda t: t.pop(TENSOR_PREFIX + "labels"), "missing"),
    (lambda t: t.__setitem__(TENSOR_PREFIX + "images", t[TENSOR_PREFIX + "images"].astype(np.float32)), "uint8"),
    (lambda t: t.__setitem__(TENSOR_PREFIX + "epochs", np.array([1, 2, 3, 4], np.int64)), "epochs"),
    (lambda t: t.__setitem__(TENSOR_PREFIX + "labels", t[TENSOR_PREFIX + "labels"][:50]), "disagree"),
    (lambda t: t.__setitem__(next(k for k in t if ".layer." in k), np.zeros((2, 100, 5), np.float16)), "shape"),
])
def test_a_damaged_recording_is_refused(recorded, damage, match):
    tensors = to_tensors(recorded[1])
    damage(tensors)
    with pytest.raises(ValueError, match=match):
        from_tensors(tensors)


def test_weights_file_with_its_recording(recorded):
    trained, rec = recorded
    data = save_with_recording(trained, rec)
    assert len(data) > len(save_weights(trained)) + rec.nbytes - 1000
    model, back = load_with_recording(data)
    assert back.epochs == rec.epochs and np.array_equal(back.layers["logits"], rec.layers["logits"])
    assert model.model_config == trained.model_config and model.val_accuracy == trained.val_accuracy
    for k, v in trained.model.state_dict().items():
        assert np.array_equal(model.model.state_dict()[k].numpy(), v.numpy())
    plain, none = load_with_recording(save_with_recording(trained, None))
    assert none is None and plain.test_accuracy == trained.test_accuracy
    with pytest.raises(ValueError, match="pickle"):
        load_with_recording(b"\x80\x04" + b"\x00" * 40)
    header = int.from_bytes(data[:8], "little")
    with pytest.raises(ValueError):
        load_with_recording(data[:8 + header + 10])  # truncated
