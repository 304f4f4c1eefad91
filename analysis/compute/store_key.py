"""The shared store's signing key (analysis.compute.store): every result's manifest and every live file
carries an HMAC-SHA256 made with it, so a host or job that can write the store but does not hold
the key cannot plant a result that an app server serves. No Streamlit, no Ray here.

Where the key comes from (the first that is set):

- ``NETLENS_STORE_KEY_FILE``: the path of a file holding the key (e.g. ``openssl rand -hex 32 >
  /etc/netlens/store.key; chmod 0400``), readable by the app servers and by the Ray nodes' user.
- ``NETLENS_STORE_KEY``: the key itself (at least ``MIN_KEY_CHARS`` characters).

How a cluster job gets it: Ray keeps a job's command line, its metadata *and its runtime
environment* (``env_vars`` included) and shows them to anyone who can reach the Jobs API
(``ray job list``, the dashboard), so the key never travels with a job. The app passes only the
key file's *path* (``NETLENS_STORE_KEY_FILE``, not a secret) in the job's ``env_vars``; the file
itself is on each node (a Kubernetes secret mounted at the same path, or a file the sysadmin put
there). A node started with ``NETLENS_STORE_KEY`` (or ``NETLENS_STORE_KEY_FILE``) in the
environment of ``ray start`` works too: Ray's workers inherit the environment of the node.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path

__all__ = ["KEY_ENV", "KEY_FILE_ENV", "MIN_KEY_CHARS", "load_key", "key_file_path", "sign", "verify",
           "sign_bytes", "verify_bytes", "LIVE_MAGIC"]

KEY_ENV = "NETLENS_STORE_KEY"
KEY_FILE_ENV = "NETLENS_STORE_KEY_FILE"
MIN_KEY_CHARS = 32
LIVE_MAGIC = b"NLS1"  # a signed live file: magic, 32 bytes of HMAC, then the data
_HOW = ("Make one with `openssl rand -hex 32 > /etc/netlens/store.key` and set NETLENS_STORE_KEY_FILE to its path "
        "on every app server and cluster node (or NETLENS_STORE_KEY to the key itself)")


def key_file_path(env=None) -> str:
    env = os.environ if env is None else env
    return str(env.get(KEY_FILE_ENV, "") or "").strip()


def load_key(env=None) -> bytes:
    """The store's key from ``env`` (os.environ by default); ValueError in plain words when it is
    missing, unreadable or too short (never the key itself in the message)."""
    env = os.environ if env is None else env
    path = key_file_path(env)
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as e:
            why = getattr(e, "strerror", None) or type(e).__name__
            raise ValueError(f"{KEY_FILE_ENV} is {path!r}, but this process (user id {os.geteuid()}) cannot read "
                             f"it as text ({why}). Expected a file holding the store's key. Fix the path or its "
                             "permissions.") from None
        where = f"the key file {path!r} ({KEY_FILE_ENV})"
    else:
        text = str(env.get(KEY_ENV, "") or "").strip()
        where = KEY_ENV
        if not text:
            raise ValueError(f"The shared store has no signing key: neither {KEY_FILE_ENV} nor {KEY_ENV} is set, "
                             "and the cluster back end does not start without one (anyone who can write the "
                             f"store could otherwise plant results). {_HOW}.")
    if len(text) < MIN_KEY_CHARS:
        raise ValueError(f"The store's signing key in {where} has {len(text)} characters; expected at least "
                         f"{MIN_KEY_CHARS}. {_HOW}.")
    return text.encode("utf-8")


def _canonical(manifest: dict) -> bytes:
    body = {k: v for k, v in manifest.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")


def sign(manifest: dict, key: bytes) -> dict:
    """``manifest`` with its signature (HMAC-SHA256 of its canonical JSON, the signature left out)."""
    return {**manifest, "signature": {"hmac-sha256": hmac.new(key, _canonical(manifest), hashlib.sha256).hexdigest()}}


def verify(manifest: dict, key: bytes) -> str | None:
    """None when ``manifest`` carries a valid signature made with ``key``; else why not, in words."""
    sig = manifest.get("signature") if isinstance(manifest, dict) else None
    if not isinstance(sig, dict) or not isinstance(sig.get("hmac-sha256"), str):
        return "it is not signed"
    want = hmac.new(key, _canonical(manifest), hashlib.sha256).hexdigest()
    return None if hmac.compare_digest(want, sig["hmac-sha256"]) else "its signature does not match this store's key"


def _live_mac(key: bytes, what: str, data: bytes) -> bytes:
    return hmac.new(key, what.encode("utf-8") + b"\0" + data, hashlib.sha256).digest()


def sign_bytes(data: bytes, key: bytes, what: str) -> bytes:
    """``data`` as a signed live file: bound to ``what`` (``<job key>/<name>``) so it cannot be moved."""
    return LIVE_MAGIC + _live_mac(key, what, data) + data


def verify_bytes(blob: bytes, key: bytes, what: str) -> bytes | None:
    """The data of a signed live file, or None when it is unsigned or signed with another key."""
    head = len(LIVE_MAGIC) + 32
    if len(blob) < head or not blob.startswith(LIVE_MAGIC):
        return None
    data = blob[head:]
    return data if hmac.compare_digest(blob[len(LIVE_MAGIC):head], _live_mac(key, what, data)) else None
