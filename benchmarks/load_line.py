"""The issues' machine-readable lines for benchmarks/load.py: the warm baseline (wait for the
server's warm-up, read on /admin), quiet reruns timed while jobs run (a page switch that starts
no heavy work), memory kept per uploading session and at the end (PSS of the server and its
worker processes), and the `LOAD …` line.

    LOAD sessions=N photo=WxH peak_pss_mb=… kept_mb_per_upload=… end_vs_warm_pct=… upload_p95_s=…
         refusals=… errors=… trainings=… maps=… health_max_s=… health_p99_s=… quiet_rerun_p95_s=…
"""
from __future__ import annotations

import asyncio
import statistics
import time
from typing import TYPE_CHECKING

from benchmarks.load_steps import Student

if TYPE_CHECKING:
    from benchmarks.load import Round
    from benchmarks.server import Server

QUIET_PAGE, QUIET_TITLE = "glossary", "Glossary"  # a page that starts no heavy work
REFUSALS = ("needs more memory than the server has", "server is busy")
SESSION_TTL_S = 5  # server.disconnectedSessionTTL for the benchmark's servers: the end is measurable
KEPT = "Closed, kept for a reconnect"  # the admin page's count of closed sessions not yet shut down


async def poll_admin(base: str, password: str, timeout: float, log: list, metric: str, done) -> str:
    """Read /admin every 2 s until ``done(value of metric)``, or ``timeout``; the value it last showed."""
    s, value, deadline = Student(base, 0, log), "?", time.monotonic() + timeout
    try:
        await s.connect()
        stats = await s.admin(password, 120)
        while time.monotonic() < deadline:
            value = stats.get(metric, "?")
            if done(value):
                break
            await asyncio.sleep(2)
            stats = await s.admin_refresh(60)
    finally:
        await s.close()
    return value


async def wait_warm(base: str, password: str, timeout: float, log: list) -> str:
    """Poll /admin until the warm-up (started with the server, dashboard/app.py's lifespan) is ready."""
    return await poll_admin(base, password, timeout, log, "Warm-up",
                            lambda v: v in ("ready", "not started") or v.startswith("failed"))


async def wait_dropped(base: str, password: str, timeout: float, log: list) -> str:
    """After the sessions closed: poll /admin until the server holds none of them for a reconnect
    (server.disconnectedSessionTTL, then its GC thread shuts them down); what it last said."""
    return await poll_admin(base, password, timeout, log, KEPT, lambda v: v == "0")


async def quiet_reruns(base: str, stop: asyncio.Event, log: list, timeout: float = 60) -> list[float]:
    """One more session switches to the Glossary and back to Home while the others work; each
    switch (request to the page's finished run) is timed."""
    s, times = Student(base, 999, log), []
    try:
        await s.connect()
        pages = [(QUIET_PAGE, lambda x: x.has("heading", QUIET_TITLE)), ("", lambda x: x.has("heading", "NetLens"))]
        i = 0
        while not stop.is_set():
            page, ready = pages[i % 2]
            t0 = time.monotonic()
            if not await s.wait(await s.goto(page), ready, timeout, f"quiet rerun {i}"):
                break
            times.append(time.monotonic() - t0)
            i += 1
            try:
                await asyncio.wait_for(stop.wait(), 0.5)
            except asyncio.TimeoutError:
                pass
    finally:
        await s.close()
    return times


async def sample_rss(server: Server, rnd: Round, stop: asyncio.Event) -> None:
    """Keep rnd.rss_peak up to date (every 0.5 s) until `stop` is set."""
    while not stop.is_set():
        rnd.rss_peak, rnd.pss_peak = max(rnd.rss_peak, server.rss_mb()), max(rnd.pss_peak, server.pss_mb())
        try:
            await asyncio.wait_for(stop.wait(), 0.5)
        except asyncio.TimeoutError:
            pass


async def settle(server: Server, seconds: float = 2.0) -> float:
    """RSS once the server has been idle a moment (median of a few samples)."""
    samples = []
    for _ in range(5):
        await asyncio.sleep(seconds / 5)
        samples.append(server.rss_mb())
    return statistics.median(samples)


async def settle_pss(server, seconds: float = 3.0) -> float:
    samples = []
    for _ in range(5):
        await asyncio.sleep(seconds / 5)
        samples.append(server.pss_mb())
    return statistics.median(samples)


def p(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, max(0, int(round(q * (len(v) - 1)))))]


def load_line(rnd, photo: str) -> str:
    lat = [(lat if ok else max(lat, 5.0)) for lat, ok in rnd.health_all]
    refusals = sum(any(r in a for r in REFUSALS) for a in rnd.error_alerts)
    kept = (rnd.pss_open - rnd.pss_end) / rnd.n if rnd.pss_open and rnd.pss_end else float("nan")
    end = 100 * (rnd.pss_end - rnd.pss_warm) / rnd.pss_warm if rnd.pss_warm else float("nan")
    fields = {
        "sessions": rnd.n,
        "photo": photo,
        "peak_pss_mb": f"{rnd.pss_peak:.0f}",
        "kept_mb_per_upload": f"{kept:.1f}",
        "end_vs_warm_pct": f"{end:.1f}",
        "upload_p95_s": f"{p(rnd.conv_upload, 0.95):.2f}",
        "refusals": refusals,
        "errors": len(rnd.errors) + rnd.n - rnd.completed,
        "trainings": rnd.trainings,
        "maps": rnd.tsne_jobs,
        "health_max_s": f"{max(lat, default=float('nan')):.2f}",
        "health_p99_s": f"{p(lat, 0.99):.2f}",
        "quiet_rerun_p95_s": f"{p(rnd.quiet, 0.95):.2f}",
    }
    return "LOAD " + " ".join(f"{k}={v}" for k, v in fields.items())
