"""Training: configs and limits (config.py), the training loop and the whole pipeline
(loop.py) and weights as .safetensors (weights.py). The command line (analysis.compute.cluster.train_cli,
also the cluster's training job):

    python -m analysis.train --dataset mnist5k --model cnn --epochs 10 --seed 0

The names below are the package's public API; import them from ``analysis.train``.
No Streamlit here.
"""
from analysis.train.config import (
                                   DEVICES,
                                   LIMITS,
                                   OPTIMIZERS,
                                   TrainConfig,
                                   check_dataset_size,
                                   check_train_config,
                                   cpu_threads_per_job,
                                   job_key,
                                   pick_device,
)
from analysis.train.loop import (
                                   EpochRunner,
                                   History,
                                   TrainedModel,
                                   evaluate,
                                   fit,
                                   from_snapshot,
                                   make_optimizer,
                                   predict_proba,
                                   train,
)
from analysis.train.weights import FILE_FORMAT, MAX_HEADER_BYTES, load_weights, save_weights

__all__ = ["DEVICES", "LIMITS", "OPTIMIZERS", "TrainConfig", "check_dataset_size", "check_train_config",
           "cpu_threads_per_job", "job_key", "pick_device", "EpochRunner", "History", "TrainedModel", "evaluate",
           "fit", "from_snapshot", "make_optimizer", "predict_proba", "train", "FILE_FORMAT", "MAX_HEADER_BYTES",
           "load_weights", "save_weights"]
