"""The cluster store against a hostile writer and a flaky mount (issue 30): results are signed with
the store's key (analysis.compute.store_key) and an unsigned, wrongly signed or tampered one is never
served; a transient OSError keeps the result; the size cap counts uploaded data and a session has
a quota; the key is required, and never travels with a job."""
from __future__ import annotations

import errno
import hashlib
import json
import logging
import secrets
from pathlib import Path

import numpy as np
import pytest

from analysis.compute import store_key
from analysis.compute.store import OWNER, READ_TRIES, Store, StoreConfig, StoreReadError

KEY = secrets.token_hex(32).encode()
OTHER = secrets.token_hex(32).encode()


def _plant(root: Path, key: str, files: dict[str, bytes], sign_with: bytes | None) -> Path:
    """What an attacker who can write the store (but may not hold its key) leaves there."""
    folder = root / "results" / key
    folder.mkdir(parents=True)
    manifest = {"key": key, "created": 1e10, "meta": {}, "files": {}}
    for name, data in files.items():
        (folder / name).write_bytes(data)
        manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    if sign_with is not None:
        manifest = store_key.sign(manifest, sign_with)
    (folder / "MANIFEST.json").write_text(json.dumps(manifest))
    return folder


@pytest.mark.parametrize("signer", ["unsigned", "another key"])
def test_a_planted_result_is_ignored_logged_and_removed(tmp_path, signer, caplog):
    store = Store(str(tmp_path), key=KEY)
    folder = _plant(tmp_path, "train-planted", {"model.safetensors": b"evil weights"},
                    None if signer == "unsigned" else OTHER)
    with caplog.at_level(logging.WARNING, logger="analysis.compute.store"):
        assert store.get("train-planted") is None
    assert not folder.exists()  # removed, so the real job can write its own result there
    why = "it is not signed" if signer == "unsigned" else "its signature does not match this store's key"
    assert any("train-planted" in r.getMessage() and why in r.getMessage() for r in caplog.records), caplog.text
    assert store.put("train-planted", {"model.safetensors": b"real weights"})
    assert store.get("train-planted") == {"model.safetensors": b"real weights"}
    # The same planted entry signed with the right key would be served: the signature is what decides.
    _plant(tmp_path, "train-signed", {"model.safetensors": b"w"}, KEY)
    assert store.get("train-signed") == {"model.safetensors": b"w"}


def test_a_result_tampered_after_writing_is_not_served(tmp_path):
    store = Store(str(tmp_path), key=KEY)
    assert store.put("map-t", {"coords.npy": b"good coordinates", "result.json": b"{}"})
    folder = store.path("map-t")
    # The attacker swaps the file and fixes the manifest's checksum, but cannot sign it again.
    (folder / "coords.npy").write_bytes(b"planted coordinates")
    manifest = json.loads((folder / "MANIFEST.json").read_text())
    manifest["files"]["coords.npy"] = {"sha256": hashlib.sha256(b"planted coordinates").hexdigest(), "bytes": 19}
    (folder / "MANIFEST.json").write_text(json.dumps(manifest))
    assert store.get("map-t") is None and not folder.exists()


def test_a_signed_result_moved_to_another_key_is_not_served(tmp_path):
    store = Store(str(tmp_path), key=KEY)
    store.put("train-cheap", {"model.safetensors": b"a small model"})
    store.path("train-cheap").rename(tmp_path / "results" / "train-costly")
    assert store.get("train-costly") is None


def test_a_transient_read_error_keeps_the_result(tmp_path, monkeypatch):
    store = Store(str(tmp_path), key=KEY)
    store.put("train-k", {"model.safetensors": b"weights"})
    monkeypatch.setattr("analysis.compute.store.RETRY_WAIT_S", (0.0,))
    real = Path.read_bytes
    failures = {"left": READ_TRIES - 1}

    def flaky(path):
        if path.name == "model.safetensors" and failures["left"] > 0:
            failures["left"] -= 1
            raise OSError(errno.ESTALE, "Stale file handle")
        return real(path)

    monkeypatch.setattr(Path, "read_bytes", flaky)
    assert store.get("train-k") == {"model.safetensors": b"weights"}  # retried: served on the last try
    assert failures["left"] == 0

    failures["left"] = READ_TRIES  # fails every try: reported, and the result stays
    with pytest.raises(StoreReadError, match=r"could not be read \(Stale file handle\) after 3 tries; it was kept"):
        store.get("train-k")
    assert store.path("train-k").is_dir()
    assert store.get("train-k") == {"model.safetensors": b"weights"}  # the mount is back


def test_live_files_are_signed_too(tmp_path):
    store = Store(str(tmp_path), key=KEY)
    store.put_live("train-l", "state.safetensors", b"snapshot")
    assert store.get_live("train-l", "state.safetensors") == b"snapshot"
    path = tmp_path / "live" / "train-l" / "state.safetensors"
    assert b"snapshot" in path.read_bytes() and path.read_bytes() != b"snapshot"
    path.write_bytes(b"planted snapshot")
    assert store.get_live("train-l", "state.safetensors") is None
    Store(str(tmp_path), key=OTHER).put_live("train-l", "state.safetensors", b"other key")
    assert store.get_live("train-l", "state.safetensors") is None
    store.put_live("train-l", "preview.npy", b"p")  # a signature is bound to its job key and name
    (tmp_path / "live" / "train-l" / "preview.npy").replace(path)
    assert store.get_live("train-l", "state.safetensors") is None


def test_the_size_cap_counts_uploaded_data(tmp_path):
    store = Store(StoreConfig(root=str(tmp_path), max_mb=0.05, key=KEY))  # 50,000 bytes
    store.put("map-old", {"coords.npy": bytes(20_000)})
    first = store.put_array(np.zeros(5_000, dtype=np.float32))   # ~20 kB of data
    assert store.used_bytes() > 40_000
    # Retention under the cap now weighs data too: results alone (20 kB) were under it.
    import os
    import time
    old = time.time() - 600
    os.utime(tmp_path / "data" / f"{first}.npy", (old, old))  # unused for 10 minutes (not busy)
    second = store.put_array(np.ones(5_000, dtype=np.float32))  # +20 kB: over 50 kB, so clean() runs
    assert store.used_bytes() <= 50_000
    assert not (tmp_path / "data" / f"{first}.npy").exists()  # the oldest, idle data went first
    assert (tmp_path / "data" / f"{second}.npy").exists()
    with pytest.raises(ValueError, match=r"The shared store is full: .* NETLENS_STORE_MB=0.05"):
        store.put_array(np.full(20_000, 2, dtype=np.float32))  # 80 kB: larger than the whole cap


def test_a_session_quota_refuses_new_data_past_it(tmp_path):
    store = Store(StoreConfig(root=str(tmp_path), session_mb=0.05, key=KEY))
    token = OWNER.set("session-a")
    try:
        store.put_array(np.zeros(10_000, dtype=np.float32))  # 40 kB
        with pytest.raises(ValueError, match=r"Your session has put 0.04 MB .* per-session quota of 0.05 MB "
                                             r"\(NETLENS_STORE_SESSION_MB\)"):
            store.put_array(np.ones(5_000, dtype=np.float32))  # +20 kB
        store.put_array(np.zeros(10_000, dtype=np.float32))  # the same data again costs nothing
    finally:
        OWNER.reset(token)
    token = OWNER.set("session-b")  # another session has its own quota
    try:
        store.put_array(np.ones(5_000, dtype=np.float32))
    finally:
        OWNER.reset(token)
    assert store.session_bytes("session-a") > 40_000 and store.session_bytes("session-b") > 20_000
    for p in (tmp_path / "data").iterdir():
        p.unlink()  # expired: the quota is free again
    assert store.session_bytes("session-a") == 0


def test_the_store_needs_its_key_in_plain_words(tmp_path, monkeypatch):
    monkeypatch.delenv("NETLENS_STORE_KEY_FILE", raising=False)
    monkeypatch.delenv("NETLENS_STORE_KEY", raising=False)
    with pytest.raises(ValueError, match="The shared store has no signing key: neither NETLENS_STORE_KEY_FILE nor "
                                         "NETLENS_STORE_KEY is set"):
        Store(str(tmp_path))
    with pytest.raises(ValueError, match="has 5 characters; expected at least 32"):
        store_key.load_key({"NETLENS_STORE_KEY": "short"})
    with pytest.raises(ValueError, match="cannot read it as text"):
        store_key.load_key({"NETLENS_STORE_KEY_FILE": str(tmp_path / "missing.key")})
    key_file = tmp_path / "store.key"
    key_file.write_text("k" * 40 + "\n")
    assert store_key.load_key({"NETLENS_STORE_KEY_FILE": str(key_file), "NETLENS_STORE_KEY": "x" * 40}) == b"k" * 40
    with pytest.raises(ValueError) as e:
        store_key.load_key({"NETLENS_STORE_KEY": "s3cret"})
    assert "s3cret" not in str(e.value)  # never the key in a message


def test_the_cluster_back_end_does_not_start_without_the_key(tmp_path):
    from analysis.compute.cluster.health import settings_problems

    env = {"NETLENS_RAY_ADDRESS": "http://head:8265", "NETLENS_RAY_TOKEN": "t", "NETLENS_STORE": str(tmp_path)}
    problems = settings_problems(env)
    assert len(problems) == 1 and "The shared store has no signing key" in problems[0]
    assert settings_problems({**env, "NETLENS_STORE_KEY": "k" * 32}) == []


def test_the_key_never_travels_with_a_job(tmp_path, monkeypatch):
    """Ray keeps a job's command line, metadata and runtime env: only the key file's path goes."""
    from analysis.compute.cluster.executor import ClusterConfig, RayExecutor
    from analysis.compute.cluster.plans import train_plan
    from analysis.models import ModelConfig
    from analysis.train import TrainConfig

    key_file = tmp_path / "store.key"
    key_file.write_text(secrets.token_hex(32))
    monkeypatch.setenv("NETLENS_STORE_KEY_FILE", str(key_file))
    monkeypatch.setenv("NETLENS_STORE_KEY", "e" * 40)  # set too: the file wins, and neither value travels
    ex = RayExecutor(ClusterConfig(address="http://127.0.0.1:1"), Store(str(tmp_path / "store")), client=object())
    plan = train_plan(ex, {"dataset": "digits", "model_config": ModelConfig(), "train_config": TrainConfig()})
    sent = json.dumps({"entrypoint": ex.entrypoint(plan), "runtime_env": ex.runtime_env(),
                       "metadata": {"netlens_key": plan.key}})
    assert key_file.read_text() not in sent and "e" * 40 not in sent
    assert ex.runtime_env()["env_vars"]["NETLENS_STORE_KEY_FILE"] == str(key_file)
