"""Training's sidebar widgets: each returns plain values or config objects. Values persist
for the session (`persist_state`), so a page switch or a visit to another model keeps them."""
from __future__ import annotations

import streamlit as st

from analysis import datasets
from analysis.datasets import Dataset
from analysis.models import (
    ACTIVATIONS,
    KERNEL_SIZES,
    MAX_CONV_BLOCKS,
    MAX_HIDDEN_LAYERS,
    MAX_UNITS,
    MIN_UNITS,
    ModelConfig,
)
from analysis.train import LIMITS, OPTIMIZERS, TrainConfig, pick_device
from dashboard.core import formats, links, training_jobs
from dashboard.core.session import PERSIST
from dashboard.core.untrusted import decode_zip
from dashboard.core.uploads import PRIVACY, upload_ui
from dashboard.training import state as training_state

DATA_NAMES = {**datasets.DATASET_LABELS, "zip": "Your own images (.zip)"}
ZIP_HELP = ("A .zip with one folder per class, e.g. cats/1.jpg, dogs/2.jpg. At least two classes; "
            "images are made gray and resized to one size. " + PRIVACY)


LINK = [links.Param("data", "train_data", links.choice(*datasets.DATASETS, "zip")),
        links.Param("model", "train_kind", links.choice(*training_jobs.KIND_NAMES)),
        links.Param("epochs", "train_epochs", links.whole(1, LIMITS["max_epochs"])),
        links.Param("seed", "train_seed", links.whole(0, 2**31 - 1))]


def data_ui() -> Dataset | None:
    """Pick a dataset. Returns None (after saying why) when there is none to train on yet."""
    found = datasets.mnist_dir()
    options = ["mnist5k", "digits"] + (["mnist"] if found else []) + ["zip"]
    name = st.selectbox("Digits to learn from", options, format_func=DATA_NAMES.get, key="train_data",
                        persist_state=PERSIST,
                        help="MNIST: real handwritten digits scanned for the US postal service. "
                             "Both built-in sets ship with the app; nothing is downloaded.")
    if not found:
        st.caption(f"Full MNIST: not on this server. An administrator can put the four MNIST files in a "
                   f"folder and name it in the environment variable `{datasets.MNIST_ENV}`.")
    if name != "zip":
        return training_jobs.dataset(name)
    up = upload_ui(training_state.training_state().zip, "Your images (.zip)", "train_zip", ["zip"], accept=_zip,
                   what=".zip", help=ZIP_HELP)
    ds = None if up is None else up.value
    if ds is None:
        st.info("Upload a .zip of images to train on them.")
    return ds


def _zip(data: bytes, name: str) -> tuple[None, Dataset]:

    return None, decode_zip(data, name=name.rsplit(".", 1)[0])  # in a worker process, budgeted, time-limited


def model_ui() -> ModelConfig:
    st.session_state.setdefault("train_kind", "mlp")
    kind = st.radio("Model", list(training_jobs.KIND_NAMES), format_func=training_jobs.KIND_NAMES.get, key="train_kind",
                    persist_state=PERSIST,
                    help="Logistic regression: one layer of weights. Multilayer perceptron: hidden layers in between. "
                         "Convnet: learned kernels slide over the image, as on the Convolution page.")
    if kind == "logreg":
        return ModelConfig(kind="logreg")
    with st.expander("Model settings", expanded=False):
        if kind == "mlp":
            layers = st.slider("Hidden layers", 1, MAX_HIDDEN_LAYERS, 1, key="mlp_layers", persist_state=PERSIST,
                               help="How many layers of units sit between the pixels and the scores.")
            units = st.select_slider(
                "Units per hidden layer",
                [8, 16, 32, 64, 128, 256, 512, 1024],
                512,
                key="mlp_units",
                persist_state=PERSIST,
                help=f"Each unit is one weighted sum of the layer below ({MIN_UNITS}–{MAX_UNITS}).",
            )
            act = st.selectbox("Activation", list(ACTIVATIONS), key="mlp_activation", persist_state=PERSIST,
                               help="What each unit does to its sum. 'none' leaves it linear: then extra layers "
                                    "add nothing, as the lecture says — try it.")
            dropout = st.slider("Dropout", 0.0, 0.5, 0.0, 0.1, key="mlp_dropout", persist_state=PERSIST,
                                help="While training, switch off this fraction of units at random; fights overfitting.")
            return ModelConfig(kind="mlp", hidden=(units,) * layers, activation=act, dropout=dropout)
        blocks = st.slider("Conv blocks", 1, MAX_CONV_BLOCKS, 2, key="cnn_blocks", persist_state=PERSIST,
                           help="Each block: a convolution, ReLU, then 2×2 max-pooling that halves the size.")
        first = st.select_slider("Filters in the first block", [4, 8, 16, 32, 64], 16, key="cnn_channels",
                                 persist_state=PERSIST,
                                 help="How many kernels the first block learns; each later block has twice as many.")
        k = st.select_slider("Kernel size", list(KERNEL_SIZES), 3, key="cnn_kernel", persist_state=PERSIST,
                             help="Side of each learned kernel.")
        dropout = st.slider("Dropout", 0.0, 0.5, 0.0, 0.1, key="cnn_dropout", persist_state=PERSIST,
                            help="While training, switch off this fraction of features at random.")
        return ModelConfig(kind="cnn", channels=tuple(min(128, first * 2**i) for i in range(blocks)), kernel_size=k,
                           dropout=dropout)


def train_config_ui() -> TrainConfig:
    with st.expander("Training settings", expanded=False):
        opt = st.radio("Optimizer", list(OPTIMIZERS), format_func={"adam": "Adam", "sgd": "SGD"}.get,
                       horizontal=True, key="train_opt", persist_state=PERSIST, help=" ".join(OPTIMIZERS.values()))
        lr = st.select_slider(
            "Learning rate",
            [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3],
            1e-3 if opt == "adam" else 0.1,
            key=f"train_lr_{opt}",
            persist_state=PERSIST,
            format_func=lambda v: f"{v:g}",
            help="How big a step each update takes. Too big: the loss jumps around; too small: slow.",
        )
        batch = st.select_slider("Batch size", [16, 32, 64, 128, 256, 512, 1024], 64, key="train_batch",
                                 persist_state=PERSIST,
                                 help="Images per update. Smaller batches: more, noisier steps per epoch.")
        st.session_state.setdefault("train_epochs", TrainConfig.epochs)
        epochs = st.slider("Epochs", 1, LIMITS["max_epochs"], key="train_epochs", persist_state=PERSIST,
                           help="One epoch = one pass over all training images.")
        st.session_state.setdefault("train_seed", TrainConfig.seed)
        seed = st.number_input(
            "Seed",
            0,
            2**31 - 1,
            key="train_seed",
            persist_state=PERSIST,
            help="Fixes the split, the starting weights and the order of images: same seed, same result.",
        )
        device = st.selectbox("Device", ["auto", "cpu", "cuda"], key="train_device", persist_state=PERSIST,
                              format_func={"auto": "Automatic", "cpu": "CPU", "cuda": "GPU (CUDA)"}.get,
                              help="Automatic uses a GPU when the server has one.")
    try:
        _, why = pick_device(device)
        st.caption(f"Device: {why}.")
    except ValueError as e:
        st.warning(str(e))
        device = "auto"
    st.caption(f"Server limits: at most {LIMITS['max_epochs']} epochs, {LIMITS['max_units']} units per layer, "
               f"{formats.count(LIMITS['max_samples'])} images.")
    return TrainConfig(optimizer=opt, lr=lr, batch_size=batch, epochs=epochs, seed=int(seed), device=device)
