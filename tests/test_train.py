"""Training: the loop, reproducibility, Stop, limits, the shared-work key, .safetensors, the CLI."""
import io
import json
import pickle
import threading

import numpy as np
import pytest
import torch
from safetensors.torch import save as st_save

from analysis.compute.cluster.train_cli import main
from analysis.datasets import Dataset, Split, load_dataset, split_dataset
from analysis.models import ModelConfig, build_model, default_config
from analysis.train import (
    LIMITS,
    TrainConfig,
    TrainedModel,
    fit,
    from_snapshot,
    job_key,
    load_weights,
    pick_device,
    predict_proba,
    save_weights,
    train,
)

SMALL_MLP = ModelConfig(hidden=(32,), dropout=0.2)
FAST = TrainConfig(epochs=2, batch_size=32, device="cpu")


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def small(digits):
    """300 training digits, 100 validation, 100 test (a custom split)."""
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(digits.labels))
    return Split(train=idx[:300], val=idx[300:400], test=idx[400:500])


def without_seconds(rows):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def test_loss_falls(digits, small):
    model = build_model(default_config("logreg"), digits.image_shape, 10)
    history = train(model, digits, small, TrainConfig(epochs=5, lr=1e-2, batch_size=32, device="cpu"))
    losses = [r["train_loss"] for r in history.rows]
    assert len(losses) == 5 and losses[-1] < losses[0] * 0.5
    assert history.rows[-1]["val_accuracy"] > 0.8 and not history.stopped
    assert set(history.rows[0]) == {"epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "seconds"}
    assert not model.training and next(model.parameters()).device.type == "cpu"


def test_same_seed_same_numbers(digits, small):
    a = fit(digits, SMALL_MLP, FAST, split=small)
    b = fit(digits, SMALL_MLP, FAST, split=small)
    c = fit(digits, SMALL_MLP, TrainConfig(epochs=2, batch_size=32, device="cpu", seed=1), split=small)
    assert without_seconds(a.history.rows) == without_seconds(b.history.rows)
    assert a.test_accuracy == b.test_accuracy
    for pa, pb in zip(a.model.parameters(), b.model.parameters()):
        assert torch.equal(pa, pb)
    assert without_seconds(a.history.rows) != without_seconds(c.history.rows)


def test_same_seed_same_numbers_in_two_threads(digits, small):
    """Two jobs at once in one process (the page's queue) stay reproducible."""
    alone = fit(digits, SMALL_MLP, FAST, split=small)
    results = [None, None]

    def job(i):
        results[i] = fit(digits, SMALL_MLP, FAST, split=small)

    threads = [threading.Thread(target=job, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        assert without_seconds(r.history.rows) == without_seconds(alone.history.rows)


def test_stop(digits, small):
    seen = []

    def on_epoch(epoch, row):
        seen.append((epoch, row["val_accuracy"]))
        return epoch < 2  # stop after epoch 2

    model = build_model(SMALL_MLP, digits.image_shape, 10)
    history = train(model, digits, small, TrainConfig(epochs=5, batch_size=32, device="cpu"), on_epoch)
    assert history.stopped and len(history.rows) == 2 and [e for e, _ in seen] == [1, 2]
    # None (no return) goes on; False after the last epoch is not a stop
    history = train(build_model(SMALL_MLP, digits.image_shape, 10), digits, small, FAST, lambda e, r: None)
    assert len(history.rows) == 2 and not history.stopped
    history = train(build_model(SMALL_MLP, digits.image_shape, 10), digits, small, FAST, lambda e, r: e < 2)
    assert len(history.rows) == 2 and not history.stopped


def test_stop_keeps_a_snapshot(digits, small):
    """The page's Stop: copy the weights every epoch, stop, rebuild the model from the copy."""
    model = build_model(SMALL_MLP, digits.image_shape, 10, seed=FAST.seed)
    config = TrainConfig(epochs=4, batch_size=32, device="cpu")
    snapshots = []

    def on_epoch(epoch, row):
        snapshots.append(({k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}, row))
        return epoch < 2

    trained = fit(digits, SMALL_MLP, config, on_epoch=on_epoch, split=small, model=model)
    assert trained.model is model and trained.history.stopped and len(trained.history.rows) == 2
    state, _ = snapshots[-1]
    kept = from_snapshot(digits, SMALL_MLP, config, small, state, [row for _, row in snapshots])
    assert kept.history.stopped and kept.history.rows == trained.history.rows
    assert kept.test_accuracy == trained.test_accuracy and kept.val_accuracy == trained.val_accuracy
    assert np.array_equal(predict_proba(kept.model, digits.images[:20]), predict_proba(model, digits.images[:20]))
    with pytest.raises(ValueError, match="at least one finished epoch"):
        from_snapshot(digits, SMALL_MLP, config, small, state, [])
    with pytest.raises(ValueError, match="do not fit"):
        from_snapshot(digits, ModelConfig(hidden=(64,)), config, small, state, [snapshots[0][1]])


def test_fit_defaults_on_digits(digits):
    trained = fit(digits, default_config("cnn"), TrainConfig(epochs=1, device="cpu"))
    assert isinstance(trained, TrainedModel) and trained.device == "cpu"
    assert trained.split is not None and len(trained.split.test) == 360
    assert trained.test_accuracy > 0.5 and trained.parameters == 160 + 4640 + 32 * 2 * 2 * 10 + 10
    assert trained.class_names == digits.class_names and trained.image_shape == (8, 8)
    probs = predict_proba(trained.model, digits.images[:5])
    assert probs.shape == (5, 10) and probs.dtype == np.float32 and np.allclose(probs.sum(1), 1, atol=1e-5)


def test_sgd_and_partial_batches(digits, small):
    model = build_model(default_config("logreg"), digits.image_shape, 10)
    history = train(model, digits, small, TrainConfig(optimizer="sgd", lr=0.5, batch_size=64, epochs=3,
                                                       device="cpu"))  # 300 = 4 × 64 + 44
    assert history.rows[-1]["train_loss"] < history.rows[0]["train_loss"]


@pytest.mark.parametrize("config, words", [
    (TrainConfig(epochs=0), "number of epochs must be a whole number from 1 to"),
    (TrainConfig(epochs=LIMITS["max_epochs"] + 1), "number of epochs"),
    (TrainConfig(lr=0), "learning rate"),
    (TrainConfig(batch_size=0), "batch size"),
    (TrainConfig(optimizer="rmsprop"), "optimizer must be one of"),
    (TrainConfig(device="tpu"), "device must be one of"),
    (TrainConfig(seed=-1), "seed"),
])
def test_train_config_refusals(digits, config, words):
    with pytest.raises(ValueError, match=words):
        fit(digits, default_config("logreg"), config)


def test_limits_and_mismatch(digits, small, monkeypatch):
    with pytest.raises(ValueError, match="take 8×8 images"):
        train(build_model(default_config("mlp")), digits, small, FAST)  # built for 28×28
    with pytest.raises(ValueError, match="3 outputs"):
        train(build_model(default_config("logreg"), (8, 8), 3), digits, small, FAST)
    monkeypatch.setitem(LIMITS, "max_samples", 1000)
    with pytest.raises(ValueError, match="at most 1,000 images"):
        fit(digits, default_config("logreg"), FAST)


def test_pick_device():
    assert pick_device("cpu") == (torch.device("cpu"), "you chose the CPU")
    device, reason = pick_device("auto")
    if not torch.cuda.is_available() and not torch.backends.mps.is_available():
        assert device.type == "cpu" and reason == "no GPU found, using the CPU"
        with pytest.raises(ValueError, match="has none"):
            pick_device("cuda")
    with pytest.raises(ValueError, match="device must be one of"):
        pick_device("gpu")


def test_job_key():
    mc, tc = ModelConfig(), TrainConfig()
    key = job_key("mnist5k", mc, tc)
    assert key == "7e7dad646b6f16ae"  # stable across processes and versions: change only on purpose
    assert len(key) == 16 and job_key("mnist5k", ModelConfig(), TrainConfig()) == key
    assert job_key("mnist5k", ModelConfig(hidden=[512]), TrainConfig(lr=0.001)) == key  # same values
    changed = [job_key("digits", mc, tc), job_key("mnist5k", ModelConfig(hidden=(256,)), tc),
               job_key("mnist5k", ModelConfig(activation="tanh"), tc), job_key("mnist5k", ModelConfig(dropout=0.1), tc),
               job_key("mnist5k", ModelConfig(kind="cnn"), tc), job_key("mnist5k", mc, TrainConfig(seed=1)),
               job_key("mnist5k", mc, TrainConfig(lr=0.01)), job_key("mnist5k", mc, TrainConfig(epochs=11)),
               job_key("mnist5k", mc, TrainConfig(batch_size=32)), job_key("mnist5k", mc, TrainConfig(optimizer="sgd")),
               job_key("mnist5k", mc, TrainConfig(device="cpu"))]
    assert len(set(changed + [key])) == len(changed) + 1
    # settings a kind does not use do not matter
    logreg = ModelConfig(kind="logreg")
    assert job_key("mnist5k", logreg, tc) == job_key("mnist5k", ModelConfig("logreg", hidden=(8,), channels=(4,)), tc)
    # an uploaded dataset is keyed by its content
    images, labels = np.zeros((4, 2, 2), np.float32), np.array([0, 1, 0, 1])
    up1 = Dataset("my images", images, labels, ("a", "b"), fingerprint="aaaa")
    up2 = Dataset("my images", images, labels, ("a", "b"), fingerprint="bbbb")
    assert job_key(up1, mc, tc) != job_key(up2, mc, tc) != job_key("my images", mc, tc)
    assert job_key(load_dataset("mnist5k"), mc, tc) == key


@pytest.fixture(scope="module")
def trained(digits):
    return fit(digits, ModelConfig(hidden=(16, 16)), TrainConfig(epochs=1, device="cpu"))


def test_safetensors_round_trip(trained, digits):
    data = save_weights(trained)
    loaded = load_weights(data)
    images = digits.images[:50]
    assert np.array_equal(predict_proba(loaded.model, images), predict_proba(trained.model, images))
    for name in ("model_config", "train_config", "dataset_name", "image_shape", "class_names", "val_accuracy",
                 "test_accuracy", "seconds", "device", "parameters"):
        assert getattr(loaded, name) == getattr(trained, name), name
    assert loaded.history.rows == trained.history.rows and loaded.history.stopped is False
    assert loaded.key == trained.key and loaded.split is None and not loaded.model.training
    assert trained.file_name == f"digits-mlp-{trained.key}.safetensors"


def _header_meta(data: bytes) -> dict:
    n = int.from_bytes(data[:8], "little")
    return json.loads(data[8:8 + n])["__metadata__"]


def test_load_weights_refusals(trained):
    good = save_weights(trained)
    buf = io.BytesIO()
    torch.save(trained.model.state_dict(), buf)
    meta = _header_meta(good)
    tensors = {k: v.contiguous() for k, v in trained.model.state_dict().items()}
    wrong_shape = dict(tensors, **{"output.weight": torch.zeros(10, 17)})
    incomplete = {k: v for k, v in meta.items() if k != "class_names"}
    bad_config = dict(meta, model_config=json.dumps({"kind": "mlp", "hidden": [99999], "activation": "relu",
                                                     "dropout": 0, "channels": [16], "kernel_size": 3}))
    cases = [
        (pickle.dumps({"weights": [1, 2, 3]}), "pickle"),
        (buf.getvalue(), "pickle or PyTorch"),
        (np.random.default_rng(0).bytes(5000), "not a .safetensors file"),
        (b"", "not a .safetensors file"),
        (b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all", "not valid JSON"),
        (b"\x1d\x00\x00\x00\x00\x00\x00\x00" + b'{"__metadata__": "a string"}' + b" ", "not a JSON object"),
        (st_save({"w": torch.zeros(3)}), "not saved by NetLens"),
        (st_save(tensors, metadata=incomplete), "incomplete or invalid"),
        (st_save(tensors, metadata=bad_config), "units per hidden layer must be a whole number from 8 to 1024"),
        (st_save(wrong_shape, metadata=meta), "output.weight"),
        (st_save({k: v.double() for k, v in tensors.items()}, metadata=meta), "float32"),
        (st_save({"output.weight": tensors["output.weight"]}, metadata=meta), "do not match"),
        (good[:-100], "damaged"),
    ]
    for data, words in cases:
        with pytest.raises(ValueError, match=words):
            load_weights(data)
    with pytest.raises(ValueError, match="Expected the file's bytes"):
        load_weights("model.safetensors")


def test_cli_prints_one_json_line(capsys, tmp_path):
    assert main(["--dataset", "digits", "--model", "logreg", "--epochs", "2", "--seed", "3",
                 "--device", "cpu", "--save", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert {"test_accuracy", "val_accuracy", "epochs", "seconds", "device", "parameters"} <= set(result)
    assert 0.5 < result["test_accuracy"] <= 1 and 0 <= result["val_accuracy"] <= 1
    assert result["epochs"] == 2 and result["device"] == "cpu" and result["parameters"] == 650
    files = list(tmp_path.glob("digits-logreg-*.safetensors"))
    assert len(files) == 1 and load_weights(files[0].read_bytes()).train_config.seed == 3
    with pytest.raises(SystemExit) as exit_info:
        main(["--dataset", "digits", "--epochs", "0"])
    assert exit_info.value.code == 2 and "epochs" in capsys.readouterr().err


@pytest.mark.slow
def test_accuracy_bars():
    """MNIST-5k, seed 0, 10 epochs, defaults, CPU (about 30 s; deselect with -m 'not slow')."""
    from sklearn.linear_model import LogisticRegression

    ds = load_dataset("mnist5k")
    split = split_dataset(ds, seed=0)
    X = ds.images.reshape(len(ds), -1)
    sklearn_accuracy = LogisticRegression(max_iter=1000).fit(X[split.train], ds.labels[split.train]).score(
        X[split.test], ds.labels[split.test])
    results = {kind: fit(ds, default_config(kind), TrainConfig(device="cpu")).test_accuracy
               for kind in ("logreg", "mlp", "cnn")}
    assert abs(results["logreg"] - sklearn_accuracy) <= 0.015
    assert results["mlp"] >= 0.92 and results["cnn"] >= 0.94


# ---------------------------------------------------------------- CUDA (skipped without a GPU)

# Test accuracy after 3 epochs on the 8×8 digits, seed 0: what a CUDA run must reach, and what the CPU
# reaches (test_cpu_fit_meets_the_cuda_bar, so CI checks the numbers). Measured on the CPU: MLP 0.914,
# convnet 0.819 (0.81-0.82 over seeds 0-2); on an H200 the CUDA numbers were bit-identical to the CPU's.
THREE_EPOCH_BAR = {"mlp": 0.85, "cnn": 0.80}


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_cpu_fit_meets_the_cuda_bar(digits, kind):
    trained = fit(digits, default_config(kind), TrainConfig(epochs=3, device="cpu"))
    assert trained.test_accuracy >= THREE_EPOCH_BAR[kind], trained.test_accuracy


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_fit(digits, kind):
    config = TrainConfig(epochs=3, device="cuda")  # 1,293 training digits: 20 graphed batches + 13 eagerly
    a, b = fit(digits, default_config(kind), config), fit(digits, default_config(kind), config)
    cpu = fit(digits, default_config(kind), TrainConfig(epochs=3, device="cpu"))
    assert a.device == "cuda" and next(a.model.parameters()).device.type == "cpu"
    assert a.test_accuracy >= THREE_EPOCH_BAR[kind], (a.test_accuracy, cpu.test_accuracy)
    assert abs(a.test_accuracy - cpu.test_accuracy) <= 0.01, (a.test_accuracy, cpu.test_accuracy)
    if kind == "mlp":  # cuDNN convolutions may pick nondeterministic algorithms
        assert without_seconds(a.history.rows) == without_seconds(b.history.rows)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_graph_matches_eager(digits):
    """The captured step does what the eager step does, and warm-up leaves no trace."""
    from analysis.train import EpochRunner, make_optimizer

    cuda = torch.device("cuda")
    X = torch.from_numpy(digits.images[:1000]).unsqueeze(1).to(cuda)
    y = torch.from_numpy(digits.labels[:1000]).to(cuda)
    runs = []
    for use_graph in (True, False):
        model = build_model(ModelConfig(hidden=(64,)), (8, 8), 10, seed=0).to(cuda)
        start = [p.detach().clone() for p in model.parameters()]
        runner = EpochRunner(model, make_optimizer(model, TrainConfig(), cuda), X, y, 64, use_graph=use_graph)
        assert (runner.graph is not None) == use_graph
        assert all(torch.equal(p, p0) for p, p0 in zip(model.parameters(), start))
        order = torch.randperm(1000, generator=torch.Generator().manual_seed(0)).to(cuda)
        runs.append((runner.run(order), runner.run(order), [p.detach().cpu() for p in model.parameters()]))
    (g1, g2, gp), (e1, e2, ep) = runs
    assert np.allclose(g1, e1, atol=1e-4) and np.allclose(g2, e2, atol=1e-4)
    assert all(torch.allclose(a, b, atol=1e-4) for a, b in zip(gp, ep))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_jobs_in_threads(digits):
    results, errors = [], []

    def job(seed):
        try:
            results.append(fit(digits, default_config("mlp"), TrainConfig(epochs=2, seed=seed, device="cuda")))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=job, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 4 and all(r.test_accuracy > 0.8 for r in results)


def test_load_weights_never_unpickles(tmp_path):
    from tests.corpus import unpickle_traps

    marker = tmp_path / "unpickled"
    traps = unpickle_traps(marker)
    pickle.loads(traps["trap.safetensors"]).close()  # the control: unpickling does write the marker
    assert marker.exists()
    marker.unlink()
    for name, data in traps.items():
        with pytest.raises(ValueError, match="pickle"):
            load_weights(data)
        assert not marker.exists(), name


def test_a_saved_model_whose_header_length_starts_with_byte_0x80_still_loads():
    """A safetensors header length is little-endian: 0x0b80 bytes starts the file with 0x80, which is no
    pickle (a cluster replay's model once hit this)."""
    ds = load_dataset("digits")
    trained = fit(ds, default_config("logreg"), TrainConfig(epochs=1, seed=0))
    data = save_weights(trained)
    n = int.from_bytes(data[:8], "little")
    pad = (0x80 - n) % 256 or 256
    padded = (n + pad).to_bytes(8, "little") + data[8:8 + n] + b" " * pad + data[8 + n:]
    assert padded[:1] == b"\x80"
    assert load_weights(padded).parameters == trained.parameters
