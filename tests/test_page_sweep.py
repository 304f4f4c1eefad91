"""AppTest of "Try several settings" on Training: a tiny 2×2 sweep, the heatmap, the reveal counted in
the session's test ledger (the same ledger as single runs' reveals)."""
import io
import json
import time

import numpy as np
import pandas as pd
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard.core import session_models
from dashboard.training import sweep_state
from tests.helpers import run_page, tiny


def sweep_page(settings: dict, seeds: int = 1) -> AppTest:
    at = tiny(run_page(), "logreg", epochs=1)
    (s1, v1), *rest = settings.items()
    at.selectbox(key="sweep_s1").set_value(s1).run()
    at.multiselect(key="sweep_v1").set_value(v1).run()
    if rest:
        at.selectbox(key="sweep_s2").set_value(rest[0][0]).run()
        at.multiselect(key="sweep_v2").set_value(rest[0][1]).run()
    at.segmented_control(key="sweep_seeds").set_value(seeds).run()
    assert not at.exception, at.exception
    return at


def run_sweep(at: AppTest) -> sweep_state.Sweep:
    at.button(key="sweep_start").click().run()
    assert not at.exception, at.exception
    sweep = sweep_state.sweep_state(at.session_state).sweep
    deadline = time.monotonic() + 120
    while not sweep.finished and time.monotonic() < deadline:
        time.sleep(0.3)
        sweep_state.LINE.pump()
        at.run()
    at.run()
    assert sweep.finished and not sweep.errors, sweep.errors
    assert not at.exception, at.exception
    return sweep


def heatmap_of(at: AppTest) -> dict:
    specs = [json.loads(el.proto.spec) for el in at.get("plotly_chart")]
    return next(s for s in specs if "Validation accuracy" in s["layout"]["title"]["text"])


def test_two_by_two_heatmap_matches_the_runs_and_test_scores_stay_hidden(monkeypatch):
    served = {}  # what each download button hands the browser, by label
    real = st.download_button

    def recording(label, data, *args, **kwargs):
        served[label] = data
        return real(label, data, *args, **kwargs)
    monkeypatch.setattr(st, "download_button", recording)
    at = sweep_page({"lr": [0.001, 0.01], "batch_size": [32, 64]})
    sweep = run_sweep(at)
    z = np.array(heatmap_of(at)["data"][0]["z"])
    vals = [sweep.results[k].val_accuracy for k in sweep.run_keys]  # expand() order: lr-major
    assert np.allclose(z, np.array(vals).reshape(2, 2))
    best = int(np.argmax(vals))
    assert any("Best by validation accuracy" in s.value and ("0.01" if best >= 2 else "0.001") in s.value
               for s in at.success)
    runs = session_models.state(at.session_state).runs
    assert len(runs) == 4
    ledger = session_models.ledger(at.session_state)
    assert not any(ledger.shown(sm.test_key) for sm in session_models.state(at.session_state).models.values())
    assert any(m.label.startswith("Final check") and m.value == "hidden" for m in at.metric)
    table = at.dataframe[-1].value
    assert (table["test accuracy"] == "hidden").all() and table["validation accuracy"].notna().all()
    assert sorted(set(table.iloc[:, 0])) == ["0.001", "0.01"]  # settings as written, not "0.0010"
    assert any(b.proto.label == "Download the sweep (CSV)" for b in at.get("download_button"))
    csv = pd.read_csv(io.StringIO(served["Download the sweep (CSV)"]))
    assert list(csv.columns) == list(table.columns) and len(csv) == 4  # one row per run, the table's columns
    assert list(csv.columns[-4:]) == ["seed", "status", "validation accuracy", "test accuracy"]
    assert sorted(zip(csv.iloc[:, 0], csv.iloc[:, 1])) == [(0.001, 32), (0.001, 64), (0.01, 32), (0.01, 64)]
    assert np.allclose(csv["validation accuracy"], vals) and (csv["status"] == "done").all()
    assert csv["test accuracy"].isna().all()  # hidden in the file too


def test_a_sweeps_reveal_is_counted_in_the_ledger_with_single_runs_and_survives_start_over():
    at = sweep_page({"lr": [0.001, 0.01]}, seeds=2)
    sweep = run_sweep(at)
    assert heatmap_of(at)["data"][0]["type"] == "scatter"  # one setting: a line with the seeds' spread
    at.button(key="sweep_reveal").click().run()
    assert not at.exception, at.exception
    record = sweep_state.ledger(at.session_state).get(sweep.key)
    summary = sweep.summary()
    chosen = sweep.config.combinations().index(summary.best.values)
    tests = [sweep.results[k].test_accuracy for k in sweep.run_keys[chosen * 2:chosen * 2 + 2]]
    assert record.test_accuracy == sum(tests) / 2 and record.val_accuracy == summary.best.val_mean
    shown = {m.label: m.value for m in at.metric}
    assert shown["Test accuracy (final check)"] == f"{record.test_accuracy:.1%}"
    assert any("one more validation set" in i.value for i in at.info)
    assert not [b for b in at.button if b.key == "sweep_reveal"]  # this sweep's choice is shown now
    ledger = sweep_state.ledger(at.session_state)
    revealed = [sm for sm in session_models.state(at.session_state).models.values() if ledger.shown(sm.test_key)]
    assert len(revealed) == 2 and {sm.trained.train_config.lr for sm in revealed} == {summary.best.values[0]}
    assert ledger is session_models.ledger(at.session_state) and ledger.count == 1  # one ledger, one look
    assert any("looked at 1 time" in i.value for i in at.info)
    # a runner-up revealed on its own (the lesson's cheat) is one more look in the same ledger
    runner_up = next(n for n, sm in session_models.state(at.session_state).models.items()
                     if not ledger.shown(sm.test_key))
    at.selectbox(key="reveal_pick").set_value(runner_up).run()
    at.button(key="reveal_run").click().run()
    assert not at.exception, at.exception
    assert ledger.count == 2 and [k.kind for k in ledger.looks()] == ["sweep", "model"]
    assert any("looked at 2 times" in w.value and "the less it is a final check" in w.value for w in at.warning)
    # Start over on Training keeps the record; the same sweep again shows it, with no second reveal
    after = AppTest.from_function(start_over, default_timeout=30)
    for key in (sweep_state.KEY, sweep_state.LEDGER_KEY, session_models.KEY):
        after.session_state[key] = at.session_state[key]
    after.run()
    assert not after.exception, after.exception
    assert sweep_state.KEY not in after.session_state and session_models.KEY not in after.session_state
    at2 = sweep_page({"lr": [0.001, 0.01]}, seeds=2)
    at2.session_state[sweep_state.LEDGER_KEY] = after.session_state[sweep_state.LEDGER_KEY]
    run_sweep(at2)
    assert not [b for b in at2.button if b.key == "sweep_reveal"]
    assert any(m.label == "Test accuracy (final check)" for m in at2.metric)
    again = sweep_state.ledger(at2.session_state)
    assert len(again) == 2 and again.get(sweep.key).revealed_at == record.revealed_at  # both looks kept


def start_over():
    from dashboard import nav

    nav.reset_of("train")()  # what the sidebar's "Start over" calls on Training
