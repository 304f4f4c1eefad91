"""The door (issue 29), in AppTest: guessing the class or admin password is slowed with a plain
"wait N s" (the limiter on a fake clock), and a shared link's page and settings survive the class
password (Training and Convolution)."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from analysis.compute.guesses import GuessLimiter
from dashboard.core import access

APP = "../dashboard/app.py"


class Clock:
    t = 5000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(access, "LIMITERS", {access.CLASS.key: GuessLimiter("the class password", clock=c),
                                             access.ADMIN.key: GuessLimiter("the admin password", clock=c)})
    return c


def errors(at) -> list[str]:
    return [e.value for e in at.error]


def test_wrong_class_passwords_get_growing_waits_then_the_right_one_lets_in(monkeypatch, clock):
    monkeypatch.setenv("NETLENS_PASSWORD", "owl")
    at = AppTest.from_file(APP, default_timeout=30).run()
    for guess in ("cat", "dog"):  # free tries
        at.text_input(key="access_password").input(guess).run()
        assert errors(at) == ["That is not the class password: check it and try again."]
        assert at.text_input(key="access_password").value == ""  # the box empties: one try per Enter
    at.text_input(key="access_password").input("emu").run()
    assert errors(at) == ["That is not the class password. Too many wrong tries: wait 2 s, then try again."]
    clock.t += 1
    at.text_input(key="access_password").input("owl").run()  # right, but during the wait: not checked
    assert errors(at) == ["Too many wrong tries: wait 1 s, then try again."]
    assert not at.subheader and at.text_input(key="access_password")  # still at the door
    at.run()  # a rerun alone is no try
    assert (
        access.LIMITERS[access.CLASS.key]._sessions[next(iter(access.LIMITERS[access.CLASS.key]._sessions))].failures
        == 3
    )
    clock.t += 1
    at.text_input(key="access_password").input("yak").run()
    assert errors(at) == ["That is not the class password. Too many wrong tries: wait 4 s, then try again."]
    clock.t += 4
    at.text_input(key="access_password").input("owl").run()
    assert not at.exception and not errors(at)
    assert at.title[0].value.startswith("NetLens: see")  # Home


def test_the_admin_password_is_slowed_the_same_way(monkeypatch, clock):
    monkeypatch.delenv("NETLENS_PASSWORD", raising=False)
    monkeypatch.setenv("NETLENS_ADMIN_PASSWORD", "heron")
    at = AppTest.from_file("../pages/admin.py", default_timeout=30).run()
    for guess in ("a", "b", "c"):
        at.text_input(key="admin_password").input(guess).run()
    assert errors(at)[-1] == "That is not the admin password. Too many wrong tries: wait 2 s, then try again."
    at.text_input(key="admin_password").input("heron").run()
    assert errors(at) == ["Too many wrong tries: wait 2 s, then try again."]
    clock.t += 2
    at.text_input(key="admin_password").input("heron").run()
    assert not errors(at) and not at.text_input  # in: the box is gone
    assert not at.exception, at.exception
    heads = [h.value for h in at.subheader]  # the server's status (dashboard/core/server_status.py)
    assert "Memory budget" in heads and "Worker processes" in heads
    assert "Sessions open" in [m.label for m in at.metric]


@pytest.mark.parametrize("page, query, expect, heading", [
    ("../pages/train.py", {"model": "cnn", "epochs": "5"}, {"train_kind": "cnn", "train_epochs": 5}, "Train"),
    ("../pages/convolution.py", {"kernel": "Sobel x", "pad": "same", "stride": "2"},
     {"conv_preset": "Sobel x", "conv_padding": "same", "conv_stride": 2}, "Convolution"),
])
def test_a_shared_link_survives_the_class_password(monkeypatch, clock, page, query, expect, heading):
    monkeypatch.setenv("NETLENS_PASSWORD", "owl")
    at = AppTest.from_file(APP, default_timeout=90)
    at.switch_page(page)  # the link's page …
    for k, v in query.items():  # … and its settings
        at.query_params[k] = v
    at.run()
    assert at.text_input(key="access_password") and not at.subheader  # the door first, nothing of the page
    assert all(k not in at.session_state for k in expect)
    at.text_input(key="access_password").input("cat").run()  # a typo on the way does not lose the link
    at.text_input(key="access_password").input("owl").run()
    assert not at.exception, at.exception
    for key, value in expect.items():
        assert at.session_state[key] == value, key
    titles = [t.value for t in at.title]
    assert any(heading in t for t in titles), titles
    assert not any(t.startswith("NetLens: see") for t in titles)  # not Home
    assert {k: at.query_params[k] for k in query} == {k: [v] if isinstance(at.query_params[k], list) else v
                                                     for k, v in query.items()}
