"""What Training draws: the live progress, the results of a trained model (what it did and
learned), the runs table, save/load and the prepared models."""
from __future__ import annotations

import io

import pandas as pd
import streamlit as st

from analysis.compute.untrusted_weights import open_weights
from analysis.datasets import class_counts, split_dataset
from analysis.models import layout
from analysis.recording import replay_unavailable, save_with_recording
from dashboard.core import chart_text, chrome, figures, formats, session_models, training_jobs
from dashboard.core.figures import NO_BAR, chart
from dashboard.core.guard import plain
from dashboard.core.session import hand_over
from dashboard.core.session_models import SessionModel
from dashboard.core.uploads import upload_ui
from dashboard.representations.replay_state import replay_state
from dashboard.training import state as training_state
from dashboard.training import trained_view


def setup_ui(ds, mc, tc) -> None:
    """What the settings make, before training: the data's classes and split, the model layer by layer."""
    with st.expander(f"The data: {formats.count(len(ds))} images of {ds.image_shape[0]}×{ds.image_shape[1]} pixels, "
                     f"{ds.n_classes} classes", expanded=False):
        st.table(class_counts(ds, split_dataset(ds, tc.seed)), hide_index=True)
        st.caption("72% of the images train the model, 8% (validation) pick settings, 20% (test) give the final "
                   "score.")
    with st.expander(f"The model: {training_jobs.KIND_NAMES[mc.kind]}, layer by layer", expanded=False):
        try:
            architecture_table(layout(mc, ds.image_shape, ds.n_classes).rows)  # built once per settings
        except ValueError as e:
            st.error(str(e))


def train_ui(ds, mc, tc) -> None:
    """Collect a finished run (or say why it failed, with Retry), then the Train button while none is watched."""
    error = training_state.collect()
    if error:
        st.error(error)
        st.button("Retry", key="train_retry", on_click=training_state.retry, args=(ds, mc, tc),
                  icon=":material/refresh:", help="Train again with these settings.")
    state = training_state.training_state()
    if state.notice:
        st.info(state.notice)
        state.notice = None
    if training_state.watched() is None:
        if st.button("Train", type="primary", icon=":material/play_arrow:", key="train_start",
                     help="Start training with these settings. Identical runs on this server are reused, "
                          "not repeated."):
            try:
                training_state.start(ds, mc, tc)
            except (ValueError, RuntimeError) as e:
                st.error(str(e))


def architecture_table(rows) -> None:
    """The model as a table, one row per layer (analysis.models.layout), and its size."""
    total = sum(r["parameters"] for r in rows)
    table = pd.DataFrame(rows)
    st.table(table.style.format({"parameters": formats.count}) if "parameters" in table else table, hide_index=True)
    st.caption(f"**{formats.count(total)} parameters** (weights and biases) to learn.")


def save_load(sm: SessionModel | None) -> None:
    if sm is not None:
        t = sm.trained
        a, b = st.columns(2)
        a.download_button(
            "Download the weights (.safetensors)",
            data=lambda: _weights_file(t),
            file_name=t.file_name,
            mime="application/octet-stream",
            icon=":material/download:",
            help="The learned numbers with the settings inside; upload it here later to restore the model.",
        )
        csv = pd.DataFrame(t.history.rows).to_csv(index=False)
        b.download_button("Download the metrics (CSV)", data=csv, file_name=t.file_name.replace(".safetensors", ".csv"),
                          mime="text/csv", icon=":material/download:", help="Loss and accuracy for every epoch.")
    up = upload_ui(training_state.training_state().weights, "Restore a model from a .safetensors file",
                   "weights_upload", ["safetensors"], accept=_restore, what="model file", show=False,
                   help="Only .safetensors files saved by NetLens; other files are refused, never run.")
    if up is not None and training_state.training_state().weights.showing:
        st.success(f"Restored “{plain(up.name)}”.")


def _weights_file(t) -> bytes:
    """The weights, with the training's recording when the model has one (replayable after a reload)."""

    return save_with_recording(t, t.recording)


def _restore(data: bytes, name: str) -> tuple[None, str]:
    """`accept` for a weights file: it becomes one of this session's models (its name is kept)."""

    loaded, loaded.recording = open_weights(data)  # every error on this path: the plain refusal
    ds = training_jobs.dataset(loaded.dataset_name) if loaded.dataset_name in training_jobs.KNOWN_DATASETS else None
    return None, training_state.add_model(training_jobs.with_split(loaded, ds), ds, suffix=" (from file)").name


def results(sm: SessionModel) -> None:
    t = sm.trained
    m = st.columns(4)
    m[0].metric("Validation accuracy", formats.accuracy(t.val_accuracy),
                help="On the validation digits: the score to choose settings by.")
    if sm.hidden_test:
        m[1].metric("Final check: test accuracy", "hidden",
                    help="Hidden until you reveal it: every reveal is one more look at the test set, counted in "
                         "this session's test ledger (beside the runs table).")
        m[1].button("Reveal its test score", key="reveal_test", icon=":material/visibility:", on_click=_reveal,
                    args=(sm.name,), help="One more look at the test set: counted in the test ledger.")
    else:
        m[1].metric("Final check: test accuracy", formats.accuracy(t.test_accuracy),
                    help="On the test digits, looked at once at the end; never used to choose settings.")
    m[2].metric("Parameters", formats.count(t.parameters))
    m[3].metric("Training time", formats.seconds(t.seconds), help=f"on the {t.device.upper()}")
    curves = figures.shared(("curves", repr(t.history.rows), t.train_config.epochs),
                            lambda: figures.learning_curves(t.history.rows, t.train_config.epochs))
    chart(st, curves, chart_text.learning_curves(t.history.rows, t.train_config.epochs), config=NO_BAR,
          key="final_curves")
    _watch_it_learn(sm)
    if sm.dataset is None or t.split is None:
        st.info("This model came from a file trained on data this server does not have, so only its curves and "
                "weights can be shown.")
        trained_view.learned(sm)
        return
    tabs = st.tabs(["Confusion matrix", "Mistakes", "What it learned", "One image, step by step", "Compare runs"])
    with tabs[0]:
        trained_view.confusion(sm)
    with tabs[1]:
        trained_view.mistakes(sm)
    with tabs[2]:
        trained_view.learned(sm)
    with tabs[3]:
        trained_view.one_digit(sm)
    with tabs[4]:
        runs_table()


WHY_HIDDEN = ("Every test score stays hidden until you reveal it, because a score you have seen can sway the next "
              "setting you try, and then the test set is no longer a fair final check. Choose by validation "
              "accuracy, and reveal the test score of the model you finally picked.")


def _reveal(name: str) -> None:
    session_models.reveal_test(name)


def ledger_ui() -> None:
    """The session's test ledger: how often the test set has been looked at, and each look."""
    looks = session_models.ledger().looks()
    n = len(looks)
    text = f"**The test set has been looked at {n} time{'s' if n != 1 else ''}** in this session"
    (st.warning if n > 1 else st.info)(
        text + ("; the more looks, the less it is a final check." if n else ": it is still a fair final check."),
        icon=":material/visibility:")
    if looks:
        st.table(
            pd.DataFrame(
                [
                    {
                        "look": k.number,
                        "what": k.label,
                        "validation accuracy": formats.accuracy(k.val_accuracy),
                        "test accuracy": formats.accuracy(k.test_accuracy),
                        "when": k.when,
                    }
                    for k in looks
                ]
            ),
            hide_index=True,
        )
    st.caption(WHY_HIDDEN + " The ledger survives Start over and page switches; a **new browser tab starts a new "
               "ledger** (at 0), so looks made in another tab are not counted here.")
    chrome.glossary_links("Test ledger", "Test set", "Validation set")


def _watch_it_learn(sm: SessionModel) -> None:
    """The link to Representations' "Over training" view with this model."""

    why = replay_unavailable(sm.trained.recording)
    if st.button("Watch its layers learn (Over training)", key="train_to_replay", icon=":material/animation:",
                 disabled=why is not None, help=why or "Replay each layer's map epoch by epoch on the Representations "
                                                       "page."):
        hand_over(replay_state(), "incoming_model", sm.name, "representations.py")


def runs_table() -> None:
    runs = session_models.state().runs
    if not runs:
        st.write("No runs yet.")
        ledger_ui()
        return
    ledger = session_models.ledger()
    df = pd.DataFrame(runs)
    keys = df.pop("key") if "key" in df else pd.Series("", df.index)
    before = df.pop("looks before").fillna(0).astype(int) if "looks before" in df else pd.Series(0, df.index)
    hidden = pd.Series([not ledger.shown(k) for k in keys], df.index)
    df["test accuracy"] = df["test accuracy"].where(~hidden)  # no test score until revealed
    df.insert(1, "trained after looks at the test set", before)
    shown = df.copy()  # for people: percentages and thousands separators; the CSV keeps the raw numbers
    shown["validation accuracy"] = shown["validation accuracy"].map(formats.accuracy)
    shown["test accuracy"] = ["hidden" if h else formats.accuracy(v) for v, h in zip(shown["test accuracy"], hidden)]
    shown["trained after looks at the test set"] = [f"⚠ after {b} look{'s' if b != 1 else ''}" if b else "no"
                                                    for b in before]
    for column, fmt in (("parameters", formats.count), ("seconds", formats.seconds)):
        if column in shown:
            shown[column] = shown[column].map(fmt)
    st.table(shown, hide_index=True)  # a plain table: every column shows, at any width
    st.caption("Pick settings by validation accuracy; the test accuracy is the final check, hidden until you reveal it "
               "for a chosen model. “⚠ after N looks”: this run was set up after the test set had been looked at, so "
               "its settings may have been chosen with the test score in mind.")
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    a, b = st.columns([3, 2], vertical_alignment="bottom")
    hidden_names = [n for n, h in zip(df["model"], hidden) if h and n in session_models.models()]
    if hidden_names:
        pick = a.selectbox("Reveal the test score of", hidden_names, key="reveal_pick", index=len(hidden_names) - 1,
                           help="The model you finally chose (by validation accuracy).")
        b.button("Reveal (one more look)", key="reveal_run", icon=":material/visibility:", on_click=_reveal,
                 args=(pick,), help="Shows this model's test score everywhere; counted in the test ledger below.")
    ledger_ui()
    st.download_button("Download this table (CSV)", buf.getvalue(), "netlens-runs.csv", "text/csv",
                       icon=":material/download:", key="runs_csv")


def prepared_ui() -> None:
    """Models trained ahead on this server (NETLENS_MODELS_DIR), one click to use."""
    prepared = training_jobs.prepared_models()
    if not prepared:
        return
    with st.expander(f"{len(prepared)} models prepared on this server are ready", icon=":material/task_alt:"):
        for i, t in enumerate(prepared.values()):
            label = training_jobs.describe(t.model_config, t.train_config, t.dataset_name)
            if st.button(f"Use: {label} (validation accuracy {formats.accuracy(t.val_accuracy)})", key=f"prepared_{i}",
                         help="Trained ahead by whoever runs this server; no waiting."):
                data = training_jobs.dataset(t.dataset_name) if t.dataset_name in training_jobs.KNOWN_DATASETS else None
                training_state.add_model(training_jobs.with_split(t, data), data, suffix=" (prepared)")


@st.fragment(run_every=1.0)
def live() -> None:
    """The watched run's progress and curves, redrawn every second until it finishes."""
    job = training_state.watched()
    if job is None or job.is_finished:
        st.rerun()  # show the result (or the error) on the whole page
    st.button("Stop", icon=":material/stop:", key="train_stop", on_click=training_state.stop,
              help="Stop watching and keep the model as it was after the last finished epoch.")
    if job.status == "queued":
        st.info(f"Waiting for the server: {job.message}.")
        return
    st.progress(job.progress, text=f"Training {job.label}: {job.message}")
    rows = (job.latest or {}).get("rows") or []
    watched = training_state.training_state().job
    if rows and watched is not None:  # built once per epoch for every watcher (figures.shared)
        epochs = watched.tc.epochs
        fig = figures.shared(("live curves", job.key, len(rows)), lambda: figures.learning_curves(rows, epochs))
        chart(st, fig, chart_text.learning_curves(rows, epochs), config=NO_BAR, key="live_curves")


def _choose(name: str) -> None:
    session_models.state().current = name


def results_ui() -> None:
    """Pick one of this session's models and show its results."""
    s = session_models.state()
    if not s.models:  # no runs table yet (or after Start over): the ledger still shows, it outlives the runs
        st.divider()
        ledger_ui()
        return
    st.divider()
    st.subheader("Results")
    names = list(s.models)
    if s.current not in names:
        s.current = names[-1]
    picked = st.selectbox("Model", names, index=names.index(s.current),
                          help="Models you trained or loaded in this session.")
    _choose(picked)
    results(s.models[picked])
