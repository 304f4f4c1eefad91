"""The command line: python -m analysis.train --dataset mnist5k --model cnn --epochs 10 --seed 0

Trains with the Training page's defaults and prints the final metrics as one JSON line."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from analysis.datasets import DATASETS, load_dataset
from analysis.models import MODEL_KINDS, default_config
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
    args = parser.parse_args(argv)
    try:
        config = TrainConfig(optimizer=args.optimizer, lr=args.lr, batch_size=args.batch_size,
                             epochs=args.epochs, seed=args.seed, device=args.device)
        if args.record:
            from analysis.recording import fit_recorded

            trained, trained.recording = fit_recorded(load_dataset(args.dataset), default_config(args.model), config)
        else:
            trained = fit(load_dataset(args.dataset), default_config(args.model), config)
    except ValueError as e:
        parser.error(str(e))
    result = dict(dataset=args.dataset, model=args.model, test_accuracy=trained.test_accuracy,
                  val_accuracy=trained.val_accuracy, epochs=len(trained.history.rows),
                  seconds=round(trained.seconds, 3), device=trained.device, parameters=trained.parameters)
    if trained.recording is not None:
        result["recorded_epochs"] = list(trained.recording.epochs)
    if args.save is not None:
        args.save.mkdir(parents=True, exist_ok=True)
        path = args.save / trained.file_name
        if trained.recording is not None:
            from analysis.recording import save_with_recording

            path.write_bytes(save_with_recording(trained, trained.recording))
        else:
            path.write_bytes(save_weights(trained))
        result["saved"] = str(path)
    print(json.dumps(result), flush=True)
    return 0
