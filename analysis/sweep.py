"""A small, honest settings sweep: one or two settings with up to 3 values each, up to
3 seeds, at most 9 runs; the best setting chosen by VALIDATION accuracy; the test score
revealed only on request, and every look at the test set counted in the session's ledger.

    sweep = SweepConfig(settings={"lr": (0.0003, 0.001, 0.003)}, seeds=(0, 1, 2))
    runs = sweep.expand()                     # [(ModelConfig, TrainConfig), ...] in grid order
    results = [fit(dataset, mc, tc) for mc, tc in runs]
    summary = summarise(sweep, results)       # mean/std validation accuracy per setting, best by validation
    record = ledger.reveal(sweep_key(dataset, sweep), summary, results)   # one look at the test set
    look = ledger.look(trained.key, "an MLP …", val, test)                 # a single run's: another look

Each seed fixes the split (so the validation images), the initial weights and the order of
the images, exactly as a single run with that seed: identical runs share one training.
`summarise` never reads a test accuracy; only `RevealLedger.reveal` does. The ledger counts every
look (a sweep's reveal, a single model's reveal): the more looks, the less the test set is a final
check. No Streamlit here.
"""
from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from dataclasses import dataclass, replace
from typing import Any, Callable, Sequence

from analysis.models import ACTIVATIONS, KERNEL_SIZES, ModelConfig, check_config
from analysis.train import OPTIMIZERS, TrainConfig, check_train_config, job_key

__all__ = ["SETTINGS", "SweepConfig", "SettingSummary", "SweepSummary", "RevealRecord", "RevealLedger", "Look",
           "summarise", "sweep_key", "MAX_RUNS", "MAX_VALUES", "MAX_SEEDS", "MAX_SETTINGS"]

MAX_SETTINGS, MAX_VALUES, MAX_SEEDS, MAX_RUNS = 2, 3, 3, 9

# name -> (which config, plain words, the model kinds it applies to (None: all), value type)
SETTINGS = {
    "lr": ("train", "learning rate", None, float),
    "batch_size": ("train", "batch size", None, int),
    "epochs": ("train", "epochs", None, int),
    "optimizer": ("train", "optimizer", None, str),
    "hidden_units": ("model", "hidden units (every hidden layer)", ("mlp",), int),
    "activation": ("model", "activation", ("mlp",), str),
    "dropout": ("model", "dropout", ("mlp", "cnn"), float),
    "kernel_size": ("model", "kernel size", ("cnn",), int),
}
CHOICES = {"optimizer": tuple(OPTIMIZERS), "activation": tuple(ACTIVATIONS), "kernel_size": KERNEL_SIZES}


def _normal_value(name: str, value):
    kind = SETTINGS[name][3]
    if kind is str:
        if not isinstance(value, str) or value not in CHOICES[name]:
            raise ValueError(f"Expected {SETTINGS[name][1]} to be one of {', '.join(map(str, CHOICES[name]))}; "
                             f"got {value!r}.")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"Expected a number for {SETTINGS[name][1]}; got {value!r}.")
    if kind is int:
        if float(value) != int(value):
            raise ValueError(f"Expected a whole number for {SETTINGS[name][1]}; got {value!r}.")
        return int(value)
    return float(value)


def _normal_settings(settings) -> tuple[tuple[str, tuple], ...]:
    pairs = list(settings.items()) if isinstance(settings, dict) else list(settings)
    if not 1 <= len(pairs) <= MAX_SETTINGS:
        raise ValueError(f"Expected one or two settings to vary; got {len(pairs)}. Pick at most "
                         f"{MAX_SETTINGS} of: {', '.join(SETTINGS)}.")
    out = []
    for pair in pairs:
        name, values = pair
        if name not in SETTINGS:
            raise ValueError(f"Unknown setting {name!r}: expected one of {', '.join(SETTINGS)}.")
        values = tuple(values) if isinstance(values, (list, tuple)) else (values,)
        if not 1 <= len(values) <= MAX_VALUES:
            raise ValueError(f"Expected 1 to {MAX_VALUES} values of {SETTINGS[name][1]}; got {len(values)}. "
                             "Use fewer values.")
        normal = tuple(_normal_value(name, v) for v in values)
        if len(set(normal)) != len(normal):
            raise ValueError(f"Expected different values of {SETTINGS[name][1]}; got {list(values)}. "
                             "Remove the repeats.")
        order = CHOICES[name].index if SETTINGS[name][3] is str else None  # words: the page's order
        out.append((name, tuple(sorted(normal, key=order))))
    if len({name for name, _ in out}) != len(out):
        raise ValueError(f"Expected two different settings; got {out[0][0]!r} twice.")
    return tuple(out)


def _normal_seeds(seeds) -> tuple[int, ...]:
    seeds = tuple(seeds) if isinstance(seeds, (list, tuple)) else (seeds,)
    if not 1 <= len(seeds) <= MAX_SEEDS:
        raise ValueError(f"Expected 1 to {MAX_SEEDS} seeds; got {len(seeds)}. Use fewer seeds.")
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s < 2**32:
            raise ValueError(f"Expected seeds that are whole numbers from 0 to {2**32 - 1}; got {s!r}.")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"Expected different seeds; got {list(seeds)}. Remove the repeats.")
    return tuple(sorted(seeds))


@dataclass(frozen=True)
class SweepConfig:
    settings: Any = (("lr", (0.0003, 0.001, 0.003)),)  # 1-2 (name, values) pairs (or a dict), 1-3 values each
    seeds: tuple[int, ...] = (0,)                      # 1-3 seeds
    model: ModelConfig = ModelConfig()                 # everything else: the base settings
    train: TrainConfig = TrainConfig()

    def __post_init__(self):
        object.__setattr__(self, "settings", _normal_settings(self.settings))
        object.__setattr__(self, "seeds", _normal_seeds(self.seeds))
        runs = math.prod(len(v) for _, v in self.settings) * len(self.seeds)
        if runs > MAX_RUNS:
            shape = " × ".join(str(len(v)) for _, v in self.settings)
            raise ValueError(f"Expected at most {MAX_RUNS} runs per sweep; {shape} values × {len(self.seeds)} "
                             f"seed(s) is {runs}. Use fewer values or seeds.")
        check_config(self.model)
        for name, _ in self.settings:
            kinds = SETTINGS[name][2]
            if kinds is not None and self.model.kind not in kinds:
                raise ValueError(f"The setting {SETTINGS[name][1]!r} applies to {' and '.join(kinds)} models; this "
                                 f"model is a {self.model.kind}. Pick another setting.")
        for mc, tc in self.expand():  # every run must be allowed on its own
            check_config(mc)
            check_train_config(tc)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.settings)

    def combinations(self) -> list[tuple]:
        """Every setting (a tuple of values, in `names` order), row-major over the grid."""
        if len(self.settings) == 1:
            return [(v,) for v in self.settings[0][1]]
        return [(a, b) for a in self.settings[0][1] for b in self.settings[1][1]]

    def configs(self, values: tuple, seed: int) -> tuple[ModelConfig, TrainConfig]:
        """The (ModelConfig, TrainConfig) of one run: the base settings with `values` and `seed`."""
        model_changes, train_changes = {}, {"seed": int(seed)}
        for name, value in zip(self.names, values):
            if name == "hidden_units":
                model_changes["hidden"] = tuple(value for _ in self.model.hidden)
            elif SETTINGS[name][0] == "model":
                model_changes[name] = value
            else:
                train_changes[name] = value
        return replace(self.model, **model_changes), replace(self.train, **train_changes)

    def expand(self) -> list[tuple[ModelConfig, TrainConfig]]:
        """Every run, setting by setting (combinations() order), seed by seed within each."""
        return [self.configs(values, seed) for values in self.combinations() for seed in self.seeds]


def sweep_key(dataset, sweep: SweepConfig) -> str:
    """A stable 16-hex-digit key of a sweep: its runs (job_key of each, so the data, the model and
    training settings, the seeds) and which settings vary. Value order and setting order do not matter."""
    runs = sorted(job_key(dataset, mc, tc) for mc, tc in sweep.expand())
    payload = {"v": 1, "varied": sorted(sweep.names), "runs": runs}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def _val_accuracy(result) -> float | None:
    if result is None:
        return None
    value = result.get("val_accuracy") if isinstance(result, dict) else getattr(result, "val_accuracy", None)
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


@dataclass(frozen=True)
class SettingSummary:
    values: tuple                     # the setting, in SweepConfig.names order
    val_accuracies: tuple[float, ...]  # one per finished seed
    val_mean: float                   # NaN when no seed has finished
    val_std: float                    # population std over seeds (0 with one seed)

    @property
    def n_runs(self) -> int:
        return len(self.val_accuracies)


@dataclass(frozen=True)
class SweepSummary:
    names: tuple[str, ...]
    axes: tuple[tuple, ...]              # the values of each varied setting (heatmap rows, columns)
    settings: tuple[SettingSummary, ...]  # in SweepConfig.combinations() order
    best: SettingSummary | None          # highest mean validation accuracy (None before any run finished)
    finished: int                        # runs with a validation accuracy
    total: int

    def grid(self, what: str = "val_mean") -> list[list[float]]:
        """`what` ('val_mean' | 'val_std') as rows × columns (one row when one setting varies)."""
        cols = len(self.axes[1]) if len(self.axes) == 2 else len(self.axes[0])
        flat = [getattr(s, what) for s in self.settings]
        return [flat[i:i + cols] for i in range(0, len(flat), cols)]


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    if not values:
        return float("nan"), float("nan")
    mean = sum(values) / len(values)
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))


def summarise(sweep: SweepConfig, results: Sequence) -> SweepSummary:
    """Mean and spread of validation accuracy over seeds per setting, and the best setting by
    validation accuracy (ties: the smaller spread, then the earlier setting). `results` lines up
    with sweep.expand(): TrainedModels, dicts with 'val_accuracy', or None for unfinished runs.
    Test accuracy is never read here."""
    runs = sweep.expand()
    if len(results) != len(runs):
        raise ValueError(f"Expected one result per run ({len(runs)}, in sweep.expand() order); got {len(results)}.")
    n_seeds = len(sweep.seeds)
    settings = []
    for i, values in enumerate(sweep.combinations()):
        vals = tuple(v for v in map(_val_accuracy, results[i * n_seeds:(i + 1) * n_seeds]) if v is not None)
        settings.append(SettingSummary(values, vals, *_mean_std(vals)))
    # rounded: means that differ only by floating-point noise tie
    ranked = [(-round(s.val_mean, 9), round(s.val_std, 9), i) for i, s in enumerate(settings) if s.n_runs]
    best = settings[min(ranked)[2]] if ranked else None
    return SweepSummary(names=sweep.names, axes=tuple(v for _, v in sweep.settings), settings=tuple(settings),
                        best=best, finished=sum(s.n_runs for s in settings), total=len(runs))


# ---------------------------------------------------------------- the test score, revealed on request

@dataclass(frozen=True)
class RevealRecord:
    sweep_key: str
    names: tuple[str, ...]
    values: tuple                  # the chosen setting
    val_accuracy: float            # its mean validation accuracy over seeds
    test_accuracy: float           # its mean test accuracy over the same seeds
    revealed_at: float             # time.time() of the (first) reveal

    @property
    def gap(self) -> float:
        """Validation minus test accuracy (positive: the validation score was optimistic)."""
        return self.val_accuracy - self.test_accuracy

    @property
    def when(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.revealed_at))


def _test_accuracy(result) -> float:
    value = result.get("test_accuracy") if isinstance(result, dict) else getattr(result, "test_accuracy", None)
    if value is None or isinstance(value, bool) or not math.isfinite(float(value)):
        raise ValueError("Expected a test accuracy for every run of the chosen setting; one has none.")
    return float(value)


@dataclass(frozen=True)
class Look:
    """One look at the test set: a sweep's chosen setting or a single model, revealed."""
    number: int            # 1: the first look of this ledger
    kind: str              # "sweep" or "model"
    key: str               # the sweep key or the model's job key
    label: str             # what was revealed, in words
    val_accuracy: float
    test_accuracy: float
    at: float              # time.time()

    @property
    def when(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.at))


class RevealLedger:
    """A session's test ledger (keep it across Start over): every look at the test set, counted.
    A sweep's reveal records the chosen setting's scores once per sweep key (asking again returns
    that record and is no new look); a single model's reveal (`look`) likewise once per model key.
    `shown(key)` says whether a model's test score may be shown."""

    def __init__(self, clock: Callable[[], float] = time.time):
        self._clock = clock
        self._records: dict[str, RevealRecord] = {}
        self._looks: list[Look] = []
        self._shown: set[str] = set()   # model keys whose test score was revealed (alone or by a sweep)
        self._lock = threading.Lock()

    def get(self, key: str) -> RevealRecord | None:
        with self._lock:
            return self._records.get(key)

    def revealed(self, key: str) -> bool:
        return self.get(key) is not None

    def reveal(self, key: str, sweep: SweepConfig, summary: SweepSummary, results: Sequence,
               run_keys: Sequence[str] = ()) -> RevealRecord:
        """The test score of summary.best (mean over its seeds), recorded once under `key` and
        counted as one look; `run_keys` (the chosen setting's runs' model keys) become shown.
        ValueError before every run has finished."""
        with self._lock:
            if key in self._records:
                return self._records[key]
            if summary.best is None or summary.finished < summary.total:
                raise ValueError(f"Wait for every run to finish ({summary.finished} of {summary.total} so far) before "
                                 "revealing the test score.")
            i = sweep.combinations().index(summary.best.values)
            n = len(sweep.seeds)
            tests = [_test_accuracy(r) for r in results[i * n:(i + 1) * n]]
            record = RevealRecord(sweep_key=key, names=summary.names, values=summary.best.values,
                                  val_accuracy=summary.best.val_mean, test_accuracy=sum(tests) / len(tests),
                                  revealed_at=float(self._clock()))
            self._records[key] = record
            self._looks.append(Look(len(self._looks) + 1, "sweep", key, "a sweep's choice: " + ", ".join(
                f"{name} {value}" for name, value in zip(summary.names, summary.best.values)),
                record.val_accuracy, record.test_accuracy, record.revealed_at))
            self._shown.update(run_keys)
            return record

    def look(self, key: str, label: str, val_accuracy: float, test_accuracy) -> Look:
        """Reveal one model's test score (by its job key): one more look, unless this model's was
        already revealed alone (then its earlier look is returned)."""
        if not isinstance(key, str) or not key:
            raise ValueError(f"Expected the model's key (a non-empty string); got {key!r}.")
        test = _test_accuracy({"test_accuracy": test_accuracy})
        with self._lock:
            for earlier in self._looks:
                if earlier.kind == "model" and earlier.key == key:
                    return earlier
            look = Look(len(self._looks) + 1, "model", key, str(label), float(val_accuracy), test,
                        float(self._clock()))
            self._looks.append(look)
            self._shown.add(key)
            return look

    def shown(self, key: str) -> bool:
        """May this model's test score be shown (revealed alone or as a sweep's choice)?"""
        with self._lock:
            return key in self._shown

    def looks(self) -> list[Look]:
        """Every look at the test set, oldest first."""
        with self._lock:
            return list(self._looks)

    @property
    def count(self) -> int:
        with self._lock:
            return len(self._looks)

    def records(self) -> list[RevealRecord]:
        """Every sweep's reveal so far, oldest first."""
        with self._lock:
            return list(self._records.values())

    def __len__(self) -> int:
        """The looks at the test set so far."""
        return self.count
