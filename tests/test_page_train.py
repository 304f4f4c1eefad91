"""AppTest of the Training page with tiny configs."""
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.core.guard import unplain
from dashboard.core.training_jobs import REGISTRY
from tests.helpers import models_of, run_page, runs_of, tiny, train_and_wait, watched_key

PAGE = "../pages/train.py"
pytestmark = pytest.mark.usefixtures("fresh_registries")  # each test: empty job registries


def test_renders_with_defaults():
    at = run_page()
    assert at.title[0].value == "Training"
    assert at.button(key="train_start")
    assert any("Device:" in c.value for c in at.caption)
    assert any("Server limits" in c.value for c in at.caption)


@pytest.mark.parametrize("kind", ["logreg", "mlp", "cnn"])
def test_trains_each_model_and_shows_results(kind):
    at = train_and_wait(tiny(run_page(), kind, epochs=2))
    assert [m.label for m in at.metric][:2] == ["Validation accuracy", "Final check: test accuracy"]  # leads
    assert at.metric[1].value == "hidden"  # until revealed
    at.button(key="reveal_test").click().run()
    metrics = {m.label: m.value for m in at.metric}
    assert float(metrics["Final check: test accuracy"].rstrip("%")) > 25  # well above chance (10%) after 2 epochs
    assert len(runs_of(at)) == 1
    assert runs_of(at)[0]["epochs run"] == 2
    assert any("Cross-entropy loss" in m.value for m in at.markdown)
    assert not at.error


def runs_table(at):
    return next(t.value for t in at.table if "trained after looks at the test set" in t.value.columns)


def ledger_text(at) -> str:
    return next(w.value for w in list(at.info) + list(at.warning) if "looked at" in w.value)


def test_a_single_runs_test_score_is_hidden_then_revealed_and_counted():
    from dashboard.core import session_models

    at = train_and_wait(tiny(run_page(), "logreg", epochs=2))
    (name, sm), = models_of(at).items()
    shown = {m.label: m.value for m in at.metric}
    ledger = session_models.ledger(at.session_state)
    assert shown["Final check: test accuracy"] == "hidden" and not ledger.shown(sm.test_key)
    table = runs_table(at)
    assert list(table["test accuracy"]) == ["hidden"] and list(table["trained after looks at the test set"]) == ["no"]
    assert "looked at 0 times" in ledger_text(at)
    assert f"{sm.trained.test_accuracy:.1%}" not in " ".join(m.value for m in at.markdown)
    assert any("validation" in c.value and "digits" in c.value for c in at.caption)  # confusion matrix: validation
    at.button(key="reveal_test").click().run()
    assert not at.exception, at.exception
    shown = {m.label: m.value for m in at.metric}
    assert shown["Final check: test accuracy"] == f"{sm.trained.test_accuracy:.1%}"
    assert list(runs_table(at)["test accuracy"]) == [f"{sm.trained.test_accuracy:.1%}"]
    assert "looked at 1 time" in ledger_text(at)
    assert [(k.number, k.kind, k.label) for k in ledger.looks()] == [(1, "model", name)]
    # the next run is trained after a look: marked in the runs table, its own score hidden
    tiny(at, "logreg", epochs=3)
    train_and_wait(at)
    table = runs_table(at)
    assert list(table["trained after looks at the test set"]) == ["no", "⚠ after 1 look"]
    assert list(table["test accuracy"])[1] == "hidden"
    assert at.selectbox(key="reveal_pick").options == [list(models_of(at))[1]]
    at.button(key="reveal_run").click().run()
    assert "looked at 2 times" in ledger_text(at) and "the less it is a final check" in ledger_text(at)
    assert "hidden" not in list(runs_table(at)["test accuracy"])


def test_the_ledger_survives_start_over_and_a_new_tab_starts_a_new_one():
    from dashboard import nav
    from dashboard.core import session_models

    at = train_and_wait(tiny(run_page(), "logreg", epochs=2))
    at.button(key="reveal_test").click().run()
    before = session_models.ledger(at.session_state)
    assert before.count == 1

    def start_over():
        from dashboard import nav

        nav.reset_of("train")()
    after = AppTest.from_function(start_over, default_timeout=30)
    for key in (session_models.KEY, session_models.LEDGER_KEY):
        after.session_state[key] = at.session_state[key]
    after.run()
    assert not after.exception, after.exception
    assert session_models.KEY not in after.session_state  # the models went
    assert session_models.ledger(after.session_state) is before and before.count == 1  # the ledger stayed
    page = run_page()  # the Training page after Start over: no runs, the ledger still says 1
    page.session_state[session_models.LEDGER_KEY] = before
    page.run()
    assert "looked at 1 time" in ledger_text(page) and not runs_of(page)
    assert nav.reset_of("train") is not None
    fresh = run_page()  # a new tab: a new session, a new ledger
    assert session_models.ledger(fresh.session_state).count == 0 and "looked at 0 times" in ledger_text(fresh)
    assert any("new browser tab starts a new ledger" in c.value for c in fresh.caption)
    assert fresh.session_state[session_models.LEDGER_KEY] is not before


def test_a_training_digit_labelled_6_and_its_loss():
    at = train_and_wait(tiny(run_page(), "mlp", epochs=2))
    at.radio(key="digit_set").set_value("training").run()
    at.selectbox(key="digit_label").set_value("6").run()
    at.number_input(key="digit_index").set_value(3).run()
    assert not at.exception, at.exception
    sm = next(iter(models_of(at).values()))
    t, ds = sm.trained, sm.dataset
    sixes = t.split.train[ds.labels[t.split.train] == 6]
    text = next(m.value for m in at.markdown if "Cross-entropy loss" in m.value)
    import re

    p, loss = re.search(r"−log Pr\(6\) = −log ([0-9.]+) = \*\*([0-9.]+)\*\*", text).groups()
    assert float(loss) == pytest.approx(-np.log(float(p)), abs=2e-4)  # the loss IS −log of the shown probability
    from analysis.models import representations

    expected = representations(t.model, ds.images[sixes[3]][None])["probabilities"][0][6]
    assert float(p) == pytest.approx(expected, abs=1e-4)  # and that probability is Pr(6) of the 4th training six


def test_one_train_click_builds_the_model_once(monkeypatch):
    """The page's table and the memory estimate share one build per settings (analysis.models.layout);
    the click itself builds only the model the worker trains (run in this process here, to be counted)."""
    import sys

    import analysis.models
    from analysis.compute import tasks
    from dashboard.core import server

    real, builds = analysis.models.build_model, []

    def counting(*args, **kwargs):
        builds.append(args[:1])
        return real(*args, **kwargs)

    for module in list(sys.modules.values()):
        if getattr(module, "__dict__", {}).get("build_model") is real:
            monkeypatch.setattr(module, "build_model", counting)
    monkeypatch.setattr(server, "EXECUTOR", tasks.InlineExecutor())
    at = tiny(run_page(), "mlp", epochs=1)
    assert any("layer by layer" in e.label for e in at.expander)  # the model's table is on the page
    builds.clear()
    train_and_wait(at)
    assert len(runs_of(at)) == 1  # it trained
    assert len(builds) == 1, builds


def test_identical_request_is_reused_not_retrained():
    first = train_and_wait(tiny(run_page(), "logreg", epochs=3))
    assert watched_key(first) is None  # collected
    second = tiny(run_page(), "logreg", epochs=3)
    second.button(key="train_start").click().run()
    job = REGISTRY.get(watched_key(second)) if watched_key(second) is not None else None
    assert job is None or job.status == "done"  # joined the finished run at once
    second.run()
    a = models_of(first)
    b = models_of(second)
    assert next(iter(a.values())).trained is next(iter(b.values())).trained  # the same shared object


def test_stop_keeps_the_last_epoch():
    at = tiny(run_page(), "cnn", epochs=50, data="mnist5k")
    at.button(key="train_start").click().run()
    key = watched_key(at)
    job = REGISTRY.get(key)
    import time

    deadline = time.monotonic() + 60
    while not (job.latest and job.latest["rows"]) and time.monotonic() < deadline:
        time.sleep(0.2)
    at.run()
    at.button(key="train_stop").click().run()
    assert not at.exception, at.exception
    assert watched_key(at) is None
    (name, sm), = models_of(at).items()
    assert "stopped at epoch" in name and sm.trained.history.stopped
    assert job.wait(60) and job.status == "cancelled"  # no one else watched it
    assert REGISTRY.get(key) is None or REGISTRY.get(key).status == "cancelled"


def test_bad_zip_and_bad_weights_show_errors_and_keep_working():
    at = run_page()
    at.selectbox(key="train_data").set_value("zip").run()
    at.file_uploader(key="train_zip").set_value(("mine.zip", b"not a zip at all", "application/zip")).run()
    assert not at.exception
    assert "mine.zip" in unplain(at.error[0].value)
    at.file_uploader(key="weights_upload").set_value(
        ("evil.safetensors", b"\x80\x04\x95 pickle", "application/octet-stream")
    ).run()
    assert not at.exception
    assert any("never loads" in e.value for e in at.error)


def test_weights_download_and_upload_round_trip():
    from analysis.train import save_weights

    at = train_and_wait(tiny(run_page(), "logreg", epochs=1))
    sm = next(iter(models_of(at).values()))
    data = save_weights(sm.trained)
    fresh = run_page()
    fresh.file_uploader(key="weights_upload").set_value(("m.safetensors", data, "application/octet-stream")).run()
    assert not fresh.exception, fresh.exception
    assert any("Restored" in s.value for s in fresh.success)
    (loaded,) = models_of(fresh).values()
    x = np.random.default_rng(0).random((5, 8, 8)).astype(np.float32)
    from analysis.train import predict_proba

    np.testing.assert_allclose(predict_proba(loaded.trained.model, x), predict_proba(sm.trained.model, x), atol=1e-6)
    assert loaded.trained.split is not None  # the digits are on this server: results can be shown


def test_link_opens_the_chosen_model_and_epochs():
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.query_params.update({"model": "cnn", "epochs": "3", "seed": "x"})
    at.run()
    assert not at.exception
    assert at.radio(key="train_kind").value == "cnn" and at.slider(key="train_epochs").value == 3
    assert "seed='x'" in unplain(at.warning[0].value)


def test_models_prepared_in_netlens_models_dir_are_ready(tmp_path, monkeypatch):
    from analysis.compute.cluster.train_cli import main
    from dashboard.core import training_jobs as training

    assert (
        main(["--dataset", "digits", "--model", "logreg", "--epochs", "2", "--seed", "5", "--save", str(tmp_path)]) == 0
    )
    (tmp_path / "junk.safetensors").write_bytes(b"\x80\x04 not a model")  # skipped, not fatal
    monkeypatch.setenv("NETLENS_MODELS_DIR", str(tmp_path))
    training.prepared_models.clear()
    try:
        at = run_page()
        assert any("1 models prepared" in e.label for e in at.expander)
        tiny(at, "logreg", epochs=2)
        at.number_input(key="train_seed").set_value(5).run()
        at.button(key="train_start").click().run()
        assert not at.exception, at.exception
        assert watched_key(at) is None  # no training ran: the prepared model was used
        (name,) = models_of(at)
        assert name.endswith("(prepared)")
    finally:
        training.prepared_models.clear()
