"""Isolation: one session never sees another session's upload, model or selection.

Two AppTest sessions of the same pages, driven one after the other (AppTest is not
thread-safe), share one process exactly as two browser tabs share one server: the same
imported modules, caches and job registries. A leak through any of those (a module-level
dict, a cache keyed by a file name, a shared model mutated in place) shows up here.
The last test does the same with two real websocket sessions against one real server.
"""
from __future__ import annotations

import asyncio

import numpy as np
from streamlit.testing.v1 import AppTest

from dashboard.convolution.state import convolution_state
from dashboard.core import session_models
from tests.corpus import encode
from tests.helpers import models_of, run_in_own_loop, runs_of, tiny, train_and_wait

CONV = "../pages/convolution.py"
TRAIN = "../pages/train.py"
REPS = "../pages/representations.py"
MINE = "Your own picture"


def png(width: int, height: int, colour: tuple[int, int, int]) -> bytes:
    return encode(np.full((height, width, 3), colour, np.uint8))


def run(path: str, timeout: float = 60) -> AppTest:
    at = AppTest.from_file(path, default_timeout=timeout).run()
    assert not at.exception, at.exception
    return at


def size_shown(at: AppTest) -> str:
    """The page's 'W × H → …' message: which picture this session is convolving."""
    return next(m.value for m in at.markdown if " → " in m.value and "pixels" in m.value)


def test_an_upload_stays_in_its_session():
    a = run(CONV)
    a.file_uploader(key="conv_upload").set_value(("photo.png", png(300, 200, (200, 30, 30)), "image/png")).run()
    assert not a.exception and not a.error
    assert a.radio(key="conv_source").value == MINE
    assert "300 × 200" in size_shown(a)

    b = run(CONV)  # another session, same server process, after A's upload
    assert MINE not in b.radio(key="conv_source").options
    assert "640 × 427" in size_shown(b)  # the bundled photo, not A's
    assert convolution_state(b.session_state).upload.current is None

    # B uploads another picture under the SAME file name: nothing keyed by name may mix them up.
    b.file_uploader(key="conv_upload").set_value(("photo.png", png(120, 90, (30, 30, 200)), "image/png")).run()
    assert "120 × 90" in size_shown(b)
    a.run()
    assert not a.exception
    assert a.radio(key="conv_source").value == MINE
    assert "300 × 200" in size_shown(a)
    kept_a, kept_b = (
        convolution_state(a.session_state).upload.current,
        convolution_state(b.session_state).upload.current,
    )
    assert kept_a.image().shape == (200, 300, 3)
    assert kept_b.image().shape == (90, 120, 3)
    assert kept_a.file_id != kept_b.file_id


def test_a_model_and_a_selection_stay_in_their_session():
    a = train_and_wait(tiny(run(TRAIN), "logreg", epochs=1))
    assert len(models_of(a)) == 1
    assert "Results" in [s.value for s in a.subheader]

    b = run(TRAIN)
    assert not models_of(b)
    assert "Results" not in [s.value for s in b.subheader]
    assert session_models.state(b.session_state).current is None

    # B trains the identical config: the server shares the run, but each session keeps its own entry.
    b = train_and_wait(tiny(b, "logreg", epochs=1))
    assert len(models_of(b)) == 1 and len(runs_of(b)) == 1
    a.run()
    assert len(models_of(a)) == 1 and len(runs_of(a)) == 1
    shared = next(iter(models_of(a).values())).trained
    assert next(iter(models_of(b).values())).trained.key == shared.key

    # A selects digits on the Representations page; B, on the same model, sees no selection.
    from dashboard.representations import state as rv

    def reps(owner: session_models.SessionModels) -> AppTest:
        at = AppTest.from_file(REPS, default_timeout=60)
        at.session_state[session_models.KEY] = owner
        at.session_state["rep_method"] = "pca"  # fast; the selection logic is the same as for t-SNE
        at.run()
        for job in rv.REGISTRY.jobs():
            job.wait(60)
        at.run()
        assert not at.exception, at.exception
        return at

    ra = reps(session_models.state(a.session_state))
    ra.multiselect(key="rep_sel_true").set_value(["3"]).run()
    assert "What is in your selection?" in [s.value for s in ra.subheader]
    rb = reps(session_models.state(b.session_state))
    assert rb.multiselect(key="rep_sel_true").value == []
    assert "What is in your selection?" not in [s.value for s in rb.subheader]
    ra.run()
    assert ra.multiselect(key="rep_sel_true").value == ["3"]


def test_two_real_sessions_on_one_server(app_url):
    """Two websocket sessions speaking Streamlit's protocol (benchmarks/st_client.py):
    A uploads a photo through the real upload endpoint; B, on the same server, still has the
    bundled photo and is not even offered A's."""
    from tests.servers import Session

    upload = "Upload your own picture"
    photo = encode((np.random.default_rng(0).random((240, 320, 3)) * 255).astype(np.uint8), "JPEG", quality=90)

    async def scenario() -> tuple[Session, Session]:
        log: list[str] = []
        a, b = Session(app_url, 1, log), Session(app_url, 2, log)
        try:
            await a.connect()
            await b.connect()
            seq = await a.goto("convolution")
            assert await a.wait(seq, lambda s: s.widget("file_uploader", upload), 90, "A on Convolution"), a.errors
            assert await a.upload(a.widget("file_uploader", upload), "class-photo.jpg", photo, "image/jpeg", 90), (
                a.errors
            )
            seq = await a.rerun()
            assert await a.wait(seq, lambda s: s.has("imgs", "Before: Your picture: class-photo.jpg"), 90,
                                "A with the upload"), a.errors
            seq = await b.goto("convolution")
            assert await b.wait(seq, lambda s: s.has("imgs", "Before: "), 90, "B on Convolution"), b.errors
            return a, b
        finally:
            await a.close()
            await b.close()

    a, b = run_in_own_loop(lambda: asyncio.wait_for(scenario(), 150))
    assert not a.errors and not b.errors, (a.errors, b.errors)
    assert a.has("imgs", "Before: Your picture: class-photo.jpg")
    assert not b.has("imgs", "Your picture")
    assert MINE not in b.widget("radio", "Picture").extra
    assert any("640 × 427" in e.text for e in b.elements.values() if e.kind == "markdown")
    assert any("320 × 240" in e.text for e in a.elements.values() if e.kind == "markdown")
