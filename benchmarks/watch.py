"""Watching costs the same for 1 or 30 watchers: `python benchmarks/load.py --watch`.

For each W in (1, 30) a fresh server (no warm-up) and W sessions on the Training page; all
press Train with the defaults, so they watch one shared job (its live progress fragment reruns
every second in each session). From the moment every session shows the progress until the
first shows the result, the server's CPU is read from /proc. Prints per W:

    WATCH watchers=W cpu_per_s=<server + worker processes> server_cpu_per_s=<web server alone> seconds=<window>
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.load_steps import TRAINED_METRIC, Student  # noqa: E402
from benchmarks.server import Server, proc_cpu_s  # noqa: E402


async def _click_train(s: Student, timeout: float) -> bool:
    await s.connect()
    if not await s.wait(await s.goto("train"), lambda x: x.widget("button", "Train"), timeout, "Training"):
        return False
    seq = await s.rerun([s.trigger(s.widget("button", "Train"))])
    return await s.wait(seq, lambda x: x.has("progress", "epoch") or x.has("metric", TRAINED_METRIC), timeout,
                        "watching the training")


async def one_round(watchers: int, logdir: Path, timeout: float = 600) -> dict:
    server = Server(logdir, env={"NETLENS_WARM": "0"}, unset=("NETLENS_PASSWORD", "NETLENS_MODELS_DIR"))
    sessions = [Student(server.base, i + 1) for i in range(watchers)]
    try:
        ok = await asyncio.gather(*(_click_train(s, timeout) for s in sessions))
        t0, cpu0, own0 = time.monotonic(), server.cpu_s(), proc_cpu_s(server.pid)
        done = await sessions[0].wait(sessions[0].full_seq - 1, lambda x: x.has("metric", TRAINED_METRIC), timeout,
                                      "the result")
        seconds = time.monotonic() - t0
        cpu, own = server.cpu_s() - cpu0, proc_cpu_s(server.pid) - own0
        errors = [e for s in sessions for e in s.errors]
    finally:
        await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)
        server.stop()
    return {"watchers": watchers, "ok": all(ok) and done, "seconds": seconds, "cpu_per_s": cpu / max(seconds, 1e-9),
            "server_cpu_per_s": own / max(seconds, 1e-9), "errors": errors}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--watch", action="store_true", help="(as passed on by load.py)")
    ap.add_argument("--watchers", type=int, nargs="+", default=[1, 30], help="the watcher counts, one round each")
    args, _ = ap.parse_known_args()
    logdir = Path(tempfile.mkdtemp(prefix="netlens-watch-"))
    status = 0
    for w in args.watchers:
        r = asyncio.run(one_round(w, logdir))
        print(f"WATCH watchers={w} cpu_per_s={r['cpu_per_s']:.3f} server_cpu_per_s={r['server_cpu_per_s']:.3f} "
              f"seconds={r['seconds']:.1f}" + ("" if r["ok"] else f" errors={len(r['errors']) or 1}"), flush=True)
        for e in r["errors"][:5]:
            print(f"  {e}")
        status |= 0 if r["ok"] else 1
    return status


if __name__ == "__main__":
    sys.exit(main())
