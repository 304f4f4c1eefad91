"""RayExecutor's decisions against a stand-in for Ray's job client (fast; the real head is in
tests/test_cluster.py): join on "already exists", retry a failed or stopped job under `<key>-2`,
say where a pending job waits, give up plainly after the start timeout, and plain messages when
a job fails or its stored result is damaged."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from analysis.compute.cluster.config import VERSION_EXIT, code_version
from analysis.compute.cluster.maps import main as maps_main
from analysis.compute.cluster.plans import project_plan
from tests.helpers import KWARGS, FakeClient, finish, make


def test_a_new_job_is_submitted_under_its_key_with_one_cpu_and_quoted_json(tmp_path):
    client = FakeClient(script=["PENDING", "RUNNING", "SUCCEEDED"])
    ex = make(tmp_path, client)
    client.on_run = finish(ex)
    seen = []
    out = ex.run("project", dict(KWARGS), on_progress=lambda *a: seen.append(a[:2]))
    key = project_plan(ex, dict(KWARGS)).key
    (sid, entrypoint, kw), = client.submits
    assert sid == key and kw["entrypoint_num_cpus"] == 1 and kw["entrypoint_num_gpus"] is None
    assert entrypoint.startswith("python -m analysis.compute.cluster.maps --config '{") and out["coords"].shape == (
        30,
        2,
    )
    assert (None, "waiting on the cluster") in seen and (0.5, "half way") in seen


def test_an_existing_running_job_is_joined_not_submitted_again(tmp_path):
    client = FakeClient()
    ex = make(tmp_path, client)
    key = project_plan(ex, dict(KWARGS)).key
    client.jobs[key] = "RUNNING"
    client.submits.append((key, "", {}))  # someone else's submission, still running, then done
    client.on_run = finish(ex)
    assert ex.run("project", dict(KWARGS))["coords"].shape == (30, 2)
    assert [s for s, _, _ in client.submits] == [key] and ex.submitted == []


@pytest.mark.parametrize("earlier", ["FAILED", "STOPPED", "SUCCEEDED"])  # SUCCEEDED, but its result is gone
def test_a_failed_stopped_or_lost_job_is_retried_under_the_next_id(tmp_path, earlier):
    client = FakeClient()
    ex = make(tmp_path, client)
    key = project_plan(ex, dict(KWARGS)).key
    client.jobs[key] = earlier
    client.on_run = finish(ex)
    ex.run("project", dict(KWARGS))
    assert ex.submitted == [f"{key}-2"]


def test_a_failed_job_says_so_plainly(tmp_path):
    ex = make(tmp_path, FakeClient(script=["RUNNING", "FAILED"]))
    with pytest.raises(
        RuntimeError,
        match=r"The map stopped on the cluster: Job failed: exit code 1 \(ValueError: boom\)"
        r"\. Press Retry",
    ):
        ex.run("project", dict(KWARGS))


class OlderNodeClient(FakeClient):
    """A head whose nodes run an older NetLens (NETLENS_RAY_UPLOAD_CODE=0): this version's module is not there."""

    def get_job_logs(self, sid):
        return ("Traceback (most recent call last):\n  File \"<frozen runpy>\", line 189\n"
                "ModuleNotFoundError: No module named 'analysis.compute'\n")


class OtherCodeClient(FakeClient):
    """A node with this layout but other code: the job's own first check says so."""

    def get_job_logs(self, sid):
        return '{"netlens": "version-mismatch", "node": "aaaa", "app": "bbbb"}\n'


@pytest.mark.parametrize("client", [OlderNodeClient, OtherCodeClient], ids=["module-missing", "job-says-mismatch"])
def test_a_node_with_another_netlens_version_says_version_mismatch(tmp_path, client):
    fake = client(script=["RUNNING", "FAILED"])
    ex = make(tmp_path, fake, upload_code=False)
    with pytest.raises(RuntimeError) as caught:
        ex.run("project", dict(KWARGS))
    assert str(caught.value).startswith("Version mismatch: the cluster's nodes run another version of NetLens")
    assert "ModuleNotFoundError" not in str(caught.value) and "NETLENS_RAY_UPLOAD_CODE=1" in str(caught.value)
    entrypoint = fake.submits[0][1]
    assert "--code-version" in entrypoint and code_version() in entrypoint


def test_a_job_on_another_code_version_stops_before_any_work(capsys):
    argv = ["--config", "{}", "--store", "/nonexistent", "--key", "k", "--code-version", "0" * 16]
    assert maps_main(argv) == VERSION_EXIT
    assert '"netlens": "version-mismatch"' in capsys.readouterr().out


RAY_FAILED = "Job entrypoint command failed with exit code {}, last available logs (truncated to 20,000 chars):\n{}"


@pytest.mark.parametrize(
    "code, message, words",
    [
        (
            137,
            RAY_FAILED.format(137, '{"netlens": "progress"}\nKilled'),
            "its process was killed (exit status 137: out of memory",
        ),
        (-9, RAY_FAILED.format(-9, "x"), "its process was killed (exit status -9"),
        (
            3,
            RAY_FAILED.format(3, '{"netlens": "stopped"}'),
            "it stopped itself because no app server renewed its watcher lease",
        ),
        (1, RAY_FAILED.format(1, "Traceback\nValueError: boom"), "its command failed with exit status 1"),
        (None, "Job was intentionally stopped.", "Job was intentionally stopped."),
    ],
)
def test_why_a_job_ended_is_one_plain_line_without_ray_s_log_tail(code, message, words):
    from analysis.compute.cluster.executor import _why

    why = _why(SimpleNamespace(driver_exit_code=code, message=message), "FAILED")
    assert why.startswith(words) and "\n" not in why and "logs" not in why and "netlens" not in why, why


def test_a_finished_job_whose_result_is_damaged_says_retry(tmp_path):
    ex = make(tmp_path, FakeClient(script=["SUCCEEDED"]))  # writes nothing
    with pytest.raises(RuntimeError, match="result in the store is missing or damaged. Press Retry"):
        ex.run("project", dict(KWARGS))


def test_a_job_pending_past_the_start_timeout_is_reported(tmp_path):
    ex = make(tmp_path, FakeClient(script=["PENDING"] * 1000), pending_limit_s=0.05)
    with pytest.raises(RuntimeError, match="has not started this map .* no free CPU"):
        ex.run("project", dict(KWARGS))


def test_the_last_watcher_leaving_stops_the_job_and_a_gpu_cluster_gets_a_share(tmp_path):
    client = FakeClient(script=["PENDING"] + ["RUNNING"] * 1000)
    ex = make(tmp_path, client)
    ex._gpus = (float("inf"), 1.0)
    calls = iter([False, False, False, True])
    seen = []
    assert ex.run("project", dict(KWARGS), lambda *a: seen.append(a[1]), lambda: next(calls, True)) is None
    key = project_plan(ex, dict(KWARGS)).key
    assert client.stopped == [key] and client.submits[0][2]["entrypoint_num_gpus"] == 0.25
    assert "waiting for a GPU on the cluster" in seen and ex.store.fresh_leases(key) == 0


def test_tasks_that_stay_here_run_on_the_local_executor(tmp_path):
    from analysis.compute.tasks import InlineExecutor

    ex = make(tmp_path, FakeClient())
    ex.local = InlineExecutor()
    assert ex.run("count", {"n": 2})["pid"] == __import__("os").getpid()  # in this process, not on the cluster
    assert not ex.runs_remotely("count") and ex.runs_remotely("train") and ex.runs_remotely("replay")


def test_a_token_turns_on_token_auth_before_ray_is_imported(monkeypatch):
    from analysis.compute.cluster.executor import prepare_ray_env

    for name in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_USAGE_STATS_ENABLED", "NETLENS_RAY_TOKEN"):
        monkeypatch.setenv(name, "")  # restored after the test
        monkeypatch.delenv(name)
    assert prepare_ray_env({}) == {} and "RAY_AUTH_MODE" not in __import__("os").environ
    assert prepare_ray_env({"NETLENS_RAY_TOKEN": " s3cret "}) == {"Authorization": "Bearer s3cret"}
    env = __import__("os").environ
    assert (
        env["RAY_AUTH_MODE"] == "token" and env["RAY_AUTH_TOKEN"] == "s3cret" and env["RAY_USAGE_STATS_ENABLED"] == "0"
    )
