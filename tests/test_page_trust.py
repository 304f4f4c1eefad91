"""AppTest of the Trust page (issues 18 and 19): default models, a handed-over digit, both
sections of "How sure" and "Does it hold up", a model without its data split, bad input."""
import dataclasses
import html
import re

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from analysis.calibration import NO_VALIDATION
from analysis.datasets import load_dataset, split_dataset
from analysis.explain import logits
from analysis.nearest import NO_TRAINING_DIGITS
from dashboard.core import session_models
from dashboard.core.session_models import SessionModel
from dashboard.core.training_jobs import REGISTRY
from dashboard.predict.state import IncomingDigit
from dashboard.trust import state as trust_state
from dashboard.trust.cache import digit_key

PAGE = "../pages/trust.py"
TIMEOUT = 240


def ready_page(prepare=None) -> AppTest:
    """The page once the server's default models exist (trained on first request)."""
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    if prepare:
        prepare(at)
    at.run()
    assert not at.exception, at.exception
    for job in REGISTRY.jobs():
        job.wait(600)
    at.run()
    assert not at.exception, at.exception
    return at


def send(image, label, source, model=None):
    """What another page's "Why?" does before switching: hand a digit over to Trust (and the model asked about)."""
    return lambda at: setattr(trust_state.trust_state(at.session_state), "incoming_digit",
                              IncomingDigit(image, label, source, model=model))


def texts(at, kind) -> list[str]:
    return [e.value for e in getattr(at, kind)]


def _captions(element) -> list[str]:
    """The visible captions of one row of pictures drawn with alt text (dashboard/core/alt_images.py)."""
    return [html.unescape(c) for c in re.findall(r"<figcaption[^>]*>(.*?)</figcaption>", element.proto.body)]


def default_trained() -> dict:
    """The server's default models (after ready_page), kind -> TrainedModel."""
    from analysis.models import default_config
    from analysis.train import TrainConfig, job_key

    ds = load_dataset("mnist5k")
    keys = {job_key(ds, default_config(kind), TrainConfig()): kind for kind in ("logreg", "mlp", "cnn")}
    return {keys[j.key]: j.result for j in REGISTRY.jobs() if j.status == "done" and j.key in keys}


def a_test_digit(label: int, nth: int = 3):
    ds = load_dataset("mnist5k")
    test = split_dataset(ds, 0).test
    i = test[np.flatnonzero(ds.labels[test] == label)[nth]]
    return ds.images[i], int(ds.labels[i])


def test_renders_with_the_servers_default_models():
    at = ready_page()
    assert any("default models" in c for c in texts(at, "caption"))
    heads = texts(at, "subheader")
    for words in ("Which ink made the answer", "Sanity check", "Deletion check", "Explanation by example",
                  "Logistic regression: an exact explanation"):
        assert any(words in h for h in heads), (words, heads)
    assert len(at.session_state["trust_models"]) == 3
    assert any("black baseline cannot show" in m for m in texts(at, "markdown"))
    assert any("The verdict" in m and "|ρ|" in m for m in texts(at, "markdown"))
    assert any("pixel space" in m for m in texts(at, "markdown"))  # logistic regression's neighbours
    assert len(at.get("plotly_chart")) >= 6  # deletion, reliability, referral, cost, robustness, per digit
    captions = [c for row in at.get("html") for c in _captions(row)]
    assert sum(c.startswith("occlusion: why") for c in captions) == 3  # one heatmap row per model
    assert sum(c.startswith("IG, random weights") for c in captions) == 3


def test_a_handed_over_digit_is_the_one_explained():
    image, label = a_test_digit(7)
    at = ready_page(send(image, label, "Predict: your drawing"))
    assert any("Predict: your drawing" in i for i in texts(at, "info"))
    ts = at.session_state["trust"]
    assert np.array_equal(ts.image, image) and ts.label == 7 and ts.handed_over
    explained = [v for k, v in ts.memo.items() if k[0] == "explain" and k[2] == digit_key(image)]
    assert len(explained) == 3  # one per default model, for this digit
    by_kind = default_trained()
    answers = sorted(int(logits(t.model, image[None])[0].argmax()) for t in by_kind.values())
    assert sorted(e.target for e in explained) == answers
    at.button(key="trust_drop_handover").click().run()  # back to picking a test digit here
    assert not at.exception, at.exception
    assert not at.session_state["trust"].handed_over and at.session_state["trust"].source.startswith("test digit")


def test_both_sections_of_how_sure_and_does_it_hold_up_render():
    at = ready_page()
    heads = texts(at, "subheader")
    for words in ("Stated confidence against actual accuracy", "Refer to a person", "Which threshold costs least?",
                  "altered seven ways", "Which digits it fails", "Where two models disagree"):
        assert any(words in h for h in heads), (words, heads)
    labels = [m.label for m in at.metric]
    assert "Expected calibration error, as trained" in labels and "… after temperature scaling" in labels
    assert any("Chosen on the **validation** digits" in m for m in texts(at, "markdown"))
    assert any("phone" in m.lower() for m in texts(at, "markdown"))
    frame = at.dataframe[0].value
    assert frame.shape == (8, 3)  # original + seven alterations × three models
    assert ((frame.to_numpy() >= 0) & (frame.to_numpy() <= 1)).all()
    at.select_slider(key="trust_dial").set_value(0.99).run()
    assert not at.exception, at.exception
    referred = next(m.value for m in at.metric if m.label == "Test digits referred to a person")
    at.select_slider(key="trust_dial").set_value(0.0).run()
    assert next(m.value for m in at.metric if m.label == "Test digits referred to a person") == "0.0%"
    assert referred != "0.0%"


def test_a_model_without_its_split_says_nearest_examples_and_calibration_are_off():
    ready_page()
    cnn = default_trained()["cnn"]
    restored = SessionModel("restored convnet", dataclasses.replace(cnn, split=None), None)
    image, label = a_test_digit(3)

    def prepare(at):
        owner = session_models.state(at.session_state)
        owner.models["restored convnet"] = restored
        owner.current = "restored convnet"
        session_models.ledger(at.session_state).look(restored.test_key, "restored convnet", 0.9, 0.9)  # revealed
        send(image, label, "Training: a mistake")(at)

    at = ready_page(prepare)
    infos = texts(at, "info")
    assert any(NO_TRAINING_DIGITS in i for i in infos), infos
    assert any(NO_VALIDATION in i for i in infos), infos
    assert any("Which ink made the answer" in h for h in texts(at, "subheader"))  # the maps still work
    assert not any("Refer to a person" in h for h in texts(at, "subheader"))


def test_why_opens_the_model_asked_about_even_with_its_test_score_hidden():
    """Trust explains every model of the session (an explanation needs no test score); what is
    measured on the test digits waits for a reveal, which is one look in the ledger."""
    ready_page()
    by_kind = default_trained()
    mine = {f"my {kind}": SessionModel(f"my {kind}", by_kind[kind], load_dataset("mnist5k")) for kind in ("mlp", "cnn")}
    image, label = a_test_digit(4)

    def prepare(at):
        owner = session_models.state(at.session_state)
        owner.models.update(mine)
        send(image, label, "Predict: a test digit, as read by my mlp", model="my mlp")(at)

    at = ready_page(prepare)
    ts = at.session_state["trust"]
    assert at.session_state["trust_models"] == ["my mlp"]
    explained = [k for k in ts.memo if k[0] == "explain" and k[2] == digit_key(image)]
    assert len(explained) == 1 and np.array_equal(ts.image, image)  # that model, that digit
    hidden = [i for i in texts(at, "info") if trust_state.HIDDEN_NOTE in i]
    assert len(hidden) == 2 and all("my mlp" in i for i in hidden)  # "How sure" and "Does it hold up" wait
    assert not any("Refer to a person" in h for h in texts(at, "subheader"))
    assert any("my mlp, Occlusion:" in v for v in texts(at, "success") + texts(at, "error"))  # its verdict
    ledger = session_models.ledger(at.session_state)
    ledger.look(mine["my mlp"].test_key, "my mlp", 0.9, by_kind["mlp"].test_accuracy)
    at.run()
    assert not at.exception, at.exception
    assert not any(trust_state.HIDDEN_NOTE in i for i in texts(at, "info")) and ledger.count == 1
    assert any("Refer to a person" in h for h in texts(at, "subheader"))


@pytest.mark.parametrize("key,value,words", [("trust_cost_error", -1.0, "0 or more"),
                                             ("trust_cost_referral", -1.0, "0 or more")])
def test_a_negative_cost_gets_a_clear_message(key, value, words):
    at = ready_page()
    at.number_input(key=key).set_value(value).run()
    assert not at.exception, at.exception
    assert any(words in e for e in texts(at, "error")), texts(at, "error")
    assert not any("Chosen on the **validation** digits" in m for m in texts(at, "markdown"))
    assert any("Stated confidence" in h for h in texts(at, "subheader"))  # the rest still shown


def test_a_contrast_class_equal_to_the_answer_gets_a_clear_message():
    image, label = a_test_digit(1, nth=0)
    at = ready_page(send(image, label, "a test"))
    answers = {int(logits(t.model, image[None])[0].argmax()) for t in default_trained().values()}
    same = next(iter(answers))
    at.selectbox(key="trust_contrast").set_value(same).run()
    assert not at.exception, at.exception
    assert any("different class to compare with" in w for w in texts(at, "warning")), texts(at, "warning")
    other = (same + 1) % 10
    at.selectbox(key="trust_contrast").set_value(other).run()
    assert not at.exception, at.exception
    ts = at.session_state["trust"]
    assert any(k[0] == "explain" and k[3] == other for k in ts.memo)


def test_a_handed_over_picture_that_is_not_a_digit_is_refused():
    ts = trust_state.TrustState(incoming_digit=IncomingDigit(np.full((28, 28), 255.0), None, "x"))
    with pytest.raises(ValueError, match="values in \\[0, 1\\]"):
        ts.take_incoming()
    assert ts.incoming_digit is None and ts.image is None  # taken once, refused, not kept
    ts.incoming_digit = IncomingDigit(np.zeros((28, 28)), 4, "Training: a mistake")
    ts.take_incoming()
    assert ts.label == 4 and ts.handed_over and ts.source == "Training: a mistake"


def test_the_page_says_why_a_bad_handed_over_picture_is_not_explained(own_model):
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.session_state[session_models.KEY] = own_model
    send(np.full((28, 28), 255.0), None, "somewhere")(at)
    at.run()  # said once, when it arrives
    assert any("cannot be explained" in w and "[0, 1]" in w for w in texts(at, "warning")), texts(at, "warning")
    assert not at.session_state["trust"].handed_over


def test_a_labelled_photo_set_is_checked():
    from tests.helpers import paper_photo, png

    image, _ = a_test_digit(2)
    at = ready_page()
    at.file_uploader(key="trust_set_upload").set_value(("two.png", png(paper_photo(image)), "image/png")).run()
    at.selectbox(key="trust_set_label").set_value(2).run()
    at.button(key="trust_set_add").click().run()
    assert not at.exception, at.exception
    photos = at.session_state["trust"].photos
    assert len(photos) == 1 and photos[0][1] == 2 and photos[0][0].shape == (28, 28)
    assert any("On your 1 photo(s)" in m for m in texts(at, "markdown"))


def test_heatmaps_png_and_overlay_colours():
    import io

    from PIL import Image

    from dashboard.trust import figures as tf

    digit = np.zeros((28, 28), np.float32)
    digit[10:18, 12:16] = 1.0
    attribution = np.zeros((28, 28))
    attribution[12, 13], attribution[5, 5] = 2.0, -1.0
    rgb = tf.overlay_rgb(digit, attribution)
    assert rgb[12, 13, 0] > 150 > rgb[12, 13, 2]  # positive: red
    assert rgb[5, 5, 2] > 150 > rgb[5, 5, 0]  # negative: blue
    assert rgb[11, 12, 0] < rgb[0, 0, 0]  # the ink shows as gray on the paper
    png = tf.heatmaps_png([("model A", [("digit", tf.overlay_rgb(digit, None)), ("map", rgb)]),
                           ("model B", [("digit", tf.overlay_rgb(digit, None))])], cell=100)
    picture = Image.open(io.BytesIO(png))
    assert picture.format == "PNG" and picture.width > 200 and picture.height > 200


def test_one_it_gets_wrong_picks_a_mistake_of_the_first_model():
    at = ready_page()
    at.button(key="trust_mistake").click().run()
    assert not at.exception, at.exception
    ts = at.session_state["trust"]
    first = default_trained()["logreg"]  # the first model in the list
    assert int(logits(first.model, ts.image[None])[0].argmax()) != ts.label
    assert ts.source == f"test digit {at.number_input(key='trust_test_number').value}"


@pytest.fixture(scope="module")
def own_model():
    """This session's models after one quick training (a logistic regression, one epoch on MNIST-5k): the
    Trust page then explains them, without waiting for the server's default models."""
    from tests.helpers import tiny, train_and_wait

    at = train_and_wait(tiny(AppTest.from_file("../pages/train.py", default_timeout=120).run(), "logreg",
                             epochs=1, data="mnist5k"))
    return session_models.state(at.session_state)


def app_on_trust(models, prepare=None) -> AppTest:
    """The whole app (sidebar and all) showing the Trust page with this session's `models`."""
    at = AppTest.from_file("../dashboard/app.py", default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    at.session_state[session_models.KEY] = models
    ledger = session_models.ledger(at.session_state)
    for name, sm in models.models.items():  # test scores revealed (one look each): "How sure" shows its controls
        ledger.look(sm.test_key, name, sm.trained.val_accuracy, sm.trained.test_accuracy)
    if prepare:
        prepare(at)
    return go(at, "trust.py")


def go(at: AppTest, page: str) -> AppTest:
    at.switch_page(f"../pages/{page}").run()
    assert not at.exception, (page, at.exception)
    for job in REGISTRY.jobs():
        job.wait(600)
    at.run()
    assert not at.exception, (page, at.exception)
    return at


def test_the_sidebars_start_over_is_the_only_one_and_forgets_the_digit_and_the_choices(own_model):
    image, label = a_test_digit(9)
    at = app_on_trust(own_model, send(image, label, "Predict: your drawing"))
    assert not any("default models" in c for c in texts(at, "caption"))  # this session's own model
    assert at.session_state["trust"].handed_over
    starts = [b for b in at.button if "Start over" in b.label]
    assert [b.key for b in starts] == ["start_over_trust"], [b.key for b in starts]  # no second one on the page
    at.number_input(key="trust_cost_error").set_value(7.0).run()
    at.button(key="start_over_trust").click().run()
    assert not at.exception, at.exception
    ts = at.session_state["trust"]
    assert not ts.handed_over and ts.source == "test digit 0"
    assert at.number_input(key="trust_cost_error").value == 5.0


def test_the_trust_widgets_keep_their_values_across_page_switches(own_model):
    at = app_on_trust(own_model)
    at.number_input(key="trust_cost_error").set_value(7.0).run()
    at.select_slider(key="trust_dial").set_value(0.5).run()
    at.selectbox(key="trust_contrast").set_value(3).run()
    at.number_input(key="trust_test_number").set_value(11).run()
    assert not at.exception, at.exception
    for page in ("glossary.py", "home.py", "trust.py"):
        go(at, page)
    assert at.number_input(key="trust_cost_error").value == 7.0
    assert at.select_slider(key="trust_dial").value == 0.5
    assert at.selectbox(key="trust_contrast").value == 3
    assert at.number_input(key="trust_test_number").value == 11
    assert at.session_state["trust"].source == "test digit 11"
