"""The shared store of the cluster back end (analysis.compute.cluster.executor): a folder every app server and
every cluster node mounts, named by ``NETLENS_STORE``. No Streamlit, no Ray here.

Layout (everything under the store's root)::

    results/<job key>/         one finished job: its files + MANIFEST.json (sha256 and size of each)
    live/<job key>/            what a running job publishes between epochs (a weights snapshot, a map preview)
    data/<sha256>.npy|.json|.bin  arrays (and their class names) by content hash: a user's decoded images,
                               a map's features, a training's recording; deleted when no session used them
                               for an hour
    leases/<job key>/<server>  one empty file per app server watching the job; its mtime is renewed
                               while a session there watches; the job stops when none is fresher than 30 s
    tmp/                       writes in progress (renamed into place when complete)

- ``put(key, files)`` writes the files and the manifest into ``tmp/`` and renames the folder into
  ``results/<key>`` (``os.replace``): readers see the whole result or nothing. When another writer
  got there first, its result stays and this one is discarded.
- ``get(key)`` verifies every file against the manifest; a partial or altered entry is removed and
  reads as missing (the caller computes it again).
- ``clean()`` applies retention: entries older than ``NETLENS_STORE_DAYS`` (default 7) go, then the
  oldest until the store is under ``NETLENS_STORE_MB`` (default: no size cap); data arrays unused for
  ``DATA_IDLE_S`` (an hour); leases and live files of jobs no one watches.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Store", "StoreConfig", "LEASE_S", "DATA_IDLE_S"]

LEASE_S = 30.0        # a watcher lease older than this no longer keeps a job alive
DATA_IDLE_S = 3600.0  # user data (arrays by content hash) unused this long is deleted
MANIFEST = "MANIFEST.json"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def _check_name(name: str, what: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
        raise ValueError(f"Expected a {what} of letters, digits, '.', '_' or '-' (at most 128); got {name!r}.")
    return name


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class StoreConfig:
    root: str = ""            # NETLENS_STORE
    days: float = 7.0         # NETLENS_STORE_DAYS: results older than this are removed
    max_mb: float | None = None  # NETLENS_STORE_MB: the oldest results go until the store is under this

    @classmethod
    def from_env(cls, env=None) -> "StoreConfig":
        env = os.environ if env is None else env
        root = str(env.get("NETLENS_STORE", "")).strip()
        if not root:
            raise ValueError("NETLENS_STORE is not set: expected the path of a folder every app server and "
                             "cluster node mounts (e.g. /srv/netlens/store). Set it, or unset NETLENS_RAY_ADDRESS.")
        return cls(root=root, days=_positive(env, "NETLENS_STORE_DAYS", 7.0),
                   max_mb=_positive(env, "NETLENS_STORE_MB", None))


def _positive(env, name: str, default):
    raw = str(env.get(name, "")).strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ValueError(f"{name} must be a positive number; got {raw!r}. Fix it or unset it.")
    return value


class Store:
    """The shared folder: results by job key, arrays by content hash, watcher leases."""

    def __init__(self, config: StoreConfig | str):
        self.config = config if isinstance(config, StoreConfig) else StoreConfig(root=str(config))
        self.root = Path(self.config.root)
        for sub in ("results", "live", "data", "leases", "tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------ results

    def path(self, key: str) -> Path:
        return self.root / "results" / _check_name(key, "job key")

    def put(self, key: str, files: dict[str, bytes], meta: dict | None = None) -> bool:
        """Write ``files`` under ``key`` atomically with their checksums. False when a valid entry
        was there already (it is kept; this one is discarded)."""
        tmp = self.root / "tmp" / f"{_check_name(key, 'job key')}.{uuid.uuid4().hex}"
        tmp.mkdir()
        try:
            manifest = {"key": key, "created": time.time(), "meta": meta or {}, "files": {}}
            for name, data in files.items():
                data = bytes(data)
                (tmp / _check_name(name, "file name")).write_bytes(data)
                manifest["files"][name] = {"sha256": sha256(data), "bytes": len(data)}
            (tmp / MANIFEST).write_text(json.dumps(manifest, sort_keys=True))
            target = self.path(key)
            if target.exists() and self.get(key) is not None:
                return False
            try:
                os.replace(tmp, target)
            except OSError:  # another writer's complete entry is there now: keep it
                return False
            return True
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def get(self, key: str) -> dict[str, bytes] | None:
        """The files under ``key``, each checked against the manifest; None when missing, partial
        or altered (then the damaged entry is removed, so the work is done again)."""
        folder = self.path(key)
        try:
            manifest = json.loads((folder / MANIFEST).read_text())
            out = {}
            for name, want in manifest["files"].items():
                data = (folder / _check_name(name, "file name")).read_bytes()
                if len(data) != want["bytes"] or sha256(data) != want["sha256"]:
                    raise ValueError(f"{name} does not match its checksum")
                out[name] = data
        except FileNotFoundError:
            if folder.exists():
                self._remove(folder)  # no manifest: not a complete entry
            return None
        except (OSError, ValueError, KeyError, TypeError):
            self._remove(folder)
            return None
        return out

    def has(self, key: str) -> bool:
        return self.get(key) is not None

    def _remove(self, folder: Path) -> None:
        trash = self.root / "tmp" / f"trash.{uuid.uuid4().hex}"
        try:
            os.replace(folder, trash)  # gone from view at once, deleted at leisure
        except OSError:
            return
        shutil.rmtree(trash, ignore_errors=True)

    # ------------------------------------------------------------ live files of a running job

    def put_live(self, key: str, name: str, data: bytes) -> None:
        folder = self.root / "live" / _check_name(key, "job key")
        folder.mkdir(parents=True, exist_ok=True)
        _atomic_write(folder / _check_name(name, "file name"), data, self.root / "tmp")

    def drop_live(self, key: str, name: str) -> None:
        (self.root / "live" / _check_name(key, "job key") / _check_name(name, "file name")).unlink(missing_ok=True)

    def get_live(self, key: str, name: str) -> bytes | None:
        try:
            return (self.root / "live" / _check_name(key, "job key") / _check_name(name, "file name")).read_bytes()
        except OSError:
            return None

    # ------------------------------------------------------------ arrays by content hash

    def _put_data(self, data: bytes, suffix: str) -> str:
        """``data`` under its content hash in data/ (once; marked used when it is there); returns the hash."""
        digest = sha256(data)
        path = self.root / "data" / f"{digest}{suffix}"
        if path.exists():
            os.utime(path)  # used now
        else:
            _atomic_write(path, data, self.root / "tmp")
        return digest

    def _get_data(self, digest: str, suffix: str, what: str) -> bytes:
        """The bytes stored under ``digest``; ValueError when missing or not matching their hash (then removed)."""
        path = self.root / "data" / f"{_check_name(digest, 'content hash')}{suffix}"
        try:
            data = path.read_bytes()
        except OSError:
            raise ValueError(f"The {what} {digest} is not in the store at {self.root} (deleted after an hour "
                             "unused?). Submit the job again from the app.") from None
        if sha256(data) != digest:
            path.unlink(missing_ok=True)
            raise ValueError(f"The {what} {digest} in the store is damaged (its content does not match its "
                             "hash); it was removed. Submit the job again from the app.")
        return data

    def put_array(self, array: np.ndarray) -> str:
        """Store ``array`` as .npy under its content hash (once); returns the hash."""
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
        return self._put_data(buf.getvalue(), ".npy")

    def get_array(self, digest: str) -> np.ndarray:
        """The array stored under ``digest``; ValueError when it is missing or does not match its hash."""
        return np.load(io.BytesIO(self._get_data(digest, ".npy", "array")), allow_pickle=False)

    def put_json(self, value) -> str:
        return self._put_data(json.dumps(value, sort_keys=True).encode(), ".json")

    def get_json(self, digest: str):
        return json.loads(self._get_data(digest, ".json", "settings"))

    def put_blob(self, data: bytes) -> str:
        """Opaque bytes (e.g. a training's recording as .safetensors) under their content hash."""
        return self._put_data(bytes(data), ".bin")

    def get_blob(self, digest: str) -> bytes:
        return self._get_data(digest, ".bin", "file")

    def touch_data(self, *digests: str) -> None:
        """Mark arrays as in use (a session still holds the data)."""
        for d in digests:
            for suffix in (".npy", ".json", ".bin"):
                p = self.root / "data" / f"{_check_name(d, 'content hash')}{suffix}"
                if p.exists():
                    os.utime(p)

    # ------------------------------------------------------------ watcher leases

    def renew_lease(self, key: str, server: str) -> None:
        folder = self.root / "leases" / _check_name(key, "job key")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / _check_name(server, "server id")
        path.touch()
        os.utime(path)

    def drop_lease(self, key: str, server: str) -> None:
        (self.root / "leases" / _check_name(key, "job key") / _check_name(server, "server id")).unlink(missing_ok=True)

    def fresh_leases(self, key: str, max_age_s: float = LEASE_S, now: float | None = None) -> int:
        """How many app servers renewed their lease on ``key`` within ``max_age_s``."""
        now = time.time() if now is None else now
        folder = self.root / "leases" / _check_name(key, "job key")
        n = 0
        for p in folder.glob("*") if folder.is_dir() else ():
            try:
                n += now - p.stat().st_mtime <= max_age_s
            except OSError:
                pass
        return n

    # ------------------------------------------------------------ retention

    def clean(self, now: float | None = None) -> dict:
        """Retention (see the module docstring). Returns how many of each were removed."""
        now = time.time() if now is None else now
        removed = {"results": 0, "data": 0, "leases": 0, "live": 0, "tmp": 0}
        entries = []
        for folder in (self.root / "results").iterdir():
            try:
                created = json.loads((folder / MANIFEST).read_text())["created"]
                size = sum(f.stat().st_size for f in folder.iterdir())
            except (OSError, ValueError, KeyError, TypeError):
                created, size = _mtime(folder), 0
            entries.append((float(created), size, folder))
        entries.sort(key=lambda e: e[0])
        total = sum(e[1] for e in entries)
        cap = None if self.config.max_mb is None else self.config.max_mb * 1e6
        for created, size, folder in entries:
            if now - created > self.config.days * 86400 or (cap is not None and total > cap):
                self._remove(folder)
                total -= size
                removed["results"] += 1
        for path in (self.root / "data").iterdir():
            if now - _mtime(path) > DATA_IDLE_S:
                path.unlink(missing_ok=True)
                removed["data"] += 1
        for sub, age in (("leases", 2 * LEASE_S), ("live", 86400.0), ("tmp", 3600.0)):
            for path in (self.root / sub).iterdir():
                newest = max([_mtime(path)] + [_mtime(p) for p in path.glob("*")] if path.is_dir() else [_mtime(path)])
                if now - newest > age:
                    shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
                    removed[sub] += 1
        return removed

    def size_mb(self) -> float:
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file()) / 1e6


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _atomic_write(path: Path, data: bytes, tmp_dir: Path) -> None:
    tmp = tmp_dir / f"{path.name}.{uuid.uuid4().hex}"
    tmp.write_bytes(data)
    os.replace(tmp, path)
