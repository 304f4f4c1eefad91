"""Saved work across app servers (issue 33, the cluster back end): the signed record of a browser's work in
the shared store (analysis/compute/work_shared.py) and what goes into it (dashboard/core/saved_work_shared.py).
The real two-server round is in tests/test_board_servers.py."""
import json
import os
import secrets
from types import SimpleNamespace

from analysis.compute import store_key
from analysis.compute.jobspec import parse_train_spec
from analysis.compute.work_shared import SharedWork
from analysis.models import ModelConfig
from analysis.train import TrainConfig
from dashboard.core import session_models
from dashboard.core.saved_work_shared import record

KEY = b"w" * 32


class Clock:
    def __init__(self, t: float):
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_a_record_is_named_by_the_ids_hash_signed_and_read_back_on_another_server(tmp_path):
    wid = secrets.token_urlsafe(32)
    a, b = SharedWork(str(tmp_path), key=KEY), SharedWork(str(tmp_path), key=KEY)
    a.put(wid, {"models": [], "uploads": ["street.jpg"]})
    assert b.get(wid) == {"models": [], "uploads": ["street.jpg"]}
    assert b.get(secrets.token_urlsafe(32)) is None  # another browser's id: nothing
    [path] = (tmp_path / "work").iterdir()
    assert wid not in path.name and wid.encode() not in path.read_bytes()  # the id is never written
    assert path.read_bytes().startswith(store_key.LIVE_MAGIC)


def test_an_unsigned_altered_or_foreign_record_is_ignored(tmp_path):
    wid, other = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    s = SharedWork(str(tmp_path), key=KEY)
    s.put(wid, {"models": [], "uploads": []})
    s.put(other, {"models": [], "uploads": ["theirs.png"]})
    path = tmp_path / "work" / SharedWork._name(wid)
    path.write_bytes(json.dumps({"models": [{"name": "planted", "spec": "{}"}], "uploads": []}).encode())
    assert s.get(wid) is None  # unsigned
    path.write_bytes((tmp_path / "work" / SharedWork._name(other)).read_bytes())  # another id's, moved
    assert s.get(wid) is None
    assert SharedWork(str(tmp_path), key=b"x" * 32).get(other) is None  # signed with another key
    assert s.get(other) == {"models": [], "uploads": ["theirs.png"]}


def test_a_record_expires_unless_renewed_and_start_over_drops_it(tmp_path):
    clock = Clock(0.0)
    s = SharedWork(str(tmp_path), key=KEY, ttl_s=120, clock=clock)
    wid = secrets.token_urlsafe(32)
    assert not s.renew(wid)  # nothing to renew yet
    s.put(wid, {"models": [], "uploads": []})
    path = tmp_path / "work" / SharedWork._name(wid)
    clock.t = path.stat().st_mtime + 100
    assert s.renew(wid) and s.get(wid) is not None  # renewed now (a session of it is held)
    clock.t = path.stat().st_mtime + 121
    assert s.get(wid) is None and not path.exists()  # expired with the sessions' TTL: removed
    s.put(wid, {"models": [], "uploads": []})
    s.drop(wid)
    assert s.get(wid) is None
    kept, gone = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    s.put(gone, {"models": [], "uploads": []})
    clock.t = (tmp_path / "work" / SharedWork._name(gone)).stat().st_mtime + 121
    s.put(kept, {"models": [], "uploads": []})
    os.utime(tmp_path / "work" / SharedWork._name(kept), (clock.t, clock.t))  # renewed at the clock's now
    assert s.clean() == 1 and s.get(gone) is None and s.get(kept) is not None  # a browser never seen again


def _model(name: str, dataset: str = "mnist5k", fingerprint: str = "", stopped: bool = False):
    trained = SimpleNamespace(dataset_name=dataset, dataset_fingerprint=fingerprint, model_config=ModelConfig(),
                              train_config=TrainConfig(epochs=3), history=SimpleNamespace(stopped=stopped))
    return SimpleNamespace(name=name, description=f"{name}, in full", trained=trained)


def test_the_record_keys_models_by_their_settings_and_names_what_the_store_cannot_hold():
    models = SimpleNamespace(models={n: m for n, m in [
        ("mine", _model("mine")), ("stopped", _model("stopped", stopped=True)),
        ("on my zip", _model("on my zip", dataset="upload:digits.zip", fingerprint="abc"))]})
    rec = record({session_models.KEY: models, "unrelated": 3}, ["street.jpg"])
    assert [m["name"] for m in rec["models"]] == ["mine", "stopped", "on my zip"]
    spec = parse_train_spec(rec["models"][0]["spec"])
    assert (spec.dataset, spec.model, spec.train) == ("mnist5k", ModelConfig(), TrainConfig(epochs=3))
    assert rec["models"][1]["spec"] == rec["models"][2]["spec"] == ""  # they cannot come back from the store
    assert rec["uploads"] == ["street.jpg"] and rec["models"][0]["description"] == "mine, in full"
    assert record({}, []) == {"models": [], "uploads": []}
