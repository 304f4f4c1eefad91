"""The cluster back end's command lines: `python -m analysis.train --config JSON` takes every
ModelConfig/TrainConfig field as one validated JSON argument (bad input: a plain message, exit
status 2), prints one JSON line per epoch, writes its result into the store under the job key;
`python -m analysis.compute.cluster.maps` maps features stored by content hash, and with --replay computes one
layer's frames over training from a recording stored by content hash (Stop: a finish request in
the store keeps the frames so far as a complete result)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from analysis.compute.cluster.maps import main as maps_main
from analysis.compute.cluster.train_cli import main
from analysis.compute.jobspec import DataRef, MapSpec, TrainSpec, parse_map_spec, parse_train_spec, to_json
from analysis.compute.store import Store
from analysis.models import ModelConfig
from analysis.recording import load_with_recording
from analysis.train import TrainConfig

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
    assert (
        info.value.code == 2
        and "number of epochs must be a whole number from 1 to 50; got 99" in capsys.readouterr().err
    )
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


@pytest.fixture(scope="module")
def recorded():
    from analysis.datasets import load_dataset
    from analysis.recording import fit_recorded

    _, recording = fit_recorded(load_dataset("digits"), ModelConfig(hidden=(16,)), TrainConfig(epochs=3, device="cpu"))
    return recording


def test_a_replay_of_a_stored_recording_and_a_finish_request(tmp_path, capsys, recorded, monkeypatch):
    from analysis.compute.cluster import job as cluster_job
    from analysis.compute.jobspec import ReplaySpec
    from analysis.recording import recording_bytes
    from analysis.replay import ReplayConfig

    store = Store(str(tmp_path))
    digest = store.put_blob(recording_bytes(recorded))
    spec = ReplaySpec(recording=digest, layer="logits", config=ReplayConfig(first_iter=100, step_iter=30))
    store.renew_lease("replay-r", "server-test")
    store.put_live("replay-r", cluster_job.FINISH, b"1")  # left by an earlier run: not this run's
    assert maps_main(["--replay", "--config", to_json(spec), "--store", str(tmp_path), "--key", "replay-r"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.strip().splitlines()]
    assert [x["frame"] for x in lines if x["netlens"] == "progress"] == [None, 1, 2, 3, 4]
    out = json.loads(store.get("replay-r")["result.json"])
    assert out["stopped_at"] is None and out["epochs"] == [0, 1, 2, 3] and set(out["knn"]) == set(recorded.layer_names)

    real_put_live, frames = Store.put_live, []

    def put_live(self, key, name, data):  # a watcher presses Stop once the second frame is out
        real_put_live(self, key, name, data)
        if name == "frame.npy":
            frames.append(key)
            if len(frames) == 2:
                real_put_live(self, key, cluster_job.FINISH, b"1")
    monkeypatch.setattr(Store, "put_live", put_live)
    store.renew_lease("replay-s", "server-test")
    assert maps_main(["--replay", "--config", to_json(spec), "--store", str(tmp_path), "--key", "replay-s"]) == 0
    files = store.get("replay-s")
    stopped = json.loads(files["result.json"])
    assert stopped["stopped_at"] == 2 and np.load(__import__("io").BytesIO(files["coords.npy"])).shape[0] == 2


@pytest.mark.parametrize("text, words", [
    ('{"layer": "logits"}', "need 'recording'"),
    ('{"recording": "%s", "layer": "logits; rm -rf /"}' % SHA, "Expected the layer's name"),
    ('{"recording": "%s", "layer": "logits", "config": {"method": "umap"}}' % SHA, "Unknown method 'umap'"),
    ('{"recording": "%s", "layer": "logits", "config": {"first_iter": 1}}' % SHA, "first_iter from 50 to 5000"),
    ('{"recording": "%s", "layer": "logits", "extra": 1}' % SHA, "Unknown setting 'extra'"),
])
def test_bad_replay_settings_are_refused(text, words):
    from analysis.compute.jobspec import parse_replay_spec

    with pytest.raises(ValueError, match=words):
        parse_replay_spec(text)


def test_a_damaged_or_missing_recording_is_refused(tmp_path, recorded):
    from analysis.recording import recording_bytes, recording_from_bytes

    store = Store(str(tmp_path))
    digest = store.put_blob(recording_bytes(recorded))
    assert recording_from_bytes(store.get_blob(digest)).n_frames == recorded.n_frames
    path = tmp_path / "data" / f"{digest}.bin"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ValueError, match="damaged"):
        store.get_blob(digest)
    with pytest.raises(ValueError, match="not in the store"):
        store.get_blob(digest)  # the damaged file was removed
    with pytest.raises(ValueError, match="no training recording|damaged"):
        recording_from_bytes(b"not a safetensors file")


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
    from analysis.compute.cluster.executor import ClusterConfig

    with pytest.raises(ValueError, match=words.replace("(", r"\(")):
        ClusterConfig.from_env(env)
    ok = ClusterConfig.from_env({"NETLENS_RAY_ADDRESS": "https://head:8265/", "NETLENS_RAY_TOKEN": "t"})
    assert ok.address == "https://head:8265" and not ok.insecure


def test_a_head_without_a_token_is_refused_unless_insecure_is_explicit():
    from analysis.compute.cluster.executor import ClusterConfig

    with pytest.raises(ValueError, match="NETLENS_RAY_TOKEN is not: this app does not talk to a Ray head without "
                                         "token authentication"):
        ClusterConfig.from_env({"NETLENS_RAY_ADDRESS": "http://head:8265"})
    with pytest.raises(ValueError, match="NETLENS_RAY_TOKEN is not"):  # only exactly 1 turns it off
        ClusterConfig.from_env({"NETLENS_RAY_ADDRESS": "http://head:8265", "NETLENS_RAY_INSECURE": "yes"})
    assert ClusterConfig.from_env({"NETLENS_RAY_ADDRESS": "http://head:8265", "NETLENS_RAY_INSECURE": "1"}).insecure
    both = {"NETLENS_RAY_ADDRESS": "http://head:8265", "NETLENS_RAY_INSECURE": "1", "NETLENS_RAY_TOKEN": "t"}
    assert not ClusterConfig.from_env(both).insecure  # with a token it is not insecure


def test_the_job_key_changes_with_settings_code_and_data(tmp_path, monkeypatch):
    from analysis.compute.cluster import plans as cluster_plans
    from analysis.compute.cluster.executor import ClusterConfig, RayExecutor
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
    from analysis.compute.cluster.executor import ClusterConfig, RayExecutor
    from analysis.compute.cluster.plans import train_plan
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
    assert (
        trained.split is not None and len(trained.split.test) + len(trained.split.val) + len(trained.split.train) == 400
    )
