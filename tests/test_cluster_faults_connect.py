"""Issue 15, faults 2, 5 and 6, on REAL app servers (benchmarks/server.py) and a REAL local Ray head
of this module's own (benchmarks/ray_head.RayHead on a dashboard port chosen here; one at a time,
stopped afterwards):

2. the cluster does not answer when the app starts: the app starts, Convolution and Glossary work,
   the job pages say "the cluster at … is not answering; trying again every 10 s", a training pressed
   then waits; a head started on that address runs it, in the same session, without a restart;
   the head stopped, the message returns. /admin shows the back end, the address, the jobs by state
   and the store's size.
5. a malformed NETLENS_RAY_ADDRESS and an unwritable NETLENS_STORE: the app starts, logs the
   problem once, the job pages and /admin show it, Train fails with it (no job moves onto this
   server), the single-machine pages work. The other store faults (missing, not a folder, full):
   analysis.compute.cluster.health.store_problem, fast.
6. token authentication on the head (RAY_AUTH_MODE=token): an app server given the token
   (NETLENS_RAY_TOKEN) trains; a client without it is refused; a server without it, or with a
   wrong one, says so plainly.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import subprocess
import urllib.error
import urllib.request
from collections import namedtuple
from pathlib import Path

import pytest

from analysis.compute.cluster.health import ClusterHealth, settings_problems, store_problem
from analysis.compute.store import StoreConfig
from tests.servers import free_port

NOT_ANSWERING = "is not answering; trying again every 10 s"
REFUSED = "refused this server's token"
PASSWORD = "faults-admin"
SLOW = pytest.mark.slow  # real servers, a real head and real trainings; they run in CI


def _env(address: str, store: Path, **extra) -> dict:
    return {"NETLENS_RAY_ADDRESS": address, "NETLENS_STORE": str(store), "NETLENS_WARM": "0", "NETLENS_WORKERS": "0",
            "NETLENS_ADMIN_PASSWORD": PASSWORD, "NETLENS_RAY_INSECURE": "1", **extra}  # heads on 127.0.0.1 only


def _run(coro_fn):
    from tests.helpers import run_in_own_loop

    return run_in_own_loop(coro_fn)


async def _until(s, page: str, ready, timeout: float, what: str) -> bool:
    """Open ``page`` again every 2 s until ready(s) (for what a 10 s cache shows only later)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        seq = await s.goto(page)
        left = deadline - loop.time()
        if left <= 0:
            return await s.wait(seq, ready, 15, what)
        if await s.wait(seq, lambda x: True, 30, what) and ready(s):
            return True
        await asyncio.sleep(2)


async def _single_machine_pages(s) -> bool:
    ok = await s.wait(await s.goto("convolution"), lambda x: x.widget("file_uploader", "Upload your own picture"), 90,
                      "Convolution")
    return ok and await s.wait(await s.goto("glossary"), lambda x: x.has("heading", "Glossary"), 60, "Glossary")


async def _press_train(s):
    """Open Training, press Train (the defaults); the run's sequence number."""
    assert await s.wait(await s.goto("train"), lambda x: x.widget("button", "Train"), 90, "Training"), s.errors
    return await s.rerun([s.trigger(s.widget("button", "Train"))])


@pytest.fixture(scope="module")
def no_head(tmp_path_factory):
    """An app server (no token) whose NETLENS_RAY_ADDRESS is a free port where nothing listens (yet)."""
    from tests.servers import start_servers

    tmp = tmp_path_factory.mktemp("faults-connect")
    port = free_port()
    env = _env(f"http://127.0.0.1:{port}", tmp / "store")
    (server,) = start_servers(1, tmp, env)
    try:
        yield namedtuple("NoHead", "server port tmp")(server, port, tmp)
    finally:
        server.stop()


def _head(**kw):
    from tests.servers import RayHead

    try:
        return RayHead(num_cpus=2, **kw)
    except (RuntimeError, OSError) as e:
        pytest.fail(f"the local Ray head did not start: {e}")


# ---------------------------------------------------------------- fault 2


async def _down_then_up(base: str, port: int, heads: list) -> dict:
    from tests.servers import TRAINED_METRIC, Student

    s = Student(base, 1)
    out: dict = {"errors": s.errors}
    try:
        await s.connect()
        out["single_pages"] = await _single_machine_pages(s)
        out["page_says"] = await s.wait(
            await s.goto("train"), lambda x: x.has("alert", NOT_ANSWERING), 60, "the notice"
        )
        seq = await _press_train(s)
        out["job_waits"] = await s.wait(seq, lambda x: x.has("progress", NOT_ANSWERING), 60, "the training waiting")
        heads.append(await asyncio.to_thread(_head, dashboard_port=port))  # the cluster comes (back)
        out["trained"] = await s.wait(seq, lambda x: x.has("metric", TRAINED_METRIC), 300, "the training on the head")
        admin = await s.admin(PASSWORD, 60)
        out["admin"] = {k: admin.get(k) for k in ("Back end", "Cluster answers", "Cluster address", "Store size")}
        out["admin_jobs"] = next((e.text for e in s.ordered() if e.kind == "markdown" and "by state" in e.text), "")
        await asyncio.to_thread(heads.pop().stop)  # the cluster goes away mid-session
        out["gone_again"] = await _until(s, "train", lambda x: x.has("alert", NOT_ANSWERING), 40, "the notice again")
        out["single_pages_after"] = await _single_machine_pages(s)
    finally:
        await s.close()
    return out


@SLOW
def test_cluster_down_at_start_then_up_then_gone(no_head):
    heads: list = []
    try:
        out = _run(lambda: _down_then_up(no_head.server.base, no_head.port, heads))
    finally:
        for head in heads:
            head.stop()
    address = f"http://127.0.0.1:{no_head.port}"
    assert out["single_pages"] and out["page_says"] and out["job_waits"], out
    assert out["trained"], out  # the same session, the same server: no restart
    assert out["admin"] == {"Back end": "Ray cluster", "Cluster answers": "yes", "Cluster address": address,
                            "Store size": out["admin"]["Store size"]}, out
    assert "in 1 result(s)" in out["admin"]["Store size"] and "SUCCEEDED 1" in out["admin_jobs"], out
    assert out["gone_again"] and out["single_pages_after"], out
    assert not [e for e in out["errors"] if "exception" in e], out["errors"]


# ---------------------------------------------------------------- fault 6


async def _refused_then_trained(no_token_base: str, token_base: str) -> dict:
    from tests.servers import TRAINED_METRIC, Student

    a, b = Student(no_token_base, 1), Student(token_base, 2)
    out: dict = {}
    try:
        await a.connect()
        out["no_token_says"] = await _until(a, "train", lambda x: x.has("alert", REFUSED), 40, "the refusal")
        await b.connect()
        seq = await _press_train(b)
        out["token_trained"] = await b.wait(
            seq, lambda x: x.has("metric", TRAINED_METRIC), 300, "training with the token"
        )
    finally:
        await asyncio.gather(a.close(), b.close(), return_exceptions=True)
    out["errors"] = a.errors + b.errors
    return out


@SLOW
def test_token_authentication_on_the_head(no_head):
    from tests.servers import start_servers

    token = secrets.token_hex(16)
    head = _head(dashboard_port=no_head.port, token=token)
    servers = []
    try:
        for headers, code in (({}, 401), ({"Authorization": "Bearer wrong"}, 403)):  # a client without it is refused
            with pytest.raises(urllib.error.HTTPError) as e:
                urllib.request.urlopen(urllib.request.Request(f"{head.address}/api/jobs/", headers=headers), timeout=10)
            assert e.value.code == code
        wrong = ClusterHealth(head.address, {"Authorization": "Bearer wrong"}).check()
        assert wrong.refused and REFUSED in wrong.message and "not the token the head was started with" in wrong.message
        assert ClusterHealth(head.address, head.headers()).check().ok
        servers = start_servers(
            1, no_head.tmp, _env(head.address, no_head.tmp / "store-token", NETLENS_RAY_TOKEN=token)
        )
        out = _run(lambda: _refused_then_trained(no_head.server.base, servers[0].base))
    finally:
        for s in servers:
            s.stop()
        head.stop()
    assert out["no_token_says"], out  # the server without the token says so (its jobs: the test below)
    assert out["token_trained"], out  # the server with it trains on the head
    assert not [e for e in out["errors"] if "exception" in e], out["errors"]


# ---------------------------------------------------------------- fault 5


@contextlib.contextmanager
def unwritable(folder: Path):
    """``folder`` made unwritable even for root (chattr +i), or skip where that cannot be done."""
    folder.mkdir(parents=True, exist_ok=True)
    root = os.geteuid() == 0
    if root:
        made = subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode == 0
    else:
        folder.chmod(0o555)
        made = True
    try:
        if not made or _writable(folder):
            pytest.skip(f"cannot make {folder} unwritable here (chattr +i or chmod)")
        yield folder
    finally:
        if root:
            subprocess.run(["chattr", "-i", str(folder)], capture_output=True)
        else:
            folder.chmod(0o755)


def _writable(folder: Path) -> bool:
    try:
        (folder / "probe").write_bytes(b"x")
    except OSError:
        return False
    (folder / "probe").unlink()
    return True


async def _wrong_settings(base: str) -> dict:
    from tests.servers import Student

    s = Student(base, 1)
    out: dict = {}
    try:
        await s.connect()
        out["single_pages"] = await s.home(60) and await _single_machine_pages(s)
        seq = await _press_train(s)
        out["train_fails"] = await s.wait(seq, lambda x: x.widget("button", "Retry") is not None, 60, "Train refused")
        out["page"] = next((e.text for e in s.ordered() if e.kind == "alert" and e.extra != 1), "")  # the warning
        out["train_error"] = next((e.text for e in s.ordered() if e.kind == "alert" and e.extra == 1), "")
        admin = await s.admin(PASSWORD, 60)
        out["admin"] = {k: admin.get(k) for k in ("Back end", "Cluster answers")}
        out["admin_alerts"] = [e.text for e in s.ordered() if e.kind == "alert"]
        out["errors"] = [e for e in s.errors if "exception" in e]
    finally:
        await s.close()
    return out


@SLOW
def test_wrong_settings_are_said_once_and_the_single_machine_pages_work(tmp_path):
    from tests.servers import start_servers

    with unwritable(tmp_path / "store") as store:
        (server,) = start_servers(1, tmp_path, _env("head:8265", store))
        try:
            out = _run(lambda: _wrong_settings(server.base))
        finally:
            server.stop()
        log = server.log_path.read_text()
    assert log.count("NetLens: The cluster back end is not set up correctly") == 1, log[-3000:]  # once, at the start
    for text in [out["page"], out["train_error"]] + out["admin_alerts"][:1]:
        assert "NETLENS_RAY_ADDRESS must be the Ray head's dashboard address" in text and "got 'head:8265'" in text, out
        assert f"NETLENS_STORE={str(store)!r} is not writable" in text, out
    assert "NETLENS_RAY_ADDRESS must be" in log and "is not writable" in log
    assert out["single_pages"] and out["train_fails"] and not out["errors"], out
    assert out["admin"] == {"Back end": "Ray cluster", "Cluster answers": "no"}, out


def test_store_problems_say_what_is_wrong_and_how_to_fix_it(tmp_path, monkeypatch):
    missing = tmp_path / "no-such-mount" / "store"
    assert "it does not exist" in store_problem(StoreConfig(root=str(missing)))
    assert not missing.parent.exists()  # a typo in the path is not created
    (tmp_path / "a-file").write_text("x")
    assert "it is not a folder" in store_problem(StoreConfig(root=str(tmp_path / "a-file")))
    assert store_problem(StoreConfig(root=str(tmp_path / "store"))) is None  # created under an existing parent
    (tmp_path / "store" / "data" / "in-use.npy").write_bytes(b"\0" * 20_000)  # recent: retention keeps it
    full = store_problem(StoreConfig(root=str(tmp_path / "store"), max_mb=0.01))
    assert "is full" in full and "NETLENS_STORE_MB=0.01" in full and "Raise NETLENS_STORE_MB" in full
    monkeypatch.setattr(
        "analysis.compute.cluster.health.shutil.disk_usage", lambda p: namedtuple("U", "total used free")(1, 1, 5e6)
    )
    assert "its disk has 5 MB free" in store_problem(StoreConfig(root=str(tmp_path / "store")))


@pytest.mark.parametrize("address", ["head:8265", "ftp://head:8265", "http://", "  "])
def test_a_malformed_address_is_one_plain_problem(tmp_path, address):
    problems = settings_problems({"NETLENS_RAY_ADDRESS": address, "NETLENS_STORE": str(tmp_path),
                                  "NETLENS_STORE_KEY": "k" * 32})
    assert len(problems) == 1 and "NETLENS_RAY_ADDRESS must be the Ray head's dashboard address" in problems[0]
    assert settings_problems({"NETLENS_RAY_ADDRESS": "http://head:8265", "NETLENS_STORE": str(tmp_path),
                              "NETLENS_RAY_TOKEN": "t", "NETLENS_STORE_KEY": "k" * 32}) == []


def test_a_port_where_nothing_listens_is_not_answering():
    health = ClusterHealth(f"http://127.0.0.1:{free_port()}", every_s=60)
    first = health.check()
    assert not first.ok and not first.refused and NOT_ANSWERING in first.message
    assert health.check() is first  # cached: asked again only after every_s


class _Health:
    """A head that stops answering when a request fails and answers again after two checks."""

    def __init__(self):
        self.down, self.marked = 0, []

    def check(self, force=False):
        from analysis.compute.cluster.health import Health, not_answering

        if self.down:
            self.down -= 1
            return Health(False, not_answering("http://head:8265", "connection refused"))
        return Health(True)

    def mark_down(self, error):
        self.marked.append(error)
        self.down = 2
        return self.check()


def test_a_head_gone_mid_job_is_waited_for_and_its_job_joined_again(tmp_path):
    """The watch loop (analysis.compute.cluster.executor.RayExecutor._watch) when a request fails mid-job: the message
    says the cluster is not answering, and when it answers, the running job is joined, not repeated."""
    import requests

    from tests.helpers import KWARGS, FakeClient, finish, make

    class Flaky(FakeClient):
        calls = 0

        def get_job_info(self, sid):
            self.calls += 1
            if self.calls == 2:
                raise requests.exceptions.ConnectionError("connection refused")
            return super().get_job_info(sid)

    client = Flaky(script=["RUNNING", "RUNNING", "RUNNING", "SUCCEEDED"])
    ex = make(tmp_path, client)
    client.on_run, ex.health = finish(ex), _Health()
    ex.client = lambda: setattr(ex, "_client", client) or client  # Ray's client, made again when it answers
    seen = []
    out = ex.run("project", dict(KWARGS), on_progress=lambda *a: seen.append(a[1]))
    assert out["coords"].shape == (30, 2) and len(ex.health.marked) == 1
    assert any(m and NOT_ANSWERING in m for m in seen), seen
    assert len(client.submits) == 1 and ex.submitted == [client.submits[0][0]]  # joined again, not submitted twice


def test_a_refused_token_fails_the_job_plainly_at_once(tmp_path):
    """A head that refuses this server's token: waiting would not help, so the job fails with the
    message (the page shows it with Retry) and nothing is submitted."""
    from analysis.compute.cluster.health import Health, refused_message
    from tests.helpers import KWARGS, make

    ex = make(tmp_path, None)
    refused = Health(False, refused_message("http://head:8265", 401, False), refused=True)
    ex.health = type("Refusing", (), {"check": lambda self, force=False: refused})()
    with pytest.raises(RuntimeError, match="refused this server's token: it wants a token and this server has none"):
        ex.run("project", dict(KWARGS))
    assert ex.submitted == []
