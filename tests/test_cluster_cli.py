"""The cluster back end's command lines: `python -m analysis.train --config JSON` takes every
ModelConfig/TrainConfig field as one validated JSON argument (bad input: a plain message, exit
status 2), prints one JSON line per epoch, writes its result into the store under the job key;
`python -m analysis.maps` maps features stored by content hash."""
from __future__ import annotations

import json

import numpy as np
import pytest

from analysis.jobspec import DataRef, MapSpec, TrainSpec, parse_map_spec, parse_train_spec, to_json
from analysis.maps import main as maps_main
from analysis.models import ModelConfig
from analysis.recording import load_with_recording
from analysis.store import Store
from analysis.train import TrainConfig
from analysis.train.cli import main

SHA = "a" * 64


def test_every_setting_round_trips_through_json():
    spec = TrainSpec(dataset=DataRef(SHA, SHA, SHA), model=ModelConfig(kind="cnn", channels=(8, 16), kernel_size=5,
                                                                      dropout=0.25),
                     train=TrainConfig(optimizer="sgd", lr=0.1, batch_size=32, epochs=3, seed=7, device="cpu"),
                     record=False)
    assert parse_train_spec(to_json(spec)) == spec
    m = MapSpec(features=SHA, labels=SHA, method="pca", perplexity=12.5, n_iter=500, seed=3)
    assert parse_map_spec(to_json(m)) == m


@pytest.mark.parametrize("text, words", [
    ("not json", "not valid JSON"),
    ("[1, 2]", "Expected the training settings to be a JSON object"),
    ('{"modle": {}}', "Unknown setting 'modle' in the training settings"),
    ('{"model": {"kind": "rnn"}}', "model kind must be one of"),
    ('{"model": {"hidden": 512}}', "Expected model hidden as a list"),
    ('{"model": {"hidden": [0]}}', "units per hidden layer"),
    ('{"train": {"epochs": 0}}', "number of epochs must be a whole number from 1 to 50"),
    ('{"train": {"lr": "fast"}}', "learning rate must be a finite number"),
    ('{"train": {"epochs": 2, "rm -rf": 1}}', "Unknown setting 'rm -rf' in train"),
    ('{"dataset": "my photos; rm -rf /"}', "dataset must be one of"),
    ('{"dataset": {"images": "x", "labels": "y", "meta": "z"}}', "sha256 digest"),
    ('{"record": "yes"}', "record to be true or false"),
])
def test_bad_training_settings_are_refused_with_what_to_fix(text, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace("[", r"\[")):
        parse_train_spec(text)


def test_the_command_line_exits_2_with_the_message(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--config", '{"train": {"epochs": 99}}'])
    assert info.value.code == 2 and "number of epochs must be a whole number from 1 to 50; got 99" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["--config", "{}", "--store", "/tmp/x"])  # --store without --key
    assert info.value.code == 2 and "--store and --key go together" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        maps_main(["--config", '{"features": "%s", "labels": "%s", "method": "umap"}' % (SHA, SHA), "--store", "/tmp/x",
                   "--key", "k"])
    assert info.value.code == 2 and "method must be one of" in capsys.readouterr().err


def test_a_training_prints_a_line_per_epoch_and_writes_its_result_under_the_key(tmp_path, capsys):
    store = Store(str(tmp_path))
    store.renew_lease("train-t", "server-test")  # someone watches it
    config = '{"dataset": "digits", "model": {"kind": "mlp", "hidden": [16]}, "train": {"epochs": 2, "device": "cpu"}}'
    assert main(["--config", config, "--progress", "--store", str(tmp_path), "--key", "train-t"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.strip().splitlines()]
    progress = [x for x in lines if x.get("netlens") == "progress"]
    assert [x["message"] for x in progress] == ["epoch 1 of 2", "epoch 2 of 2"]
    assert len(progress[-1]["rows"]) == 2 and lines[-1]["key"] == "train-t"
    files = store.get("train-t")
    trained, recording = load_with_recording(files["model.safetensors"])
    assert trained.model_config.hidden == (16,) and trained.train_config.epochs == 2
    assert recording is not None and list(recording.epochs)[-1] == 2  # the recording comes back with the model
    assert json.loads(files["metrics.json"])["test_accuracy"] == pytest.approx(trained.test_accuracy)


def test_a_job_no_one_watches_stops_and_writes_nothing(tmp_path, capsys):
    config = '{"dataset": "digits", "model": {"kind": "logreg"}, "train": {"epochs": 3, "device": "cpu"}}'
    assert main(["--config", config, "--progress", "--store", str(tmp_path), "--key", "train-u"]) == 3
    assert Store(str(tmp_path)).get("train-u") is None
    assert '"netlens": "stopped"' in capsys.readouterr().out


def test_a_map_of_stored_features(tmp_path, capsys):
    store = Store(str(tmp_path))
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(120, 6)).astype(np.float32), np.arange(120) % 3
    config = json.dumps({"features": store.put_array(x), "labels": store.put_array(y), "method": "pca"})
    store.renew_lease("map-m", "server-test")
    assert maps_main(["--config", config, "--store", str(tmp_path), "--key", "map-m"]) == 0
    files = store.get("map-m")
    coords = np.load(__import__("io").BytesIO(files["coords.npy"]))
    assert coords.shape == (120, 2) and len(json.loads(files["result.json"])["explained"]) == 2


@pytest.mark.parametrize("env, words", [
    ({"NETLENS_RAY_ADDRESS": "head:8265"}, "must be the Ray head's dashboard address, e.g. http://head:8265"),
    ({"NETLENS_RAY_ADDRESS": "http://h:8265", "NETLENS_GPU_SHARE": "2"}, "NETLENS_GPU_SHARE must be a fraction"),
    ({"NETLENS_RAY_ADDRESS": "http://h:8265", "NETLENS_LEASE_S": "soon"}, "NETLENS_LEASE_S must be a number"),
])
def test_cluster_settings_say_what_to_fix(env, words):
    from analysis.cluster import ClusterConfig

    with pytest.raises(ValueError, match=words.replace("(", r"\(")):
        ClusterConfig.from_env(env)
    assert ClusterConfig.from_env({"NETLENS_RAY_ADDRESS": "https://head:8265/"}).address == "https://head:8265"


def test_the_job_key_changes_with_settings_code_and_data(tmp_path, monkeypatch):
    from analysis import cluster_plans
    from analysis.cluster import ClusterConfig, RayExecutor
    from analysis.datasets import load_dataset

    ex = RayExecutor(ClusterConfig(address="http://127.0.0.1:1"), Store(str(tmp_path)))  # never contacted
    base = {"dataset": "digits", "model_config": ModelConfig(), "train_config": TrainConfig(epochs=2)}
    plan = cluster_plans.train_plan(ex, dict(base))
    assert plan.key == cluster_plans.train_plan(ex, dict(base)).key and plan.key.startswith("train-")
    assert plan.key != cluster_plans.train_plan(ex, {**base, "train_config": TrainConfig(epochs=3)}).key
    digits = load_dataset("digits")
    mine = type(digits)("my photos; rm -rf ~", digits.images, digits.labels, digits.class_names, "f00d")
    own = cluster_plans.train_plan(ex, {**base, "dataset": mine})
    assert own.key != plan.key and "rm -rf" not in ex.entrypoint(own)  # only digests travel
    assert len(own.data) == 3 and all(any((tmp_path / "data").glob(f"{d}.*")) for d in own.data)
    monkeypatch.setattr(cluster_plans, "code_version", lambda: "another version")
    assert cluster_plans.train_plan(ex, dict(base)).key != plan.key


def test_a_users_own_data_trains_from_its_arrays_in_the_store(tmp_path, capsys):
    """The cluster gets a user's data as arrays by content hash (never the zip, never its name on the command line)."""
    from analysis.cluster import ClusterConfig, RayExecutor
    from analysis.cluster_plans import train_plan
    from analysis.datasets import load_dataset

    digits = load_dataset("digits")
    mine = type(digits)("holiday snaps", digits.images[:400], digits.labels[:400], digits.class_names, "beef")
    ex = RayExecutor(ClusterConfig(address="http://127.0.0.1:1"), Store(str(tmp_path)))  # never contacted
    plan = train_plan(ex, {"dataset": mine, "model_config": ModelConfig(kind="logreg"),
                           "train_config": TrainConfig(epochs=1, device="cpu")})
    assert "holiday" not in " ".join(plan.argv)
    ex.store.renew_lease(plan.key, "server-test")
    assert main(plan.argv[2:]) == 0  # what the cluster runs: python -m analysis.train <these>
    trained = plan.result(ex.store.get(plan.key))
    assert trained.dataset_name == "holiday snaps" and trained.dataset_fingerprint == "beef"
    assert trained.split is not None and len(trained.split.test) + len(trained.split.val) + len(trained.split.train) == 400
