"""analysis/compute/store.py (the cluster back end's shared store): atomic writes with checksums, damaged
entries read as missing, retention by age and size, idle user data, watcher leases; and ray is
never imported without NETLENS_RAY_ADDRESS."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from analysis.compute import store_key
from analysis.compute.store import DATA_IDLE_S, Store, StoreConfig

ROOT = Path(__file__).resolve().parent.parent


def test_a_result_is_written_whole_and_read_back_with_its_checksums(tmp_path):
    store = Store(str(tmp_path))
    assert store.get("train-a") is None
    assert store.put("train-a", {"model.safetensors": b"weights", "metrics.json": b"{}"})
    assert store.get("train-a") == {"model.safetensors": b"weights", "metrics.json": b"{}"}
    manifest = json.loads((tmp_path / "results" / "train-a" / "MANIFEST.json").read_text())
    assert set(manifest["files"]) == {"model.safetensors", "metrics.json"}
    assert not store.put("train-a", {"model.safetensors": b"other"})  # the first complete writer wins
    assert store.get("train-a")["model.safetensors"] == b"weights"
    assert list((tmp_path / "tmp").iterdir()) == []  # nothing left half-written


@pytest.mark.parametrize("damage", ["truncate", "alter", "no manifest", "missing file"])
def test_a_partial_or_altered_result_reads_as_missing_and_is_removed(tmp_path, damage):
    store = Store(str(tmp_path))
    store.put("map-b", {"coords.npy": b"0123456789", "result.json": b"{}"})
    folder = tmp_path / "results" / "map-b"
    if damage == "truncate":
        (folder / "coords.npy").write_bytes(b"01234")
    elif damage == "alter":
        (folder / "coords.npy").write_bytes(b"0123456780")
    elif damage == "no manifest":
        (folder / "MANIFEST.json").unlink()
    else:
        (folder / "result.json").unlink()
    assert store.get("map-b") is None
    assert not folder.exists()
    assert store.put("map-b", {"coords.npy": b"fresh"}) and store.get("map-b") == {"coords.npy": b"fresh"}


def test_keys_and_names_cannot_leave_the_store(tmp_path):
    store = Store(str(tmp_path))
    for bad in ("../x", "a/b", "", ".hidden"):
        with pytest.raises(ValueError, match="Expected a job key"):
            store.put(bad, {"f": b""})
    with pytest.raises(ValueError, match="Expected a file name"):
        store.put("ok", {"../f": b""})


def _backdate(store: Store, key: str, created: float) -> None:
    """Set a result's creation time, signed again with the store's key (as a job would have written it)."""
    path = store.path(key) / "MANIFEST.json"
    m = json.loads(path.read_text())
    m["created"] = created
    path.write_text(json.dumps(store_key.sign(m, store._key)))


def test_retention_by_age_then_size_oldest_first(tmp_path):
    store = Store(StoreConfig(root=str(tmp_path), days=7))
    now = time.time()
    for i, age_days in enumerate([10, 3, 2, 1]):
        store.put(f"k{i}", {"f": bytes(1000)})
        _backdate(store, f"k{i}", now - age_days * 86400)
    entry = sum(f.stat().st_size for f in store.path("k3").iterdir())  # one result: its file and manifest
    store = Store(StoreConfig(root=str(tmp_path), days=7, max_mb=(2.5 * entry) / 1e6))
    removed = store.clean(now)
    # k0 is past 7 days; then k1 (the oldest left) goes to bring 3 entries under 2.5 entries' bytes.
    assert removed["results"] == 2
    assert [k for k in ("k0", "k1", "k2", "k3") if store.has(k)] == ["k2", "k3"]


def test_user_arrays_by_content_hash_go_after_an_hour_unused(tmp_path):
    store = Store(str(tmp_path))
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    digest = store.put_array(a)
    assert digest == store.put_array(a.copy())  # the same content, the same entry
    np.testing.assert_array_equal(store.get_array(digest), a)
    path = tmp_path / "data" / f"{digest}.npy"
    old = time.time() - DATA_IDLE_S - 60
    os.utime(path, (old, old))
    store.clean()
    assert not path.exists()
    with pytest.raises(ValueError, match="not in the store"):
        store.get_array(digest)
    digest = store.put_array(a)
    path.write_bytes(path.read_bytes()[:-4] + b"\0\0\0\1")
    with pytest.raises(ValueError, match="damaged"):
        store.get_array(digest)


def test_leases_count_only_fresh_watchers(tmp_path):
    store = Store(str(tmp_path))
    assert store.fresh_leases("job") == 0
    store.renew_lease("job", "server-a")
    store.renew_lease("job", "server-b")
    assert store.fresh_leases("job") == 2
    stale = time.time() - 31
    os.utime(tmp_path / "leases" / "job" / "server-a", (stale, stale))
    assert store.fresh_leases("job", 30) == 1
    store.drop_lease("job", "server-b")
    assert store.fresh_leases("job", 30) == 0


@pytest.mark.parametrize("env, words", [({}, "NETLENS_STORE is not set"),
                                        ({"NETLENS_STORE": "/x", "NETLENS_STORE_DAYS": "-1"}, "positive number"),
                                        ({"NETLENS_STORE": "/x", "NETLENS_STORE_MB": "lots"}, "positive number")])
def test_store_settings_say_what_to_fix(env, words):
    with pytest.raises(ValueError, match=words):
        StoreConfig.from_env(env)


def test_ray_is_never_imported_without_a_cluster_address():
    code = (
        "import sys; import dashboard.core.server, dashboard.training.state, dashboard.representations.state, "
        "analysis.compute.tasks, analysis.compute.store, analysis.compute.jobspec, analysis.compute.cluster.job, "
        "analysis.compute.cluster.maps; "
        "import analysis.compute.cluster.train_cli; "
        "print('ray' in sys.modules, type(dashboard.core.server.EXECUTOR).__name__)"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("NETLENS_RAY_ADDRESS",)}
    env.update(NETLENS_WORKERS="0", PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-2:] == ["False", "InlineExecutor"]
