"""The command line: python -m analysis.train --dataset mnist5k --model cnn --epochs 10 --seed 0

Trains with the Training page's defaults and prints the final metrics as one JSON line.
``--config JSON`` gives every ModelConfig/TrainConfig field at once (analysis.compute.jobspec validates it;
it replaces --dataset, --model and the training flags); ``--progress`` prints one JSON line per
epoch first; ``--store DIR --key KEY`` (the cluster back end, analysis.compute.cluster.executor) writes the result
into the shared store under the job key and stops when no app server watches (analysis.compute.cluster.job)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from analysis.compute.cluster.job import STOPPED_EXIT, emit, same_version, set_threads, train_job
from analysis.compute.jobspec import parse_train_spec
from analysis.compute.store import Store
from analysis.datasets import DATASETS, load_dataset
from analysis.models import MODEL_KINDS, default_config
from analysis.recording import fit_recorded, save_with_recording
from analysis.train.config import DEVICES, OPTIMIZERS, TrainConfig
from analysis.train.loop import fit
from analysis.train.weights import save_weights


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m analysis.train",
        description="Train one of NetLens's models with the Training page's defaults; "
                    "prints the final metrics as one JSON line.")
    parser.add_argument("--dataset", choices=list(DATASETS), default="mnist5k")
    parser.add_argument("--model", choices=list(MODEL_KINDS), default="mlp")
    parser.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    parser.add_argument("--seed", type=int, default=TrainConfig.seed)
    parser.add_argument("--device", choices=DEVICES, default=TrainConfig.device)
    parser.add_argument("--optimizer", choices=list(OPTIMIZERS), default=TrainConfig.optimizer)
    parser.add_argument("--lr", type=float, default=TrainConfig.lr)
    parser.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    parser.add_argument("--save", type=Path, metavar="DIR", help="write DIR/<dataset>-<model>-<key>.safetensors")
    parser.add_argument("--record", action="store_true",
                        help="record every layer for 1,000 test digits after each epoch (replayed on the "
                             "Representations page, 'Over training'); with --save, the file carries it")
    parser.add_argument("--config", metavar="JSON",
                        help='every setting as one JSON object: {"dataset": "mnist5k", "model": {"kind": "mlp", '
                             '"hidden": [512], ...}, "train": {"epochs": 10, "seed": 0, ...}, "record": true}')
    parser.add_argument("--progress", action="store_true", help="print one JSON line per epoch")
    parser.add_argument("--store", type=Path, metavar="DIR", help="the shared store (the cluster back end)")
    parser.add_argument("--key", metavar="KEY", help="the job key to write the result under in --store")
    parser.add_argument("--code-version", metavar="HASH", help="the app server's code version (checked first)")
    args = parser.parse_args(argv)
    if (mismatch := same_version(args.code_version)) is not None:
        return mismatch
    if args.config is not None or args.store is not None:
        return _from_config(parser, args)
    try:
        config = TrainConfig(optimizer=args.optimizer, lr=args.lr, batch_size=args.batch_size,
                             epochs=args.epochs, seed=args.seed, device=args.device)
        if args.record:

            trained, trained.recording = fit_recorded(load_dataset(args.dataset), default_config(args.model), config)
        else:
            trained = fit(load_dataset(args.dataset), default_config(args.model), config)
    except ValueError as e:
        parser.error(str(e))
    _finish(args, trained, dict(dataset=args.dataset, model=args.model))
    return 0


def _from_config(parser, args) -> int:
    """--config (and --store/--key): the cluster back end's entrypoint."""

    if (args.store is None) != (args.key is None):
        parser.error("--store and --key go together: the store folder and the job key to write the result under.")
    try:
        spec = parse_train_spec(args.config if args.config is not None else "{}")
        store = Store(str(args.store)) if args.store is not None else None
        set_threads()
        trained, stopped = train_job(spec, store, args.key, progress=args.progress)
    except ValueError as e:
        parser.error(str(e))
    if stopped:
        emit("stopped", message="stopped: no app server watches this job any more")
        return STOPPED_EXIT
    name = spec.dataset if isinstance(spec.dataset, str) else "your data"
    _finish(args, trained, dict(dataset=name, model=spec.model.kind, key=args.key))
    return 0


def _finish(args, trained, result: dict) -> None:
    result.update(test_accuracy=trained.test_accuracy, val_accuracy=trained.val_accuracy,
                  epochs=len(trained.history.rows), seconds=round(trained.seconds, 3), device=trained.device,
                  parameters=trained.parameters)
    if trained.recording is not None:
        result["recorded_epochs"] = list(trained.recording.epochs)
    if args.save is not None:
        args.save.mkdir(parents=True, exist_ok=True)
        path = args.save / trained.file_name
        if trained.recording is not None:

            path.write_bytes(save_with_recording(trained, trained.recording))
        else:
            path.write_bytes(save_weights(trained))
        result["saved"] = str(path)
    print(json.dumps(result), flush=True)
