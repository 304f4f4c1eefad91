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
- Signed (analysis.compute.store_key): the manifest carries an HMAC-SHA256 of itself (the job key, each
  file's sha256 and size) made with the store's key, which only the app servers and the jobs hold;
  a live file carries one of its bytes. A Store cannot be made without the key.
- ``get(key)`` verifies the manifest's signature and every file against it; an unsigned, wrongly
  signed, partial or altered entry is logged, removed and reads as missing (the caller computes it
  again). A read that fails with an OSError (a stale NFS handle, too many open files) is not
  damage: it is tried ``READ_TRIES`` times, then ``StoreReadError`` says so; the entry is kept.
- ``clean()`` applies retention: entries older than ``NETLENS_STORE_DAYS`` (default 7) go, data
  arrays unused for ``DATA_IDLE_S`` (an hour), then the oldest results *and data* until the store
  is under ``NETLENS_STORE_MB`` (default: no size cap; data a job used in the last ``DATA_BUSY_S``
  stays); leases and live files of jobs no one watches.
- Quota: data put while ``OWNER`` names a session (analysis.compute.tasks.as_job sets it to the job's
  holder) counts against that session's ``NETLENS_STORE_SESSION_MB`` (default 500); new data
  past it, or past the size cap after retention, is refused with a plain ValueError. The count
  is kept by the app server that holds the session (a session lives on one server).
"""
from __future__ import annotations

import contextvars
import io
import json
import logging
import os
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from analysis.compute import store_files, store_key
from analysis.compute.store_files import (
    DATA_BUSY_S,
    DATA_IDLE_S,
    LEASE_S,
    MANIFEST,
    atomic_write,
    remove_entry,
    sha256,
)
from analysis.compute.store_files import check_name as _check_name

__all__ = ["Store", "StoreConfig", "StoreReadError", "LEASE_S", "DATA_IDLE_S", "DATA_BUSY_S", "OWNER", "READ_TRIES"]

log = logging.getLogger(__name__)

READ_TRIES = 3        # a read failing with an OSError is tried this often before it is reported
RETRY_WAIT_S = (0.1, 0.5)
OWNER: contextvars.ContextVar = contextvars.ContextVar("netlens_store_owner", default=None)  # who puts data now


class StoreReadError(RuntimeError):
    """The store could not be read (an OSError, after ``READ_TRIES`` tries); nothing was removed."""


class _Damaged(ValueError):
    """An entry that is partial, altered, unsigned or signed with another key (removed)."""



@dataclass(frozen=True)
class StoreConfig:
    root: str = ""            # NETLENS_STORE
    days: float = 7.0         # NETLENS_STORE_DAYS: results older than this are removed
    max_mb: float | None = None  # NETLENS_STORE_MB: the oldest results and data go until the store is under this
    session_mb: float = 500.0    # NETLENS_STORE_SESSION_MB: the data one session may put into the store
    key: bytes | None = field(default=None, repr=False)  # NETLENS_STORE_KEY(_FILE); None: read from os.environ

    @classmethod
    def from_env(cls, env=None) -> "StoreConfig":
        env = os.environ if env is None else env
        root = str(env.get("NETLENS_STORE", "")).strip()
        if not root:
            raise ValueError("NETLENS_STORE is not set: expected the path of a folder every app server and "
                             "cluster node mounts (e.g. /srv/netlens/store). Set it, or unset NETLENS_RAY_ADDRESS.")
        return cls(root=root, days=_positive(env, "NETLENS_STORE_DAYS", 7.0),
                   max_mb=_positive(env, "NETLENS_STORE_MB", None),
                   session_mb=_positive(env, "NETLENS_STORE_SESSION_MB", 500.0), key=store_key.load_key(env))


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

    def __init__(self, config: StoreConfig | str, key: bytes | None = None):
        """``key``: the signing key; else the config's; else NETLENS_STORE_KEY(_FILE) from os.environ
        (ValueError in plain words when there is none)."""
        self.config = config if isinstance(config, StoreConfig) else StoreConfig(root=str(config))
        self._key = key or self.config.key or store_key.load_key()
        self.root = Path(self.config.root)
        self._owned: dict[str, dict[Path, int]] = {}  # session -> the data files it put (this server)
        self._lock = threading.Lock()
        self._warned: set = set()
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
            (tmp / MANIFEST).write_text(json.dumps(store_key.sign(manifest, self._key), sort_keys=True))
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
        """The files under ``key``, the manifest's signature and each file's checksum checked; None
        when missing, or unsigned, wrongly signed, partial or altered (then logged and removed, so the
        work is done again). StoreReadError when an OSError persists over READ_TRIES tries (kept)."""
        folder = self.path(key)
        for attempt in range(READ_TRIES):
            try:
                return self._read(folder, key)
            except _Damaged as e:
                log.warning("NetLens store: the result %s in %s is not served and was removed: %s",
                            key, self.root, e)
                self._remove(folder)
                return None
            except OSError as e:  # not damage: a stale handle, too many open files, a network hiccup
                if attempt + 1 == READ_TRIES:
                    why = e.strerror or type(e).__name__
                    log.error("NetLens store: could not read the result %s in %s (%s) after %d tries; kept it.",
                              key, self.root, why, READ_TRIES)
                    raise StoreReadError(f"The result {key} in the shared store {self.root} could not be read "
                                         f"({why}) after {READ_TRIES} tries; it was kept. Press Retry in a "
                                         "moment; if this goes on, check the store's mount on this app "
                                         "server.") from None
                time.sleep(RETRY_WAIT_S[min(attempt, len(RETRY_WAIT_S) - 1)])
        return None  # not reached

    def _read(self, folder: Path, key: str) -> dict[str, bytes] | None:
        if not folder.exists():
            return None
        try:
            text = (folder / MANIFEST).read_text()
        except FileNotFoundError:
            raise _Damaged("it has no manifest (not a complete entry)") from None
        try:
            manifest = json.loads(text)
        except ValueError:
            raise _Damaged("its manifest is not valid JSON") from None
        problem = store_key.verify(manifest, self._key)
        if problem:
            raise _Damaged(problem)
        if manifest.get("key") != key or not isinstance(manifest.get("files"), dict):
            raise _Damaged("its signed manifest is for another job key")
        out = {}
        for name, want in manifest["files"].items():
            try:
                data = (folder / _check_name(name, "file name")).read_bytes()
            except FileNotFoundError:
                raise _Damaged(f"its file {name} is missing") from None
            except ValueError as e:
                raise _Damaged(str(e)) from None
            if not isinstance(want, dict) or len(data) != want.get("bytes") or sha256(data) != want.get("sha256"):
                raise _Damaged(f"its file {name} does not match its checksum")
            out[name] = data
        return out

    def has(self, key: str) -> bool:
        return self.get(key) is not None

    def _remove(self, folder: Path) -> None:
        remove_entry(self.root, folder)

    # ------------------------------------------------------------ live files of a running job

    def put_live(self, key: str, name: str, data: bytes) -> None:
        folder = self.root / "live" / _check_name(key, "job key")
        folder.mkdir(parents=True, exist_ok=True)
        what = f"{key}/{name}"
        atomic_write(folder / _check_name(name, "file name"), store_key.sign_bytes(bytes(data), self._key, what),
                      self.root / "tmp")

    def drop_live(self, key: str, name: str) -> None:
        (self.root / "live" / _check_name(key, "job key") / _check_name(name, "file name")).unlink(missing_ok=True)

    def get_live(self, key: str, name: str) -> bytes | None:
        """A live file's data; None when it is not there (yet), or unsigned or signed with another key
        (logged once per file)."""
        try:
            blob = (self.root / "live" / _check_name(key, "job key") / _check_name(name, "file name")).read_bytes()
        except OSError:
            return None
        data = store_key.verify_bytes(blob, self._key, f"{key}/{name}")
        if data is None and (key, name) not in self._warned and len(self._warned) < 1000:
            self._warned.add((key, name))
            log.warning("NetLens store: the live file %s/%s in %s is not signed with this store's key; ignored.",
                        key, name, self.root)
        return data

    # ------------------------------------------------------------ arrays by content hash

    def _put_data(self, data: bytes, suffix: str) -> str:
        """``data`` under its content hash in data/ (once; marked used when it is there); returns the hash."""
        digest = sha256(data)
        path = self.root / "data" / f"{digest}{suffix}"
        if path.exists():
            os.utime(path)  # used now
            return digest
        owner = OWNER.get()
        owner = (
            None if owner is None or str(owner).startswith("server") else str(owner)
        )  # the server's own warm-up: no quota
        with self._lock:
            self._admit(len(data), owner)
            atomic_write(path, data, self.root / "tmp")
            if owner is not None:
                self._owned.setdefault(owner, {})[path] = len(data)
        return digest

    def session_bytes(self, owner: str) -> int:
        """The bytes of data ``owner`` put into the store that are still there (this server's count)."""
        owned = self._owned.get(owner, {})
        for path in [p for p in owned if not p.exists()]:
            del owned[path]
        if not owned:
            self._owned.pop(owner, None)
        return sum(owned.values())

    def used_bytes(self) -> int:
        """What the size cap counts: the results and the data."""
        total = 0
        for sub in ("results", "data"):
            for p in (self.root / sub).rglob("*"):
                try:
                    total += p.stat().st_size if p.is_file() else 0
                except OSError:
                    pass
        return total

    def _admit(self, nbytes: int, owner: str | None) -> None:
        """ValueError in plain words when ``nbytes`` more would pass the session's quota or the size cap."""
        if owner is not None:
            used, quota = self.session_bytes(owner), self.config.session_mb * 1e6
            if used + nbytes > quota:
                raise ValueError(f"Your session has put {used / 1e6:.2f} MB of data into the shared store, and "
                                 f"{nbytes / 1e6:.2f} MB more would pass the per-session quota of "
                                 f"{self.config.session_mb:g} MB (NETLENS_STORE_SESSION_MB). Use fewer or smaller "
                                 "uploads, or try again in an hour, when data no job uses has expired.")
        if self.config.max_mb is not None:
            cap = self.config.max_mb * 1e6
            if self.used_bytes() + nbytes > cap:
                self.clean(room=nbytes)
                used = self.used_bytes()
                if used + nbytes > cap:
                    raise ValueError(f"The shared store is full: {used / 1e6:.2f} MB in use after retention, and "
                                     f"{nbytes / 1e6:.2f} MB more would pass NETLENS_STORE_MB={self.config.max_mb:g}. "
                                     "Try again later, or ask the administrator to raise NETLENS_STORE_MB.")

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

    def clean(self, now: float | None = None, room: int = 0) -> dict:
        """Retention (see the module docstring and store_files.retain); under the size cap with ``room``
        bytes to spare. Returns how many of each were removed."""
        return store_files.retain(self.root, self.config.days, self.config.max_mb, now, room)

    def size_mb(self) -> float:
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file()) / 1e6

