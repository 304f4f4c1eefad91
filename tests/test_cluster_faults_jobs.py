"""Faults of the cluster back end's jobs (issue 15: faults 1, 3 and 4), each on the REAL local Ray
head (tests/conftest.py's `ray_head`) with TWO real Streamlit app servers sharing one store, driven
by websocket sessions (benchmarks/load_steps.Student) that see what a person sees:

1. The job's process is killed on the cluster (SIGKILL) → every watcher, on both servers, gets
   "The training stopped on the cluster: …" and a Retry button within 30 s; Retry runs it again
   under the next ID (`<key>-2`, counted with list_jobs) and both get the model.
3. An app server is killed mid-job (SIGKILL) → the job goes on while the other server's session
   watches it, and that session gets the model; a restarted server's request for it is answered
   from the store (no new job); when the only watching server is killed, the job stops itself
   (its watcher leases go stale) within a minute and leaves no result.
4. A result in the store truncated or altered → its checksum says so; the next request (on the
   other server) computes it again under `<key>-2`, the session gets the model with the same test
   accuracy, and the store holds a valid result again.

The servers run with NETLENS_LEASE_S=10 (the real setting for the watcher leases, default 30 s),
so a job no one watches stops in about 10 s instead of 30 s.
"""
from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest

pytest.importorskip("websockets")

from analysis.compute.cluster.executor import ClusterConfig, RayExecutor  # noqa: E402
from analysis.compute.cluster.plans import train_plan  # noqa: E402
from analysis.compute.store import Store  # noqa: E402
from analysis.models import default_config  # noqa: E402
from analysis.train import TrainConfig  # noqa: E402
from tests.helpers import (
    SHOWN_METRIC,  # noqa: E402
    jobs_for,  # noqa: E402
    run_in_own_loop,  # noqa: E402
)
from tests.servers import (  # noqa: E402  # noqa: E402
    TRAINED_METRIC,
    Server,
    Student,
    process_tree,
    start_servers,  # noqa: E402
)

pytestmark = pytest.mark.slow  # two app servers, a Ray head and real trainings; they run in CI
LEASE_S = 10.0
RUNNING = ("PENDING", "RUNNING")


class App:
    """Two app servers on one Ray head and one store; a server a test killed is started again
    the next time a test asks for it."""

    def __init__(self, head, folder: Path):
        self.folder = folder
        self.env = {"NETLENS_RAY_ADDRESS": head.address, "NETLENS_STORE": str(folder / "store"), "NETLENS_WARM": "0",
                    "NETLENS_WORKERS": "0", "NETLENS_LEASE_S": str(LEASE_S), "NETLENS_RAY_INSECURE": "1"}
        self.probe = RayExecutor(ClusterConfig(address=head.address), Store(str(folder / "store")))
        self.store = self.probe.store
        self.servers: list[Server] = start_servers(2, folder, self.env)

    def server(self, i: int) -> Server:
        if self.servers[i].proc.poll() is not None:
            self.servers[i].stop()
            self.servers[i] = start_servers(1, self.folder, self.env)[0]
        return self.servers[i]

    def kill(self, i: int) -> None:
        """SIGKILL server i and everything it started (no goodbye to its sessions or leases)."""
        for pid in process_tree(self.servers[i].pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        self.servers[i].proc.wait(30)

    def jobs(self, key: str) -> list[str]:
        return sorted(str(j.submission_id) for j in jobs_for(self.probe, key))

    def status(self, sid: str) -> str:
        return str(self.probe.client().get_job_info(sid).status.value)

    def stop(self) -> None:
        for s in self.servers:
            s.stop()


@pytest.fixture(scope="module")
def app(ray_head, tmp_path_factory):
    a = App(ray_head, tmp_path_factory.mktemp("faults-jobs"))
    try:
        yield a
    finally:
        a.stop()


class Training:
    """One training as the Training page's link gives it (data, model, epochs, seed) and its job key."""

    def __init__(self, app: App, data: str, model: str, epochs: int, seed: int):
        self.query = f"data={data}&model={model}&epochs={epochs}&seed={seed}"
        kwargs = {
            "dataset": data,
            "model_config": default_config(model),
            "train_config": TrainConfig(epochs=epochs, seed=seed),
        }
        self.key = train_plan(app.probe, kwargs).key
        self.store = app.store

    def mid_way(self) -> bool:
        """An epoch has finished on the cluster (its weights snapshot is in the store)."""
        return self.store.get_live(self.key, "state.safetensors") is not None

    def pids(self) -> list[int]:
        """The training's own process on the cluster (`python -m analysis.train … --key <key>`)."""
        found = []
        for d in filter(str.isdigit, os.listdir("/proc")):
            try:
                cmd = Path(f"/proc/{d}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"analysis.train" in cmd and self.key.encode() in cmd:  # its own arguments (not a shell's string)
                found.append(int(d))
        return found


async def until(check, timeout: float, what: str):
    """Poll check() (in a thread: the sessions keep reading) until it is truthy; its value."""
    deadline = time.monotonic() + timeout
    while not (value := await asyncio.to_thread(check)):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        await asyncio.sleep(0.2)
    return value


async def open_training(s: Student, t: Training) -> None:
    s.query = t.query
    await s.connect()
    assert await s.wait(await s.goto("train"), lambda x: x.widget("button", "Train"), 90, "Training"), s.errors


async def press(s: Student, label: str) -> int:
    return await s.rerun([s.trigger(s.widget("button", label))])


async def trained(s: Student, seq: int, timeout: float) -> str:
    """Wait for the model; the validation accuracy the page shows for it (the test score is hidden)."""
    assert await s.wait(seq, lambda x: x.has("metric", TRAINED_METRIC), timeout, "the trained model"), s.errors
    return next((e.text for e in s.ordered() if e.kind == "metric" and e.text.startswith(SHOWN_METRIC)), "")


def in_loop(scenario):
    async def main():
        students: list[Student] = []
        try:
            return await scenario(students)
        finally:
            await asyncio.gather(*(s.close() for s in students), return_exceptions=True)
    return run_in_own_loop(main)


def test_a_killed_job_tells_every_watcher_and_retry_runs_it_again_under_a_new_id(app):
    """Fault 1."""
    t = Training(app, "mnist5k", "mlp", 20, 101)
    assert app.jobs(t.key) == []

    async def scenario(students):
        a, b = Student(app.server(0).base, 1), Student(app.server(1).base, 2)
        students += [a, b]
        await asyncio.gather(open_training(a, t), open_training(b, t))
        seqs = await asyncio.gather(press(a, "Train"), press(b, "Train"))
        await until(t.mid_way, 120, "an epoch finished on the cluster")
        pids = await until(t.pids, 10, "the training's process on the cluster")
        assert [s.has("progress", "Training") for s in (a, b)] == [True, True]  # both watch it
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        for s, seq in zip((a, b), seqs):  # no hang: the plain message and Retry, on both servers
            assert await s.wait(seq, lambda x: x.widget("button", "Retry"), 30, "the failure"), s.errors
        said = [[e.text for e in s.ordered() if e.kind == "alert" and "stopped on the cluster" in e.text.lower()]
                for s in (a, b)]
        assert app.status(t.key) == "FAILED" and all(len(x) == 1 for x in said), said
        for (text,) in said:
            assert text.lower().startswith("the training stopped on the cluster: its process was killed"), text
            assert text.endswith("Press Retry to run it again.") and "\n" not in text and len(text) < 400, text
        assert [s.errors for s in (a, b)] == [[], []]  # no exception, no lost connection
        seqs = [await press(a, "Retry"), await press(b, "Retry")]
        return [await trained(s, seq, 180) for s, seq in zip((a, b), seqs)]

    shown = in_loop(scenario)
    assert shown[0] == shown[1]
    assert app.jobs(t.key) == [t.key, f"{t.key}-2"] and app.status(f"{t.key}-2") == "SUCCEEDED"
    assert app.store.get(t.key) is not None


def test_a_damaged_result_in_the_store_is_detected_and_computed_again(app):
    """Fault 4: one result truncated, another altered at the same size."""
    cut, altered = Training(app, "digits", "mlp", 3, 401), Training(app, "digits", "mlp", 3, 402)

    async def first(students):  # server 0 trains one, server 1 the other
        a, b = Student(app.server(0).base, 1), Student(app.server(1).base, 2)
        students += [a, b]
        await asyncio.gather(open_training(a, cut), open_training(b, altered))
        seqs = await asyncio.gather(press(a, "Train"), press(b, "Train"))
        return await asyncio.gather(trained(a, seqs[0], 180), trained(b, seqs[1], 180))

    before = in_loop(first)
    model = lambda t: app.store.path(t.key) / "model.safetensors"  # noqa: E731
    data = model(cut).read_bytes()
    model(cut).write_bytes(data[: len(data) // 2])
    data = model(altered).read_bytes()
    model(altered).write_bytes(data[:100] + bytes(b ^ 0xFF for b in data[100:200]) + data[200:])

    async def again(students):  # each asked for on the server that has not seen it: read from the store
        a, b = Student(app.server(0).base, 3), Student(app.server(1).base, 4)
        students += [a, b]
        await asyncio.gather(open_training(b, cut), open_training(a, altered))
        seqs = await asyncio.gather(press(b, "Train"), press(a, "Train"))
        return await asyncio.gather(trained(b, seqs[0], 180), trained(a, seqs[1], 180))

    assert in_loop(again) == before  # computed again: the same seed, the same test accuracy
    for t in (cut, altered):
        assert app.jobs(t.key) == [t.key, f"{t.key}-2"] and app.status(f"{t.key}-2") == "SUCCEEDED"
        assert app.store.get(t.key) is not None  # a valid result (its checksums match) again


def test_a_killed_app_server_leaves_the_job_to_the_others_and_an_unwatched_job_stops(app):
    """Fault 3: server 1 watches two jobs, `shared` (with server 0) and `alone`, and is killed."""
    shared, alone = Training(app, "mnist5k", "cnn", 16, 301), Training(app, "mnist5k", "cnn", 50, 302)

    async def scenario(students):
        a, b, d = Student(app.server(0).base, 1), Student(app.server(1).base, 2), Student(app.server(1).base, 3)
        students += [a, b, d]
        await asyncio.gather(open_training(a, shared), open_training(b, shared), open_training(d, alone))
        seqs = await asyncio.gather(press(a, "Train"), press(b, "Train"), press(d, "Train"))
        await until(lambda: shared.mid_way() and alone.mid_way(), 120, "an epoch of each finished on the cluster")
        app.kill(1)  # mid-job, with no goodbye
        await until(lambda: app.status(alone.key) not in RUNNING, 60, "the unwatched job stopping itself")
        folder = app.store.root / "leases" / shared.key
        stale = lambda: any(time.time() - p.stat().st_mtime > LEASE_S + 3 for p in folder.iterdir())  # noqa: E731
        await until(stale, 60, "the killed server's lease on the shared job gone stale")
        assert app.status(shared.key) == "RUNNING", "the job stopped although server 0 still watches it"
        got = await trained(a, seqs[0], 180)  # the job went on: server 0's session gets the model

        c = Student(app.server(1).base, 4)  # server 1 started again: the same request, from the store
        students.append(c)
        await open_training(c, shared)
        assert await trained(c, await press(c, "Train"), 60) == got

    in_loop(scenario)
    assert app.jobs(shared.key) == [shared.key] and app.status(shared.key) == "SUCCEEDED"  # no new job
    assert app.jobs(alone.key) == [alone.key] and app.status(alone.key) == "FAILED"
    assert '"netlens": "stopped"' in app.probe.client().get_job_logs(alone.key)  # it stopped itself: no watcher
    assert app.store.get(alone.key) is None  # and left no result
