"""Training: configs and limits (config.py), the training loop and the whole pipeline
(loop.py), weights as .safetensors (weights.py), and the command line (cli.py):

    python -m analysis.train --dataset mnist5k --model cnn --epochs 10 --seed 0

The names below are the package's public API; import them from ``analysis.train``.
No Streamlit here.
"""
from analysis.train.cli import main
from analysis.train.config import (DEVICES, LIMITS, OPTIMIZERS, TrainConfig, check_dataset_size, check_train_config,
                                   cpu_threads_per_job, job_key, pick_device)
from analysis.train.loop import (EpochRunner, History, TrainedModel, evaluate, fit, from_snapshot, make_optimizer,
                                 predict_proba, train)
from analysis.train.weights import FILE_FORMAT, MAX_HEADER_BYTES, load_weights, save_weights

__all__ = ["DEVICES", "LIMITS", "OPTIMIZERS", "TrainConfig", "check_dataset_size", "check_train_config",
           "cpu_threads_per_job", "job_key", "pick_device", "EpochRunner", "History", "TrainedModel", "evaluate",
           "fit", "from_snapshot", "make_optimizer", "predict_proba", "train", "FILE_FORMAT", "MAX_HEADER_BYTES",
           "load_weights", "save_weights", "main"]
