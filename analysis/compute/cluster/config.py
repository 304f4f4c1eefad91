"""The cluster back end's settings, read once from the environment (``ClusterConfig``), the code
version that every job key carries, the token set-up done before ``ray`` is imported, and ``Plan``:
one task as a cluster job (analysis.compute.cluster.plans makes them, .executor runs them)."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from analysis.compute.store import LEASE_S

ADDRESS_ENV = "NETLENS_RAY_ADDRESS"
INSECURE_ENV = "NETLENS_RAY_INSECURE"  # =1: a head without token authentication is accepted (shown in red on /admin)
PACKAGE = Path(__file__).resolve().parents[2]  # the `analysis` package: what the cluster runs


def prepare_ray_env(env=None) -> dict:
    """Before ``ray`` is imported: usage statistics off; with a token (NETLENS_RAY_TOKEN or
    RAY_AUTH_TOKEN) token authentication on (RAY_AUTH_MODE=token, read when ray is imported).
    Returns the HTTP headers that carry the token ({} without one)."""
    env = os.environ if env is None else env
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    token = str(env.get("NETLENS_RAY_TOKEN") or env.get("RAY_AUTH_TOKEN") or "").strip()
    if not token:
        return {}
    os.environ["RAY_AUTH_MODE"], os.environ["RAY_AUTH_TOKEN"] = "token", token
    return {"Authorization": f"Bearer {token}"}


@lru_cache(maxsize=1)
def code_version() -> str:
    """A hash of the analysis package's source: a new version never reuses an old result."""
    h = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*.py")):
        h.update(str(path.relative_to(PACKAGE)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class ClusterConfig:
    address: str                 # NETLENS_RAY_ADDRESS: the head's dashboard, http(s)://host:8265
    gpu_share: float = 0.25      # NETLENS_GPU_SHARE: the GPU fraction a job asks for (clusters with GPUs)
    python: str = "python"       # NETLENS_RAY_PYTHON: the interpreter on the cluster's nodes
    upload_code: bool = True     # NETLENS_RAY_UPLOAD_CODE=0: the nodes have this version of NetLens already
    poll_s: float = 1.0          # how often progress, status and leases are read
    lease_s: float = LEASE_S     # NETLENS_LEASE_S: a lease older than this keeps no job alive
    pending_limit_s: float = 900.0  # Ray's start timeout: pending longer is reported as a failure
    insecure: bool = False       # NETLENS_RAY_INSECURE=1 and no token: the head is used without authentication

    @classmethod
    def from_env(cls, env=None) -> "ClusterConfig":
        env = os.environ if env is None else env
        address = str(env.get(ADDRESS_ENV, "")).strip().rstrip("/")
        if not address.startswith(("http://", "https://")) or len(address) < 10:
            raise ValueError(f"{ADDRESS_ENV} must be the Ray head's dashboard address, e.g. http://head:8265; "
                             f"got {address!r}. Fix it, or unset it to run jobs on this machine.")
        share = _number(env, "NETLENS_GPU_SHARE", 0.25)
        if not 0 < share <= 1:
            raise ValueError(f"NETLENS_GPU_SHARE must be a fraction of a GPU above 0 and at most 1; got {share}.")
        lease_s = _number(env, "NETLENS_LEASE_S", LEASE_S)
        token = str(env.get("NETLENS_RAY_TOKEN") or env.get("RAY_AUTH_TOKEN") or "").strip()
        insecure = str(env.get(INSECURE_ENV, "")).strip() == "1"
        if not token and not insecure:
            raise ValueError(f"{ADDRESS_ENV} is set but NETLENS_RAY_TOKEN is not: this app does not talk to a Ray "
                             "head without token authentication (anyone who reaches its Jobs API can run any "
                             "command on the cluster). Start the head with RAY_AUTH_MODE=token and set "
                             f"NETLENS_RAY_TOKEN to its token; only on a private test cluster, set {INSECURE_ENV}=1.")
        return cls(address=address, gpu_share=share, python=str(env.get("NETLENS_RAY_PYTHON", "python")),
                   upload_code=str(env.get("NETLENS_RAY_UPLOAD_CODE", "1")).strip() != "0",
                   lease_s=lease_s, insecure=insecure and not token)


def _number(env, name: str, default: float) -> float:
    raw = str(env.get(name, "")).strip()
    try:
        return float(raw) if raw else default
    except ValueError:
        raise ValueError(f"{name} must be a number; got {raw!r}. Fix it or unset it.") from None


@dataclass
class Plan:
    """One task as a cluster job: its key, its command line, and how to read what it writes."""
    task: str
    key: str
    argv: list
    result: Callable[[dict], Any]           # the store's files -> the task's return value
    latest: Callable[[dict], Any] | None    # a progress line -> the payload for on_progress
    data: tuple = ()                        # content hashes of the arrays it reads (kept in use)


VERSION_EXIT = 4  # the exit status of a job whose node runs another version of NetLens
MISMATCH_SIGNS = (
    '"netlens": "version-mismatch"',
    "No module named 'analysis",
    "unrecognized arguments: --code-version",
)


def version_mismatch(logs: str) -> str | None:
    """The plain message for a job that failed because its node runs another NetLens (None otherwise):
    the job said so itself, or an older NetLens could not find this version's modules or options."""
    if not any(sign in logs for sign in MISMATCH_SIGNS):
        return None
    return ("Version mismatch: the cluster's nodes run another version of NetLens than this app server "
            f"(code version {code_version()}). Install this version on every node, or set "
            "NETLENS_RAY_UPLOAD_CODE=1 so each job brings this server's code.")
