"""A NetLens server on loopback, started and stopped by its PID, and what it costs: resident
memory and CPU of its process tree from /proc, and a health probe in its own process.

Shared by benchmarks/load.py and tests/conftest.py. Traffic goes only to 127.0.0.1.

    python benchmarks/server.py --probe URL OUT MAX_S   # the probe process (started by start_probe)
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER_FLAGS = ["--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
                "--server.fileWatcherType", "none"]
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(d))
    return kids


def process_tree(pid: int) -> list[int]:
    kids, out, todo = _children(), [], [pid]
    while todo and len(out) < 1000:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants (MB, from /proc/PID/status)."""
    total = 0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
    return total / 1024


def tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used by a process tree, reaped children included."""
    total = 0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
        except (OSError, IndexError, ValueError):
            pass
    return total / CLK_TCK


def tree_pss_mb(pid: int) -> float:
    """Proportional set size of a process tree (MB, /proc/PID/smaps_rollup): shared pages count once."""
    total = 0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                total += next((int(line.split()[1]) for line in f if line.startswith("Pss:")), 0)
        except (OSError, ValueError):
            pass
    return total / 1024


def proc_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of one process alone (the web server, without its workers)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return sum(int(x) for x in f.read().rsplit(")", 1)[1].split()[11:13]) / CLK_TCK
    except (OSError, ValueError):
        return 0.0


class Server:
    """One NetLens server on loopback (a free port), started here and stopped by its PID.

    ``env``: variables to set for it; ``unset``: variables to remove from this process's
    environment for it. Raises RuntimeError (with the log's tail) if it is not healthy
    within ``start_timeout`` seconds."""

    def __init__(self, logdir: Path, env: dict | None = None, unset=(), start_timeout: float = 90):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(logdir) / f"server-{self.port}.log"
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        for name in unset:
            full_env.pop(name, None)
        self._log = open(self.log_path, "w")
        t0 = time.monotonic()
        self.proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "dashboard/app.py",
                                      "--server.port", str(self.port), *SERVER_FLAGS],
                                     cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT, env=full_env)
        self.pid = self.proc.pid
        deadline = t0 + start_timeout
        while True:
            try:
                if urllib.request.urlopen(f"{self.base}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the server did not start; its log:\n{self.log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        self.start_s = time.monotonic() - t0

    def rss_mb(self) -> float:
        return tree_rss_mb(self.pid)

    def cpu_s(self) -> float:
        return tree_cpu_s(self.pid)

    def pss_mb(self) -> float:
        return tree_pss_mb(self.pid)

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_text()[-n:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()


# ---------------------------------------------------------------- the health probe (its own process)


def probe_main(url: str, out: str, max_s: float) -> None:
    """Poll /_stcore/health every 0.1 s until killed or max_s; one line per probe:
    wall-clock time at the request, latency (s), 1 if the answer was 'ok' else 0."""
    end = time.time() + max_s
    with open(out, "w", buffering=1) as f:
        while time.time() < end:
            t = time.time()
            try:
                ok = urllib.request.urlopen(url, timeout=5).read() == b"ok"
            except OSError:
                ok = False
            f.write(f"{t:.3f} {time.time() - t:.4f} {int(ok)}\n")
            time.sleep(max(0.0, 0.1 - (time.time() - t)))


def start_probe(server: Server, logdir: Path, max_s: float) -> tuple[subprocess.Popen, Path]:
    out = logdir / f"health-{server.port}.txt"
    proc = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--probe",
            f"{server.base}/_stcore/health",
            str(out),
            str(max_s),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return proc, out


def read_probe(path: Path) -> list[tuple[float, float, bool]]:
    rows = []
    try:
        for line in path.read_text().splitlines():
            t, lat, ok = line.split()
            rows.append((float(t), float(lat), ok == "1"))
    except (OSError, ValueError):
        pass
    return rows


if __name__ == "__main__" and len(sys.argv) == 5 and sys.argv[1] == "--probe":
    probe_main(sys.argv[2], sys.argv[3], float(sys.argv[4]))
