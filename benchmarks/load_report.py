"""The report of benchmarks/load.py: a table per round, the health probe by phase, and one
PASS / FAIL line per bar. The bars' thresholds are data (BARS), not buried in the code."""
from __future__ import annotations

import statistics

BARS = {
    "sessions_for_the_big_bar": 30,   # the "N concurrent sessions" bar is meant at this N
    "max_mb_per_extra_home": 25.0,    # server memory per extra session that opened Home only
    "trainings_for_n_sessions": 3,    # the warm-up's three default models; N sessions pressing Train add none
    "max_rerun_drift": 0.10,          # server memory after the reruns, relative to where it settled
    "rerun_settle_at": 20,            # ... settled = after this many reruns
}


def med_max(xs: list) -> str:
    return f"{statistics.median(xs):.1f} / {max(xs):.1f}" if xs else "–"


def _table(rounds: list) -> None:
    print("\n| N | first render (s) med / max | conv. upload→result (s) | Train→model (s) | t-SNE maps (s) "
          "| RSS idle → 1 home → N homes → peak → end (MB) | MB per extra Home session | trainings run "
          "| t-SNE jobs run | sessions done | errors | health during training: probes, max latency "
          "| CPU server / clients (s) | round (s) |")
    print("|---" * 14 + "|")
    for r in rounds:
        extra = f"{r.per_extra_home_mb:.2f}" if r.per_extra_home_mb is not None else "–"
        ht = r.health_train
        health = (f"{sum(ok for _, ok in ht)}/{len(ht)} ok, {max(lat for lat, _ in ht):.2f} s" if ht else "none")
        print(f"| {r.n} | {med_max(r.first_render)} | {med_max(r.conv_upload)} | {med_max(r.trained)} "
              f"| {med_max(r.maps)} | {r.rss_idle:.0f} → {r.rss_home1:.0f} → {r.rss_homeN:.0f} → {r.rss_peak:.0f} "
              f"→ {r.rss_end:.0f} | {extra} | {r.trainings if r.trainings is not None else '?'} "
              f"| {r.tsne_jobs if r.tsne_jobs is not None else '?'} | {r.completed}/{r.n} | {len(r.errors)} "
              f"| {health} | {r.cpu_s:.0f} / {r.client_cpu_s:.0f} | {r.wall_s:.0f} |")


def _health(ps: list) -> str:
    if not ps:
        return "no probes"
    lats = sorted(lat for lat, _ in ps)
    return (f"{sum(ok for _, ok in ps)}/{len(ps)} ok, median {statistics.median(lats) * 1000:.0f} ms, "
            f"max {lats[-1] * 1000:.0f} ms")


def _notes(rounds: list) -> list[str]:
    """Per-round lines under the table; returns the warnings (probe failures outside the bars)."""
    warnings = []
    for r in rounds:
        if r.health_all:
            print(f"N={r.n}: /_stcore/health (5 s timeout, every 0.1 s) over the whole round: {_health(r.health_all)}; "
                  + "; ".join(f"{k}: {_health(v)}" for k, v in r.health_phases.items()))
            print(f"N={r.n}: the admin page saw {r.sessions_seen} sessions (the N plus itself)")
            for k, v in r.health_phases.items():
                failed = sum(not ok for _, ok in v)
                if failed:
                    warnings.append(f"N={r.n}: /_stcore/health failed {failed} of {len(v)} probes during '{k}'")
        if r.reruns:
            rr = r.reruns
            print(
                f"N={r.n}: {rr['done']} reruns of Convolution (one session, kernel presets in turn, median "
                f"{rr['median_s'] * 1000:.0f} ms each): RSS settled {rr['settled']:.0f} MB "
                f"(after {BARS['rerun_settle_at']}), "
                f"final {rr['final']:.0f} MB, max {rr['max']:.0f} MB; every 10: "
                + " ".join(f"{m:.0f}" for _, m in rr["rss"])
            )
        for e in r.errors[:10]:
            print(f"N={r.n} error: {e}")
        if len(r.errors) > 10:
            print(f"N={r.n}: … {len(r.errors) - 10} more errors")
        for e in r.error_alerts[:5]:
            print(f"N={r.n} st.error shown: {e}")
        if r.errors and r.server_log:
            print(f"N={r.n}: server log tail:\n{r.server_log[-1500:]}")
    return warnings


def bars(rounds: list, reruns_needed: int, limits: dict = BARS) -> list[tuple[bool, str]]:
    """(passed, words) for each bar, judged against `limits`."""
    out = []
    big = max(rounds, key=lambda r: r.n)
    want_n = limits["sessions_for_the_big_bar"]
    n_label = f"{big.n} concurrent sessions" + ("" if big.n >= want_n else
                                               f" (the {want_n}-session bar needs --sessions … {want_n})")
    out.append((big.completed == big.n and not big.errors and not big.error_alerts,
                f"{n_label} all get their pages with no error: {big.completed}/{big.n} done, "
                f"{len(big.errors)} errors, {len(big.error_alerts)} error messages shown"))
    out.append((big.bad_refused == big.n, f"each of the {big.n} sessions uploaded a bad file (tests/corpus.py: "
                                          f"bombs, fakes, truncated) and was told why in plain words: "
                                          f"{big.bad_refused}/{big.n}"))
    multi = [r for r in rounds if r.n > 1]
    if multi:
        worst, most = max(r.per_extra_home_mb for r in multi), limits["max_mb_per_extra_home"]
        out.append((worst <= most, f"server memory grows ≤ {most:g} MB per extra session that opened Home only: "
                                   + ", ".join(f"N={r.n}: {r.per_extra_home_mb:.2f} MB" for r in multi)))
    one = limits["trainings_for_n_sessions"]
    out.append((big.trainings == one, f"{big.n} sessions training the default config run no training "
                                      f"beyond the warm-up's {one}: "
                                      f"the server ran {big.trainings if big.trainings is not None else 'unknown'}"))
    rr = next((r.reruns for r in rounds if r.reruns), None)
    if reruns_needed:
        if rr and rr["done"] == reruns_needed and rr["settled"]:
            drift, most = (rr["final"] - rr["settled"]) / rr["settled"], limits["max_rerun_drift"]
            out.append((abs(drift) <= most, f"{reruns_needed} reruns of a page by one session leave server memory "
                                            f"within {most:.0%} of where it settled: {drift:+.1%} "
                                            f"({rr['settled']:.0f} → {rr['final']:.0f} MB)"))
        else:
            out.append((False, f"{reruns_needed} reruns of a page by one session: only {rr['done'] if rr else 0} done"))
    ht = [p for r in rounds for p in r.health_train]
    out.append((bool(ht) and all(ok for _, ok in ht),
                f"/_stcore/health answers while the server trains: {sum(ok for _, ok in ht)}/{len(ht)} probes ok"
                + (f", max {max(lat for lat, _ in ht):.2f} s" if ht else " (no probe fell in a training window)")))
    return out


def report(rounds: list, reruns_needed: int, limits: dict = BARS) -> bool:
    """Print the table, the notes and one PASS / FAIL line per bar; True when every bar passes."""
    _table(rounds)
    warnings = _notes(rounds)
    judged = bars(rounds, reruns_needed, limits)
    print()
    for ok, text in judged:
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    for text in warnings:
        print(f"WARN  {text} (not one of the bars)")
    return all(ok for ok, _ in judged)
