"""A browser's saved work, as far as it can cross app servers (issue 33, the cluster back end). No Streamlit.

A reload normally reaches the same app server (the sticky load balancer's route cookie), which keeps the
work in its memory (dashboard/core/saved_work.py). When it lands on another server (one was removed, or
the route cookie was lost), that server has nothing in memory for the browser's work id; this record in
the shared store lets it bring back what the store holds: the session's trained models, by the settings
that key their results. Uploads (and anything else in the first server's memory) cannot come back.

    work/<sha256 of the work id>   {"models": [{"name", "description", "spec"}], "uploads": [names]}

- The work id itself is never written (the file is named by its hash): reading the store does not give
  anyone a browser's id.
- Signed with the store's key and bound to its path (``store_key.sign_bytes``), like every store entry:
  a record planted or altered by someone without the key is ignored (logged).
- Expiry: a record not renewed for ``ttl_s`` (the sessions' TTL, renewed while a session of the id is
  held) reads as missing and is removed; Start over and the first server's forgetting the id remove it.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import uuid
from pathlib import Path

from analysis.compute import store_key
from analysis.compute.store import StoreConfig

__all__ = ["SharedWork"]

log = logging.getLogger(__name__)
MAX_RECORD = 64_000  # bytes: a few dozen models' settings and upload names


class SharedWork:
    """Work records in the shared store's folder ``work/`` (see the module's docstring)."""

    def __init__(self, config: StoreConfig | str, key: bytes | None = None, ttl_s: float = 120.0, clock=time.time):
        config = config if isinstance(config, StoreConfig) else StoreConfig(root=str(config))
        self._key = key or config.key or store_key.load_key()
        self.root = Path(config.root) / "work"
        self.root.mkdir(parents=True, exist_ok=True)
        self.ttl_s, self.clock = float(ttl_s), clock

    @staticmethod
    def _name(work_id: str) -> str:
        return hashlib.sha256(str(work_id).encode("utf-8")).hexdigest()

    def put(self, work_id: str, record: dict) -> None:
        """Write (or replace) the record of ``work_id``; ValueError when it is too big to be a record."""
        name = self._name(work_id)
        data = json.dumps(record, sort_keys=True, separators=(",", ":")).encode("utf-8")
        if len(data) > MAX_RECORD:
            raise ValueError(f"Expected a saved-work record of at most {MAX_RECORD} bytes; got {len(data)}.")
        tmp = self.root / f".tmp.{uuid.uuid4().hex}"
        tmp.write_bytes(store_key.sign_bytes(data, self._key, f"work/{name}"))
        os.replace(tmp, self.root / name)

    def get(self, work_id: str) -> dict | None:
        """The record of ``work_id``: None when there is none, it expired, or it is not signed with the store's key."""
        name = self._name(work_id)
        path = self.root / name
        try:
            age = self.clock() - path.stat().st_mtime
            blob = path.read_bytes()
        except OSError:
            return None
        if age > self.ttl_s:
            path.unlink(missing_ok=True)
            return None
        data = store_key.verify_bytes(blob, self._key, f"work/{name}")
        try:
            record = json.loads(data) if data is not None else None
        except ValueError:
            record = None
        if not isinstance(record, dict):
            log.warning("NetLens store: the saved-work record %s in %s is not signed with this store's key; "
                        "ignored.", name[:12], self.root)
            return None
        return record

    def renew(self, work_id: str) -> bool:
        """A session of ``work_id`` is still held: its record lives on. False when there is none to renew."""
        try:
            os.utime(self.root / self._name(work_id))
        except OSError:
            return False
        return True

    def drop(self, work_id: str) -> None:
        (self.root / self._name(work_id)).unlink(missing_ok=True)

    def clean(self) -> int:
        """Remove the records not renewed for ttl_s (and leftovers); how many."""
        gone, now = 0, self.clock()
        for path in self.root.iterdir():
            try:
                if now - path.stat().st_mtime > max(self.ttl_s, 60.0 if path.name.startswith(".tmp.") else 0):
                    path.unlink(missing_ok=True)
                    gone += 1
            except OSError:
                pass
        return gone
