"""Saved work across app servers (issue 33 with the cluster back end; the reload cookie itself is
dashboard/core/saved_work.py). No page draws here.

While a session of a browser's work id is held, the server that holds it keeps a small signed record of
that work in the shared store (analysis.compute.work_shared): the session's trained models by the settings
that key their results in the store, and the names of its uploads. When the browser's next page load lands
on another app server (a server removed, the route cookie lost), that server finds no work for the id in
its memory, reads the record, and brings the models back from the store's results (no training is started
for it: a model whose result the store no longer has stays behind); the uploads live only in the first
server's memory, and the page says so in plain words.

Only models trained on a built-in dataset (MNIST-5k, …) and run to the end are in the record: a stopped run,
a model trained on an uploaded zip, or weights loaded from a file are named among what did not come back.
"""
from __future__ import annotations

import json
import time

from analysis.compute.cluster.plans import train_plan
from analysis.compute.jobspec import TrainSpec, parse_train_spec, to_json
from analysis.compute.store import StoreConfig
from analysis.compute.work_shared import SharedWork
from dashboard.core import runtime, server, session_models
from dashboard.core import training_jobs as ts
from dashboard.core.guard import plain

SHARED = (SharedWork(StoreConfig.from_env(), ttl_s=runtime.session_ttl_s())
          if server.CLUSTER and not server.CLUSTER_PROBLEM else None)


def record(values: dict, uploads: list[str]) -> dict:
    """What another server could bring back of a session's carried state (``values``): its models by their
    settings (or by name only, when the store cannot hold them), and its uploads' names."""
    models = values.get(session_models.KEY)
    rows = []
    for sm in getattr(models, "models", {}).values():
        t = sm.trained
        keyed = t.dataset_name in ts.KNOWN_DATASETS and not t.dataset_fingerprint and not t.history.stopped
        spec = to_json(TrainSpec(dataset=t.dataset_name, model=t.model_config, train=t.train_config)) if keyed else ""
        rows.append({"name": sm.name, "description": sm.description, "spec": spec})
    return {"models": rows, "uploads": list(uploads)}


def publish(work_id: str, values: dict, uploads: list[str], last: str | None) -> str | None:
    """Write the record of ``work_id`` when it changed (or is gone from the store), else renew it; returns
    what was written (pass it back as ``last`` next time)."""
    if SHARED is None:
        return last
    fingerprint = json.dumps(record(values, uploads), sort_keys=True)
    if fingerprint == last and SHARED.renew(work_id):
        return last
    SHARED.put(work_id, json.loads(fingerprint))
    return fingerprint


def fetch(work_id: str) -> dict | None:
    return None if SHARED is None or not work_id else SHARED.get(work_id)


_CLEANED = {"at": float("-inf")}
CLEAN_EVERY_S = 60.0


def clean() -> None:
    """Remove the records no server renewed for the TTL (browsers never seen again); at most once a minute."""
    now = time.monotonic()
    if SHARED is not None and now - _CLEANED["at"] >= CLEAN_EVERY_S:
        _CLEANED["at"] = now
        SHARED.clean()


def drop(work_id: str) -> None:
    if SHARED is not None and work_id:
        SHARED.drop(work_id)


def _from_store(spec_json: str):
    """The trained model of these settings from the store's results, or None (never trains)."""
    spec = parse_train_spec(spec_json)
    if not isinstance(spec.dataset, str):
        return None
    for recorded in (spec.record, not spec.record):
        plan = train_plan(server.EXECUTOR, {"dataset": spec.dataset, "model_config": spec.model,
                                            "train_config": spec.train, "record": recorded})
        files = server.EXECUTOR.store.get(plan.key)
        if files is not None:
            return plan.result(files)
    return None


def restore(rec: dict) -> tuple[str, bool]:
    """Bring the record's models back into this session (from the store); (the notice, whether something
    did not come back)."""
    back, left = [], []
    for row in rec.get("models") or []:
        name, spec = str(row.get("name", "")), str(row.get("spec") or "")
        try:
            trained = _from_store(spec) if spec else None
        except (ValueError, KeyError, TypeError, OSError):
            trained = None
        if trained is None:
            left.append(name)
            continue
        session_models.add(trained, ts.dataset(trained.dataset_name), name, str(row.get("description") or name))
        back.append(name)
    uploads = [str(u) for u in rec.get("uploads") or []]
    text = ("This page was opened on another of the class's app servers: "
            + (f"your models came back from the shared store ({', '.join(f'“{plain(n)}”' for n in back)}). "
               if back else "none of your models could come back. "))
    if left:
        text += "Not back: " + ", ".join(f"“{plain(n)}”" for n in left) + " (train them again). "
    if uploads:
        text += ("Your uploads did not come back (" + ", ".join(f"“{plain(u)}”" for u in uploads)
                 + "): they stayed on the other server; upload them again. ")
    text += "Your settings on each page are back to the defaults."
    return text, bool(left or uploads)
