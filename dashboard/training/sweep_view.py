"""What "Try several settings" draws: the runs' progress, the validation heatmap (or a line
when one setting varies) with the spread over seeds, every run's learning curves, the best
setting by validation, the one-time reveal of its test score, and the CSV."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from analysis.datasets import Dataset
from analysis.models import ModelConfig
from analysis.sweep import SETTINGS, RevealRecord, SweepSummary
from analysis.train import TrainConfig
from dashboard.core import chart_text, figures, formats
from dashboard.core.chrome import presenting
from dashboard.core.figures import NO_BAR, chart
from dashboard.core.palette import CLASS_COLOURS
from dashboard.training import sweep_controls
from dashboard.training import sweep_state as sws

WHY_ONCE = ("Why look as little as possible? The setting was chosen on the validation digits, so the test digits are "
            "still a fair check. If you now went back and picked another setting because of this test score, the test "
            "digits would have helped choose it: they would turn into one more validation set, and no score would be "
            "left that says how well the model does on digits that played no part in building it. Every look is "
            "counted in the test ledger beside the runs table.")


def _name(n: str) -> str:
    return SETTINGS[n][1].split(" (")[0]


def _cell(mean: float, std: float, n: int) -> str:
    if math.isnan(mean):
        return formats.MISSING
    return formats.accuracy(mean) + (f" ± {formats.accuracy(std)}" if n > 1 else "")


def heatmap(summary: SweepSummary) -> go.Figure:
    """Mean validation accuracy per setting (± the spread over seeds); the best cell outlined.
    One setting: a line with the seeds' spread as error bars."""
    names, axes = summary.names, summary.axes
    if len(names) == 1:
        xs = [sws.value_text(names[0], v) for v in axes[0]]
        fig = go.Figure(go.Scatter(
            x=xs, y=[s.val_mean for s in summary.settings], mode="lines+markers", name="mean over seeds",
            error_y=dict(type="data", array=[s.val_std for s in summary.settings], visible=True, thickness=2),
            line=dict(width=3, color=figures.VAL), marker=dict(size=10),
            text=[_cell(s.val_mean, s.val_std, s.n_runs) for s in summary.settings],
            hovertemplate=f"{_name(names[0])} %{{x}}: %{{text}}<extra></extra>"))
        fig.update_xaxes(title_text=_name(names[0]), type="category")
        fig.update_yaxes(title_text="validation accuracy", tickformat=".0%")
    else:
        xs = [sws.value_text(names[1], v) for v in axes[1]]
        ys = [sws.value_text(names[0], v) for v in axes[0]]
        means = np.array(summary.grid("val_mean"), dtype=float)
        text = [[_cell(s.val_mean, s.val_std, s.n_runs) for s in summary.settings[r * len(xs):(r + 1) * len(xs)]]
                for r in range(len(ys))]
        fig = go.Figure(
            go.Heatmap(
                z=means.tolist(),
                x=xs,
                y=ys,
                text=text,
                texttemplate="%{text}",
                textfont=dict(size=15),
                colorscale="Blues",
                showscale=False,
                hovertemplate=f"{_name(names[0])} %{{y}}, {_name(names[1])} %{{x}}: %{{text}}<extra></extra>",
            )
        )
        fig.update_xaxes(title_text=_name(names[1]), type="category")
        fig.update_yaxes(title_text=_name(names[0]), type="category", autorange="reversed")
        if summary.best is not None:
            r, c = axes[0].index(summary.best.values[0]), axes[1].index(summary.best.values[1])
            fig.add_shape(type="rect", x0=c - 0.5, x1=c + 0.5, y0=r - 0.5, y1=r + 0.5,
                          line=dict(color=figures.VAL, width=5))
    fig.update_xaxes(automargin=True)  # the tick labels inside the chart, at any size
    fig.update_yaxes(automargin=True)
    outlined = "; the best outlined" if len(names) == 2 else ""
    fig.update_layout(title=f"Validation accuracy<br><sup>mean ± spread over seeds{outlined}</sup>",
                      height=400, margin=dict(l=10, r=10, t=70, b=10), font=figures.FONT)
    return fig


def curves(sweep: sws.Sweep) -> go.Figure:
    """Every finished run's validation accuracy per epoch: one colour per setting, one dash per seed."""
    fig = go.Figure()
    dashes = ["solid", "dash", "dot"]
    n_seeds = len(sweep.config.seeds)
    combos = sweep.config.combinations()
    for i, key in enumerate(sweep.run_keys):
        trained = sweep.results.get(key)
        if trained is None:
            continue
        values, seed = combos[i // n_seeds], sweep.config.seeds[i % n_seeds]
        rows = trained.history.rows
        fig.add_trace(go.Scatter(
            x=[r["epoch"] for r in rows], y=[r["val_accuracy"] for r in rows], mode="lines+markers",
            name=sws.short_setting(sweep.config.names, values, seed),  # as the runs are named
            line=dict(width=3, color=CLASS_COLOURS[(i // n_seeds) % len(CLASS_COLOURS)], dash=dashes[i % n_seeds]),
            marker=dict(size=6)))
    fig.update_xaxes(title_text="epoch", dtick=1 if max(sweep.config.train.epochs, 1) <= 20 else None)
    fig.update_yaxes(title_text="validation accuracy", tickformat=".0%")
    fig.update_layout(title="Each run's learning curve (validation)", height=420, font=figures.FONT,
                      margin=dict(l=10, r=10, t=50, b=10), legend=dict(font=dict(size=13)))
    return fig


def _curves_text(sweep: sws.Sweep) -> str:
    n_seeds, combos = len(sweep.config.seeds), sweep.config.combinations()
    return chart_text.sweep_curves({
        sws.short_setting(sweep.config.names, combos[i // n_seeds], sweep.config.seeds[i % n_seeds]):
            sweep.results[key].history.rows[-1]["val_accuracy"]
        for i, key in enumerate(sweep.run_keys) if key in sweep.results and sweep.results[key].history.rows})


def runs_frame(sweep: sws.Sweep) -> pd.DataFrame:
    """One row per run: settings, seed, validation accuracy, and the test accuracy only where revealed."""
    rows, n_seeds = [], len(sweep.config.seeds)
    for i, key in enumerate(sweep.run_keys):
        values = sweep.config.combinations()[i // n_seeds]
        trained = sweep.results.get(key)
        row = {_name(n): v for n, v in zip(sweep.config.names, values)}
        row.update(seed=sweep.config.seeds[i % n_seeds], status="done" if trained else sweep.errors.get(key, "waiting"),
                   **{"validation accuracy": trained.val_accuracy if trained else None,
                      "test accuracy": trained.test_accuracy if trained and sws.ledger().shown(trained.key) else None})
        rows.append(row)
    return pd.DataFrame(rows)


def _progress(sweep: sws.Sweep) -> None:
    """Each run's state, redrawn every second until the sweep has finished."""
    @st.fragment(run_every=1.0)
    def live() -> None:
        found = sws.collect()
        if sweep.finished:
            st.rerun()
        st.button("Stop the sweep", key="sweep_stop", on_click=sws.stop, icon=":material/stop:",
                  help="Stop waiting for the runs that have not finished; the finished ones are kept.")
        done = len(sweep.results) + len(sweep.errors)
        st.progress(done / len(sweep.run_keys), text=f"Sweep: {done} of {len(sweep.run_keys)} runs finished")
        lines = []
        for key, label, job in zip(sweep.run_keys, sweep.labels, found):
            if key in sweep.results or key in sweep.errors:
                continue
            place = sws.LINE.place(key)
            what = f"waiting in the sweeps' line (place {place})" if job is None else job.message or job.status
            lines.append(f"- {label}: {what}")
        st.markdown("\n".join(lines))
        if sweep.results:
            chart(st, curves(sweep), _curves_text(sweep), config=NO_BAR, key="sweep_live_curves")

    live()


def _reveal_record(record: RevealRecord, names) -> None:
    st.markdown(f"**The test score, revealed** ({record.when}) for the setting chosen by validation, "
                f"{sws.setting_text(names, record.values)}:")
    a, b, c = st.columns(3)
    a.metric("Validation accuracy", formats.accuracy(record.val_accuracy), help="What the setting was chosen by.")
    b.metric("Test accuracy (final check)", formats.accuracy(record.test_accuracy),
             help="On digits that played no part in training or choosing.")
    c.metric("Gap (validation − test)", formats.points(record.val_accuracy, record.test_accuracy),
             help="Positive: the validation score was a little optimistic, as the best of several tries tends to be.")
    st.info(WHY_ONCE, icon=":material/visibility:")


def _results(sweep: sws.Sweep) -> None:
    summary = sweep.summary()
    if sweep.errors:
        st.warning(f"{len(sweep.errors)} of {len(sweep.run_keys)} runs did not finish: "
                   + "; ".join(sorted(set(sweep.errors.values()))) + ".")
    if summary.best is None:
        return
    chart(st, heatmap(summary), chart_text.sweep(summary, _name, sws.value_text), config=NO_BAR, key="sweep_heatmap")
    best = summary.best
    st.success(f"**Best by validation accuracy:** {sws.setting_text(summary.names, best.values)} — "
               f"{_cell(best.val_mean, best.val_std, best.n_runs)} over {best.n_runs} seed(s).", icon=":material/star:")
    chart(st, curves(sweep), _curves_text(sweep), config=NO_BAR, key="sweep_curves")
    frame = runs_frame(sweep)
    shown = frame.assign(**{_name(n): frame[_name(n)].map(lambda v, n=n: sws.value_text(n, v))  # 0.001, not 0.0010
                            for n in sweep.config.names},
                         **{"validation accuracy": frame["validation accuracy"].map(formats.accuracy),
                            "test accuracy": [formats.accuracy(v) if v == v and v is not None else "hidden"
                                              for v in frame["test accuracy"]]})
    if presenting():  # the projector: a real table, read from the back row (no canvas to scroll)
        st.table(shown, hide_index=True)
    else:
        st.dataframe(shown, hide_index=True, width="stretch")
    st.download_button("Download the sweep (CSV)", frame.to_csv(index=False), "netlens-sweep.csv", "text/csv",
                       icon=":material/download:", key="sweep_csv",
                       help="Every run: its settings, seed and validation accuracy (test accuracy only once revealed).")
    record = sws.ledger().get(sweep.key)
    if record is None:
        st.caption("The test scores of these runs are hidden everywhere (results, runs table, downloads). Look at the "
                   f"test score when you have chosen: it counts as a look at the test set ({_looks_text()} so far).")
        st.button("Reveal the test score", key="sweep_reveal", icon=":material/visibility:", type="primary",
                  disabled=summary.finished < summary.total, on_click=_reveal,
                  help="Shows the chosen setting's test score next to its validation score: one more look at the test "
                       "set, counted in this session's test ledger (beside the runs table).")
    if sws.sweep_state().notice:
        st.error(sws.sweep_state().notice)
        sws.sweep_state().notice = None
    if record is not None:
        _reveal_record(record, summary.names)


def _looks_text() -> str:
    n = sws.ledger().count
    return f"the test set has been looked at {n} time{'s' if n != 1 else ''}"


def _reveal() -> None:
    try:
        sws.reveal()
    except ValueError as e:
        sws.sweep_state().notice = str(e)


def expander(ds: Dataset, mc: ModelConfig, tc: TrainConfig) -> None:
    """The sweep's section, folded away until this session runs a sweep."""
    with st.expander("Try several settings (a small sweep)", expanded=sws.sweep_state().sweep is not None,
                     icon=":material/grid_on:"):
        section(ds, mc, tc)


def section(ds: Dataset, mc: ModelConfig, tc: TrainConfig) -> None:
    """"Try several settings": the controls, the running sweep, or its results."""
    st.markdown("Train every combination of one or two settings (up to 3 values each, up to 3 seeds: at most 9 runs), "
                "choose the best **by validation accuracy**, and only then look at the test score (each look is "
                "counted).")
    config = sweep_controls.sweep_ui(mc, tc)
    busy = sws.running()
    if config is not None:
        n = len(config.expand())
        if st.button(f"Run the sweep ({n} run{'s' if n != 1 else ''})", key="sweep_start", icon=":material/grid_on:",
                     disabled=busy, help="One sweep at a time per session. Runs identical to ones trained before "
                                         "are reused."):
            try:
                sws.start(ds, config)
                busy = True
            except (ValueError, RuntimeError) as e:
                st.error(str(e))
    sweep = sws.sweep_state().sweep
    if sweep is None:
        return
    sws.collect()
    if not sweep.finished:
        _progress(sweep)
        return
    _results(sweep)
