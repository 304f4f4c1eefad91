"""A real local Ray head on loopback for tests and benchmarks (the cluster back end's peer):
`ray start --head` on 127.0.0.1 with free ports (or the dashboard port given), 2 CPUs, token authentication
(RAY_AUTH_MODE=token) when given a token and explicitly off otherwise, the dashboard (the Jobs API) and a
temp dir of its own; stopped by its own processes (found by that temp dir and their ports), never
with `ray stop` (which ends every Ray process of the machine).

Shared by tests/conftest.py and benchmarks/load_cluster.py. Traffic goes only to 127.0.0.1.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchmarks.server import free_port, process_tree


def _ray_cli() -> str:
    found = Path(sys.executable).with_name("ray")
    return str(found) if found.exists() else (shutil.which("ray") or "ray")


class RayHead:
    """One Ray head of our own. ``address``: its dashboard (the Jobs API), for NETLENS_RAY_ADDRESS.
    ``nice``: the head and its jobs run at this lower CPU priority (a cluster sharing the cores of
    the app servers it serves stands in for another machine)."""

    def __init__(self, num_cpus: int = 2, start_timeout: float = 120, nice: int = 0, dashboard_port: int | None = None,
                 token: str | None = None, attempts: int = 2):
        # A second try on fresh ports: a port picked free can be taken before Ray binds it (seen once
        # here as "The node registration may not be complete yet before the timeout").
        for attempt in range(attempts):
            try:
                self._start(num_cpus, start_timeout, nice, dashboard_port, token)
                return
            except (RuntimeError, subprocess.TimeoutExpired):
                self.stop()
                if attempt == attempts - 1:
                    raise

    def _start(self, num_cpus: int, start_timeout: float, nice: int, dashboard_port: int | None,
               token: str | None) -> None:
        ports = {name: free_port() for name in ("port", "ray-client-server-port",
                                                "dashboard-agent-listen-port", "dashboard-agent-grpc-port",
                                                "runtime-env-agent-port", "metrics-export-port",
                                                "node-manager-port", "object-manager-port")}
        ports["dashboard-port"] = dashboard_port or free_port()
        self.ports, self.token = ports, token
        # Short: Ray's socket paths live under it (Unix sockets allow about 107 characters).
        self.temp_dir = Path(tempfile.mkdtemp(prefix="nlray", dir="/tmp"))
        self.address = f"http://127.0.0.1:{ports['dashboard-port']}"
        cmd = [_ray_cli(), "start", "--head", "--node-ip-address", "127.0.0.1", "--dashboard-host", "127.0.0.1",
               "--num-cpus", str(num_cpus), "--include-dashboard", "true", "--temp-dir", str(self.temp_dir),
               "--disable-usage-stats", "--min-worker-port", "0", "--max-worker-port", "0"]
        for name, port in ports.items():
            cmd += [f"--{name}", str(port)]
        env = {k: v for k, v in os.environ.items() if k not in ("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")}
        # Explicit either way: with RAY_AUTH_MODE unset, `ray start` turns token auth on if ~/.ray/auth_token exists.
        env.update(RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="token" if token else "disabled")
        if token:
            env["RAY_AUTH_TOKEN"] = token
        t0 = time.monotonic()
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=start_timeout,
                             preexec_fn=(lambda: os.nice(nice)) if nice else None)
        if out.returncode != 0:
            self.stop()
            raise RuntimeError(f"ray start failed ({out.returncode}):\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
        deadline = t0 + start_timeout
        while not self._answers():
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the Ray head's dashboard at {self.address} did not answer in {start_timeout:g} s")
            time.sleep(0.5)
        self.start_s = time.monotonic() - t0

    def _answers(self) -> bool:
        try:
            request = urllib.request.Request(f"{self.address}/api/version", headers=self.headers())
            return urllib.request.urlopen(request, timeout=2).status == 200
        except OSError:
            return False

    def headers(self) -> dict:
        """What a client sends to a head started with ``token`` (token authentication on)."""
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def pids(self) -> list[int]:
        """Every process of this head: those naming its temp dir or its ports, and their children."""
        marks = [str(self.temp_dir).encode()] + [f"={p}".encode() for p in (self.ports["ray-client-server-port"],)]
        roots = []
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    with open(f"/proc/{d}/cmdline", "rb") as f:
                        cmd = f.read()
                except OSError:
                    continue
                if any(m in cmd for m in marks):
                    roots.append(int(d))
        found: list[int] = []
        for pid in roots:
            found += [p for p in process_tree(pid) if p not in found]
        return found

    def stop(self, grace_s: float = 5.0) -> None:
        pids = [p for p in self.pids() if p != os.getpid()]
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass
            deadline = time.monotonic() + grace_s
            while time.monotonic() < deadline and any(_alive(p) for p in pids):
                time.sleep(0.2)
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
