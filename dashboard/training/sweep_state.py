"""The sweep's state (Training page, "Try several settings"): the session object (`SweepState`:
the one sweep this session runs, its finished runs), its reveal in the session's test ledger
(dashboard/core/session_models.py keeps it apart: it survives Start over), and the server-wide
sweep line that keeps sweeps to their own share of the training queue. Runs go through Training's
registry under their job key, so identical runs are shared
with single trainings and with other sessions."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from analysis.compute import jobs
from analysis.compute.sweep_line import SweepLine
from analysis.datasets import Dataset
from analysis.sweep import SETTINGS, RevealLedger, RevealRecord, SweepConfig, SweepSummary, summarise, sweep_key
from analysis.train import TrainedModel, job_key
from dashboard.core import saved_work, session, session_models, training_jobs
from dashboard.core.runtime import session_id

KEY = "sweep"
# The sweep's one deliberate second key (every other feature keeps everything under its KEY): the test
# ledger lives apart from SweepState (in dashboard/core/session_models.py, shared with single runs' reveals)
# because Start over forgets SweepState (session.reset pops KEY), and the ledger must survive it: a test score
# once seen stays seen. Were it inside SweepState, Start over would let a student look at the test scores,
# start over and pick a setting on them with a clean ledger.
LEDGER_KEY = session_models.LEDGER_KEY
WIDGETS = ("sweep_",)


def _share() -> int:
    """Sweep runs in the training queue at once, server-wide: half the workers (at least one)."""
    try:
        return max(1, int(os.environ.get("NETLENS_SWEEP_SHARE", "")))
    except ValueError:
        return max(1, training_jobs.REGISTRY.max_workers // 2)


LINE = SweepLine(training_jobs.REGISTRY, share=_share())
saved_work.on_take_over(LINE.hand_over)  # a reload mid-sweep: its runs still in line are the new session's


SHORT_SETTINGS = {"lr": "lr", "batch_size": "bs", "epochs": "ep", "optimizer": "opt", "hidden_units": "units",
                  "activation": "act", "dropout": "drop", "kernel_size": "k"}  # in a sweep run's short name


def value_text(name: str, value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def short_setting(names, values, seed: int) -> str:
    """'lr 0.01 · bs 32 · s0': a sweep run's settings and seed, short (names, legends)."""
    return " · ".join([*(f"{SHORT_SETTINGS.get(n, n)} {value_text(n, v)}" for n, v in zip(names, values)), f"s{seed}"])


def setting_text(names, values) -> str:
    """'learning rate 0.001, epochs 5'."""
    return ", ".join(f"{SETTINGS[n][1].split(' (')[0]} {value_text(n, v)}" for n, v in zip(names, values))


@dataclass
class Sweep:
    config: SweepConfig
    key: str                     # sweep_key: the reveal is recorded under it
    ds: Dataset
    run_keys: list[str]          # job keys, in config.expand() order
    labels: list[str]
    results: dict[str, TrainedModel] = field(default_factory=dict)  # job key -> finished run
    errors: dict[str, str] = field(default_factory=dict)            # job key -> why it did not finish

    @property
    def finished(self) -> bool:
        return len(self.results) + len(self.errors) == len(self.run_keys)

    def ordered(self) -> list[TrainedModel | None]:
        return [self.results.get(k) for k in self.run_keys]

    def summary(self) -> SweepSummary:
        return summarise(self.config, self.ordered())


@dataclass
class SweepState:
    sweep: Sweep | None = None
    notice: str | None = None  # said once on the next run


def sweep_state(session_state=None) -> SweepState:
    return session.get(KEY, SweepState, session_state)


def ledger(session_state=None) -> RevealLedger:
    """The session's test ledger, shared with single runs' reveals."""
    return session_models.ledger(session_state)


def _detach(s: SweepState) -> None:
    if s.sweep is not None:
        LINE.cancel(session_id(), [k for k in s.sweep.run_keys if k not in s.sweep.results])


def reset() -> None:
    """Start over: leave the line, stop watching the runs, forget the sweep (not the reveals)."""
    session.reset(KEY, WIDGETS, _detach)


def running() -> bool:
    s = sweep_state().sweep
    return s is not None and not s.finished


def start(ds: Dataset, config: SweepConfig) -> Sweep:
    """Queue every run of `config` in the sweep line (one sweep per session at a time)."""
    s = sweep_state()
    if running():
        raise ValueError("This session is already running a sweep. Wait for it to finish (or stop it) first.")
    _detach(s)
    runs = config.expand()
    keys = [job_key(ds, mc, tc) for mc, tc in runs]
    labels = [f"sweep: {setting_text(config.names, values)}, seed {seed}"
              for values in config.combinations() for seed in config.seeds]
    s.sweep = Sweep(config, sweep_key(ds, config), ds, keys, labels)
    prepared = training_jobs.prepared_models()
    line = []
    for key, label, (mc, tc) in zip(keys, labels, runs):
        if key in prepared:
            _keep(s.sweep, key, training_jobs.with_split(prepared[key], ds))
        else:
            line.append((key, label, training_jobs.training_job(ds, mc, tc)))
    LINE.enqueue(session_id(), line)
    return s.sweep


def stop() -> None:
    """Leave the line and stop watching the unfinished runs: the sweep ends with what finished."""
    s = sweep_state()
    if s.sweep is None:
        return
    _detach(s)
    for key in s.sweep.run_keys:
        if key not in s.sweep.results:
            s.sweep.errors.setdefault(key, "stopped")


def _keep(sweep: Sweep, key: str, trained: TrainedModel) -> None:
    sweep.results[key] = trained
    mc, tc = trained.model_config, trained.train_config
    values = sweep.config.combinations()[sweep.run_keys.index(key) // len(sweep.config.seeds)]
    # Grouped under their sweep: "Sweep · lr 0.01 · bs 32 · s0" (what varies, and the seed); the rest on hover.
    session_models.add(trained, sweep.ds, f"Sweep · {short_setting(sweep.config.names, values, tc.seed)}",
                       description=f"{training_jobs.describe(mc, tc, trained.dataset_name)} (sweep: "
                                   f"{setting_text(sweep.config.names, values)})")


def collect() -> list[jobs.Job | None]:
    """Keep the runs that finished since the last look; the job of every run (None: still in line)."""
    s = sweep_state().sweep
    if s is None:
        return []
    LINE.pump()
    out = []
    for key in s.run_keys:
        job = training_jobs.REGISTRY.get(key)
        out.append(job)
        if key in s.results or key in s.errors:
            continue
        if job is None:
            if key not in LINE.waiting(session_id()):
                s.errors[key] = "the server dropped this run (restarted or too busy)"
            continue
        if job.status == "done":
            _keep(s, key, job.result)
        elif job.is_finished:
            s.errors[key] = job.error or job.status
    if s.finished:
        LINE.cancel(session_id())
    return out


def reveal() -> RevealRecord:
    """The test score of the setting chosen by validation: one look at the test set, counted in the
    session's ledger (asking again for the same sweep is no new look); its runs' test scores show."""
    s = sweep_state().sweep
    if s is None:
        raise ValueError("Run a sweep first.")
    chosen = [k for k in s.run_keys if k in s.results and _chosen(s, k)]
    return ledger().reveal(s.key, s.config, s.summary(), s.ordered(), run_keys=[s.results[k].key for k in chosen])


def _chosen(sweep: Sweep, key: str) -> bool:
    summary = sweep.summary()
    if summary.best is None:
        return False
    i = sweep.run_keys.index(key) // len(sweep.config.seeds)
    return sweep.config.combinations()[i] == summary.best.values
