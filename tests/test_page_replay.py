"""AppTest of Representations' "Over training" view: a tiny recorded model replayed (PCA)."""
import json

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.core import session_models
from dashboard.representations import replay_state
from dashboard.representations import state as rs
from tests.helpers import tiny, train_and_wait

PAGE = "../pages/representations.py"


@pytest.fixture(scope="module")
def trained_state():
    at = train_and_wait(tiny(AppTest.from_file("../pages/train.py", default_timeout=60).run(), "mlp", epochs=3))
    return {session_models.KEY: session_models.state(at.session_state)}


def replay_page(state, method="pca") -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    for k, v in state.items():
        at.session_state[k] = v
    at.session_state["rep_view"] = "training"
    at.session_state["rep_replay_method"] = method
    at.run()
    assert not at.exception, at.exception
    for job in rs.REGISTRY.jobs():
        job.wait(120)
    at.run()
    assert not at.exception, at.exception
    return at


def figures_of(at: AppTest) -> dict:
    return {el.proto.id: json.loads(el.proto.spec) for el in at.get("plotly_chart")}


def test_the_map_animates_over_every_recorded_epoch_on_fixed_axes(trained_state):
    at = replay_page(trained_state)
    model = next(iter(session_models.state(at.session_state).models.values()))
    recording = model.trained.recording
    specs = [f for f in figures_of(at).values() if f.get("frames")]
    assert len(specs) == 1
    fig = specs[0]
    assert [fr["name"] for fr in fig["frames"]] == [f"epoch {e}" for e in recording.epochs] == \
        ["epoch 0", "epoch 1", "epoch 2", "epoch 3"]
    assert [s["label"] for s in fig["layout"]["sliders"][0]["steps"]] == ["0", "1", "2", "3"]
    assert fig["layout"]["xaxis"]["autorange"] is False and fig["layout"]["yaxis"]["autorange"] is False
    points = sum(len(tr["x"]) for tr in fig["frames"][1]["data"])
    assert points == recording.n_points
    xs = [x for fr in fig["frames"] for tr in fr["data"] for x in tr["x"]]
    lo, hi = fig["layout"]["xaxis"]["range"]
    assert lo <= min(xs) and max(xs) <= hi  # every frame inside the one set of axes
    assert fig["frames"][0]["data"][0]["x"] != fig["frames"][-1]["data"][0]["x"]  # the layer moved


def test_knn_lines_trust_and_exports(trained_state):
    at = replay_page(trained_state)
    figs = list(figures_of(at).values())
    knn = next(f for f in figs if "k-NN accuracy" in f["layout"]["title"]["text"])
    names = [tr["name"] for tr in knn["data"]]
    assert names[0] == "pixels" and any(n.startswith("hidden layer 1") for n in names)
    hidden = next(tr for tr in knn["data"] if tr["name"].startswith("hidden layer 1"))
    assert len(hidden["y"]) == 4 and all(0 <= y <= 1 for y in hidden["y"])
    assert len(set(next(tr for tr in knn["data"] if tr["name"] == "pixels")["y"])) == 1  # pixels never change
    trust = next(f for f in figs if "Trustworthiness" in f["layout"]["title"]["text"])
    assert len(trust["data"][0]["y"]) == 4 and all(0.5 < y <= 1 for y in trust["data"][0]["y"])
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Download the animation (HTML)" in labels and "Download the frames (CSV)" in labels


def test_a_model_without_a_recording_says_why(trained_state):
    import copy
    import dataclasses

    state = copy.copy(trained_state[session_models.KEY])
    state.models = {name: dataclasses.replace(sm, trained=dataclasses.replace(sm.trained, recording=None))
                    for name, sm in state.models.items()}
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state[session_models.KEY] = state
    at.session_state["rep_view"] = "training"
    at.run()
    assert not at.exception, at.exception
    assert any("no recording of its training" in i.value for i in at.info)
    assert replay_state.replay_state(at.session_state).job is None


def test_the_train_task_records_and_the_replay_task_stops_with_a_complete_result():
    from analysis.compute.tasks import InlineExecutor
    from analysis.models import default_config
    from analysis.replay import ReplayConfig
    from analysis.train import TrainConfig

    latest = []
    trained = InlineExecutor().run("train", {"dataset": "digits", "model_config": default_config("logreg"),
                                             "train_config": TrainConfig(epochs=2)},
                                   on_progress=lambda p, m, payload=None: latest.append(payload))
    assert trained.recording.epochs == (0, 1, 2)
    assert [p["recording"].epochs for p in latest if p and p["recording"] is not None] == [(0, 1), (0, 1, 2)]
    frames = []
    out = InlineExecutor().run("replay", {"recording": trained.recording, "layer": "logits",
                                          "config": ReplayConfig(method="pca")},
                               on_progress=lambda p, m, payload=None: frames.append(payload),
                               should_stop=lambda: len(frames) >= 3)  # stop after the second frame
    result = out["result"]
    assert result.stopped_at == 2 and result.status == "stopped at frame 2 of 3" and result.coords.shape[0] == 2
    assert set(out["knn"]) == {"pixels", "logits", "probabilities"}


def test_stop_keeps_the_frames_so_far_as_a_complete_result(trained_state):
    at = AppTest.from_file(PAGE, default_timeout=120)
    for k, v in trained_state.items():
        at.session_state[k] = v
    at.session_state["rep_view"] = "training"
    at.session_state["rep_replay_method"] = "tsne"
    at.session_state["rep_replay_seed"] = 7  # a replay no other test asked for
    at.run()
    assert not at.exception, at.exception
    key = replay_state.replay_state(at.session_state).job
    job = rs.REGISTRY.get(key)
    at.button(key="rep_replay_stop").click().run()
    assert job.wait(120)
    at.run()
    assert not at.exception, at.exception
    result = job.result["result"]
    assert job.status == "done" and result.stopped_at is not None and result.stopped_at < result.total_frames
    assert any(f"stopped at frame {result.stopped_at} of 4" in w.value for w in at.warning)
    specs = [f for f in figures_of(at).values() if f.get("frames")]
    assert len(specs[0]["frames"]) == result.stopped_at  # the frames so far play


def test_opens_on_the_maps_model_and_layer_and_prints_each_frames_numbers(trained_state):
    import dataclasses

    own = trained_state[session_models.KEY]
    (name, sm), = own.models.items()
    two = dataclasses.replace(own, models={name: sm, "a second model": dataclasses.replace(sm, name="a second model")})
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state[session_models.KEY] = two
    at.session_state["rep_model"] = name          # chosen for the maps: not the newest model
    at.session_state["rep_reps"] = ["pixels", "logits"]
    at.session_state["rep_view"] = "training"
    at.session_state["rep_replay_method"] = "pca"
    at.run()
    for job in rs.REGISTRY.jobs():
        job.wait(120)
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="rep_replay_model").value == name
    assert at.selectbox(key="rep_replay_layer").value == "logits"  # the maps' first layer that moves
    figs = list(figures_of(at).values())
    fig = next(f for f in figs if f.get("frames"))
    knn = next(f for f in figs if "k-NN accuracy" in f["layout"]["title"]["text"])
    trust = next(f for f in figs if "Trustworthiness" in f["layout"]["title"]["text"])["data"][0]["y"]
    logits = next(tr for tr in knn["data"] if tr["name"] == "logits")["y"]
    for i, frame in enumerate(fig["frames"]):  # each frame carries its own numbers, printed on the map
        text = frame["layout"]["annotations"][0]["text"]
        assert text == f"epoch {i} · k-NN accuracy {logits[i]:.1%} · trustworthiness {trust[i]:.3f}"
    assert fig["layout"]["annotations"][0]["text"] == fig["frames"][0]["layout"]["annotations"][0]["text"]
    table = next(t.value for t in at.table if "trustworthiness of the frame (k=10)" in t.value.columns)
    assert list(table["k-NN accuracy of logits (k=5)"]) == [f"{v:.1%}" for v in logits]
    # the legend: its own entries (a dot per digit and the ×), not the data's first markers at epoch 0
    legend = [tr for tr in fig["data"] if tr.get("showlegend") is not False]
    assert [tr["marker"]["symbol"] for tr in legend] == ["circle"] * 10 + ["x"]
    assert all(tr.get("showlegend") is False for tr in fig["data"][:10])
    assert all(fr["traces"] == list(range(10)) for fr in fig["frames"])  # frames move the data, not the legend
def test_start_over_on_representations_clears_the_replays_selection(trained_state):
    """The sidebar's Start over resets every feature on the page, the replay's lasso included (it used
    to come back when "Over training" was opened again)."""
    at = AppTest.from_file("../dashboard/app.py", default_timeout=120).run()
    assert not at.exception, at.exception
    for k, v in trained_state.items():
        at.session_state[k] = v
    at.session_state["rep_view"] = "training"
    at.session_state["rep_replay_method"] = "pca"
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    recording = next(iter(session_models.state(at.session_state).models.values())).trained.recording
    drawn = {int(i) for i in recording.indices[:5]}
    replay_state.replay_state(at.session_state).lasso = drawn  # a lasso drawn on the animated map
    at.button(key="start_over_representations").click().run()
    assert not at.exception, at.exception
    assert replay_state.replay_state(at.session_state).lasso == set()
    at.session_state["rep_view"] = "training"  # back to "Over training": nothing selected comes back
    at.run()
    assert not at.exception, at.exception
    assert replay_state.replay_state(at.session_state).lasso == set()
    assert not any("What is in your selection?" in h.value for h in at.subheader)


def _map(at: AppTest) -> dict:
    return next(f for f in figures_of(at).values() if f.get("frames"))


def _shown_epoch(fig: dict) -> str:
    return fig["layout"]["annotations"][0]["text"].split(" · ")[0]


def test_the_replay_never_moves_by_itself_and_steps_by_buttons(trained_state):
    """Motion (issue 37): nothing plays or advances on its own: reruns with no input keep the frame, no
    poller runs once the frames are computed, and ▶ Play needs a press. The buttons and the epoch
    slider (arrow keys) step through the frames, and the map shows the frame they picked."""
    at = replay_page(trained_state)
    fig = _map(at)
    assert fig["layout"]["sliders"][0]["active"] == 0 and _shown_epoch(fig) == "epoch 0"
    play = fig["layout"]["updatemenus"][0]["buttons"][0]
    assert play["label"] == "▶ Play" and play["args"][1]["frame"]["duration"] >= 334  # at most 3 changes a second
    for _ in range(3):  # time passes, nothing is pressed: the map stays on its frame
        at.run()
        assert not at.exception, at.exception
        assert _map(at)["layout"]["sliders"][0]["active"] == 0 and at.select_slider(key="rep_replay_frame").value == 0
    at.button(key="rep_replay_next").click().run()
    at.button(key="rep_replay_next").click().run()
    assert at.select_slider(key="rep_replay_frame").value == 2
    fig = _map(at)
    assert fig["layout"]["sliders"][0]["active"] == 2 and _shown_epoch(fig) == "epoch 2"
    assert fig["data"][0]["x"] == fig["frames"][2]["data"][0]["x"]  # the points of epoch 2, not epoch 0
    at.button(key="rep_replay_back").click().run()
    assert _shown_epoch(_map(at)) == "epoch 1"
    at.select_slider(key="rep_replay_frame").set_value(3).run()
    assert _shown_epoch(_map(at)) == "epoch 3"
    for _ in range(2):  # Later at the last frame stays there
        at.button(key="rep_replay_next").click().run()
    assert at.select_slider(key="rep_replay_frame").value == 3


def test_the_replays_digits_by_label_without_a_lasso(trained_state):
    """The lasso needs a pointer; "Select by true label" reaches the same pictures by keyboard."""
    at = replay_page(trained_state)
    assert not any("What is in your selection?" in h.value for h in at.subheader)
    at.multiselect(key="rep_replay_sel_true").set_value(["3"]).run()
    assert not at.exception, at.exception
    assert any("What is in your selection?" in h.value for h in at.subheader)
    recording = next(iter(session_models.state(at.session_state).models.values())).trained.recording
    threes = int((recording.labels == 3).sum())
    assert threes > 0 and any(f"**{threes} digits selected**" == m.value for m in at.markdown)
