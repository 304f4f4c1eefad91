"""Models: shapes, parameter counts, the architecture table, representations, validation."""
import numpy as np
import pytest
import torch

from analysis.models import (
    MODEL_KINDS,
    Dropout,
    ModelConfig,
    architecture,
    build_model,
    count_parameters,
    default_config,
    feature_maps,
    first_layer_weights,
    representations,
)


@pytest.mark.parametrize("kind, image_shape, expected", [
    ("logreg", (28, 28), 7_850),
    ("mlp", (28, 28), 407_050),
    ("cnn", (28, 28), 160 + 4_640 + 15_690),
    ("logreg", (8, 8), 650),
])
def test_parameter_counts(kind, image_shape, expected):
    model = build_model(default_config(kind), image_shape, 10)
    assert count_parameters(model) == expected
    rows = architecture(model, image_shape)
    assert rows[0]["layer"] == "Input image"
    assert sum(r["parameters"] for r in rows) == expected
    assert rows[-1]["output shape"] == "10"
    assert all(set(r) == {"layer", "output shape", "parameters"} for r in rows)


def test_architecture_rows_for_cnn():
    rows = architecture(build_model(default_config("cnn")), (28, 28))
    assert [r["output shape"] for r in rows] == ["28×28", "16×28×28", "16×28×28", "16×14×14", "32×14×14",
                                                 "32×14×14", "32×7×7", "1568", "10"]
    assert rows[1]["layer"] == "conv block 1: Conv 3×3 (1 → 16 channels)"


def test_deeper_can_have_fewer_parameters():
    wide = build_model(ModelConfig(hidden=(512,)))
    deep = build_model(ModelConfig(hidden=(64, 64, 64)))
    assert count_parameters(deep) < count_parameters(wide)


@pytest.mark.parametrize("config, image_shape", [
    (ModelConfig("mlp", hidden=(8, 1024, 16, 32), activation="tanh", dropout=0.3), (28, 28)),
    (ModelConfig("mlp", activation="sigmoid"), (8, 8)),
    (ModelConfig("mlp", hidden=(64, 64), activation="none"), (8, 8)),
    (ModelConfig("cnn", channels=(8,), kernel_size=5), (28, 28)),
    (ModelConfig("cnn", channels=(4, 8, 16), kernel_size=7, dropout=0.5), (8, 8)),
    (ModelConfig("cnn", channels=(4, 4), kernel_size=1), (13, 17)),
    (ModelConfig("logreg"), (64, 48)),
])
def test_forward_shapes(config, image_shape):
    model = build_model(config, image_shape, n_classes=3)
    out = model(torch.rand(5, 1, *image_shape))
    assert out.shape == (5, 3)


@pytest.mark.parametrize("config, words", [
    (ModelConfig(kind="rnn"), "model kind must be one of"),
    (ModelConfig(hidden=()), "1 to 4 hidden layers"),
    (ModelConfig(hidden=(16,) * 5), "1 to 4 hidden layers"),
    (ModelConfig(hidden=(4,)), "units per hidden layer must be a whole number from 8 to 1024"),
    (ModelConfig(hidden=(2048,)), "units per hidden layer must be a whole number from 8 to 1024"),
    (ModelConfig(hidden=(12.5,)), "units per hidden layer must be a whole number from 8 to 1024"),
    (ModelConfig(activation="gelu"), "activation must be one of"),
    (ModelConfig(dropout=1.0), r"dropout \(a fraction\) must be a finite number at least 0 and below 1"),
    (ModelConfig("cnn", channels=(4, 4, 4, 4)), "1 to 3 conv blocks"),
    (ModelConfig("cnn", channels=(0,)), "channels per conv block must be a whole number from 1 to"),
    (ModelConfig("cnn", kernel_size=4), "kernel size must be one of"),
])
def test_config_refusals(config, words):
    with pytest.raises(ValueError, match=words):
        build_model(config)


def test_too_many_blocks_for_tiny_images():
    with pytest.raises(ValueError, match="too many for 4×4"):
        build_model(ModelConfig("cnn", channels=(4, 4, 4)), (4, 4))
    with pytest.raises(ValueError, match="must be one of 'logreg', 'mlp', 'cnn'"):
        default_config("svm")
    assert set(MODEL_KINDS) == {"logreg", "mlp", "cnn"}
    assert default_config("cnn") == ModelConfig(kind="cnn")


def test_seeded_initialisation():
    a, b, c = (build_model(default_config("cnn"), seed=s) for s in (3, 3, 4))
    torch.manual_seed(123)  # the global generator plays no part
    d = build_model(default_config("cnn"), seed=3)
    for pa, pb, pc, pd in zip(a.parameters(), b.parameters(), c.parameters(), d.parameters()):
        assert torch.equal(pa, pb) and torch.equal(pa, pd) and not torch.equal(pa, pc)


def test_dropout_with_generator_is_reproducible():
    layer = Dropout(0.5)
    x = torch.ones(1000)
    layer.generator = torch.Generator().manual_seed(0)
    first = layer(x)
    layer.generator = torch.Generator().manual_seed(0)
    assert torch.equal(first, layer(x))
    assert set(first.unique().tolist()) == {0.0, 2.0}
    assert torch.equal(layer.eval()(x), x)


@pytest.mark.parametrize("config, keys", [
    (default_config("logreg"), ["pixels", "logits", "probabilities"]),
    (ModelConfig(hidden=(32, 16)), ["pixels", "hidden layer 1 (32 units)", "hidden layer 2 (16 units)",
                                    "logits", "probabilities"]),
    (default_config("cnn"), ["pixels", "conv block 1 (16×14×14)", "conv block 2 (32×7×7)",
                             "logits", "probabilities"]),
])
def test_representations(config, keys):
    model = build_model(config)
    images = np.random.default_rng(0).random((7, 28, 28), dtype=np.float32)
    reps = representations(model, images, batch_size=3)  # several batches
    assert list(reps) == keys
    assert all(v.dtype == np.float32 and v.ndim == 2 and len(v) == 7 for v in reps.values())
    assert reps["pixels"].shape == (7, 784) and reps["logits"].shape == (7, 10)
    assert np.allclose(reps["probabilities"].sum(1), 1, atol=1e-5)
    with torch.no_grad():
        direct = model(torch.from_numpy(images[:, None])).numpy()
    assert np.allclose(reps["logits"], direct, atol=1e-5)
    if config.kind == "mlp":
        assert (reps["hidden layer 1 (32 units)"] >= 0).all()  # after the ReLU


def test_first_layer_weights():
    assert first_layer_weights(build_model(default_config("logreg")), (28, 28)).shape == (10, 28, 28)
    assert first_layer_weights(build_model(ModelConfig(hidden=(20,)), (8, 8)), (8, 8)).shape == (20, 8, 8)
    assert first_layer_weights(build_model(ModelConfig("cnn", kernel_size=5))).shape == (16, 5, 5)


def test_feature_maps_are_the_first_conv_blocks_activations():
    model = build_model(ModelConfig(kind="cnn"), (28, 28), 10)
    image = np.random.default_rng(0).random((28, 28)).astype(np.float32)
    maps = feature_maps(model, image)
    assert maps.shape == (16, 28, 28) and (maps >= 0).all()  # ReLU, before pooling
    conv = model.conv1.conv
    want = torch.relu(conv(torch.from_numpy(image)[None, None]))[0].detach().numpy()
    np.testing.assert_allclose(maps, want, atol=1e-6)
    with pytest.raises(ValueError, match="convnet"):
        feature_maps(build_model(ModelConfig(kind="mlp")), image)
