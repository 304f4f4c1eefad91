"""The shared store's folder layer (analysis.compute.store): names, content hashes, atomic writes,
removal, and retention (`retain`, what Store.clean does). Pure Python: no Streamlit, no Ray here."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
import uuid
from pathlib import Path

__all__ = ["LEASE_S", "DATA_IDLE_S", "DATA_BUSY_S", "MANIFEST", "check_name", "sha256", "atomic_write",
           "remove_entry", "retain"]

LEASE_S = 30.0        # a watcher lease older than this no longer keeps a job alive
DATA_IDLE_S = 3600.0  # user data (arrays by content hash) unused this long is deleted
DATA_BUSY_S = 120.0   # data touched this recently (a watched job uses it) is never removed for the size cap
MANIFEST = "MANIFEST.json"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def check_name(name: str, what: str) -> str:
    """`name` when it is a safe file name (letters, digits, '.', '_', '-'; at most 128; no '..'); else ValueError."""
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
        raise ValueError(f"Expected a {what} of letters, digits, '.', '_' or '-' (at most 128); got {name!r}.")
    return name


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def atomic_write(path: Path, data: bytes, tmp_dir: Path) -> None:
    tmp = tmp_dir / f"{path.name}.{uuid.uuid4().hex}"
    tmp.write_bytes(data)
    os.replace(tmp, path)


def remove_entry(root: Path, folder: Path) -> None:
    """Move `folder` out of view at once (into the store's tmp/), then delete it at leisure."""
    trash = root / "tmp" / f"trash.{uuid.uuid4().hex}"
    try:
        os.replace(folder, trash)
    except OSError:
        return
    shutil.rmtree(trash, ignore_errors=True)


def retain(root: Path, days: float, max_mb: float | None, now: float | None = None, room: int = 0) -> dict:
    """Retention of the store at `root`: results older than `days` go, data unused for DATA_IDLE_S, then the
    oldest results and data until the store is under `max_mb` with `room` bytes to spare (data used in the
    last DATA_BUSY_S stays); leases, live files and writes in progress no one renewed. How many of each went."""
    now = time.time() if now is None else now
    removed = {"results": 0, "data": 0, "leases": 0, "live": 0, "tmp": 0}
    entries = []  # (when, bytes, path, kind): what the size cap may remove, oldest first
    for folder in (root / "results").iterdir():
        try:
            created = float(json.loads((folder / MANIFEST).read_text())["created"])
            size = sum(f.stat().st_size for f in folder.iterdir())
        except (OSError, ValueError, KeyError, TypeError):
            created, size = _mtime(folder), _size(folder)
        if now - created > days * 86400:
            remove_entry(root, folder)
            removed["results"] += 1
        else:
            entries.append((created, size, folder, "results"))
    for path in (root / "data").iterdir():
        used = _mtime(path)
        if now - used > DATA_IDLE_S:
            path.unlink(missing_ok=True)
            removed["data"] += 1
        else:
            entries.append((used, _size(path), path, "data"))
    cap = None if max_mb is None else max_mb * 1e6
    total = sum(e[1] for e in entries)
    for when, size, path, kind in sorted(entries, key=lambda e: e[0]):
        if cap is None or total + room <= cap:
            break
        if kind == "data":
            if now - when <= DATA_BUSY_S:
                continue  # a watched job uses it now
            path.unlink(missing_ok=True)
        else:
            remove_entry(root, path)
        total -= size
        removed[kind] += 1
    for sub, age in (("leases", 2 * LEASE_S), ("live", 86400.0), ("tmp", 3600.0)):
        for path in (root / sub).iterdir():
            newest = max([_mtime(path)] + [_mtime(p) for p in path.glob("*")] if path.is_dir() else [_mtime(path)])
            if now - newest > age:
                shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
                removed[sub] += 1
    return removed


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _size(path: Path) -> int:
    try:
        return path.stat().st_size if path.is_file() else sum(f.stat().st_size for f in path.iterdir())
    except OSError:
        return 0
