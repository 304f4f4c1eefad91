"""The entry registers every page, and Home links to each one."""
from streamlit.testing.v1 import AppTest

from dashboard.core import pages as nav


def test_entry_opens_home_with_a_card_per_page():
    at = AppTest.from_file("../dashboard/app.py", default_timeout=30).run()
    assert not at.exception, at.exception
    assert at.title[0].value.startswith("NetLens")
    titles = [s.value for s in at.subheader]
    assert sorted(titles) == sorted(p.title for p in nav.PAGES if p.file != "home.py" and not p.hidden)


def test_every_registered_page_file_exists_and_has_its_own_url():
    urls = [p.url_path for p in nav.PAGES]
    assert len(set(urls)) == len(urls)
    for p in nav.PAGES:
        assert (nav.PAGES_DIR / p.file).is_file()


def test_switching_to_each_page_renders_it():
    at = AppTest.from_file("../dashboard/app.py", default_timeout=60).run()
    for p in nav.PAGES[1:]:
        at.switch_page(f"../pages/{p.file}").run()
        assert not at.exception, (p.file, at.exception)
        assert at.title[0].value == p.title
        assert at.toggle(key="present") is not None  # the shared sidebar is on every page


def test_projection_mode_from_the_url_is_kept_for_the_session():
    at = AppTest.from_file("../dashboard/app.py", default_timeout=30)
    at.query_params["present"] = "1"
    at.run()
    assert at.toggle(key="present").value is True
    at.switch_page("../pages/glossary.py").run()
    assert at.toggle(key="present").value is True


def test_class_password_gate(monkeypatch):
    monkeypatch.setenv("NETLENS_PASSWORD", "owl")
    at = AppTest.from_file("../dashboard/app.py", default_timeout=30).run()
    assert not at.subheader  # no page content before the password
    at.text_input(key="access_password").input("cat").run()
    assert "not the class password" in at.error[0].value
    at.text_input(key="access_password").input("owl").run()
    assert not at.exception
    assert at.title[0].value.startswith("NetLens: see")


def test_start_over_clears_the_pages_settings():
    at = AppTest.from_file("../dashboard/app.py", default_timeout=30).run()
    at.switch_page("../pages/convolution.py").run()
    at.selectbox(key="conv_preset").set_value("Sobel x").run()
    at.button(key="start_over_convolution").click().run()
    assert at.selectbox(key="conv_preset").value == "Box blur"


def test_glossary_has_the_lectures_words_and_finds_them():
    at = AppTest.from_file("../pages/glossary.py").run()
    text = " ".join(m.value for m in at.markdown)
    for word in ["Kernel", "Padding", "Stride", "Epoch", "Loss", "Softmax", "Cross-entropy", "Hidden layer",
                 "Parameter", "Representation", "t-SNE", "Perplexity", "GPU"]:
        assert f"**{word}**" in text
    at.text_input(key="glossary_find").input("softmax").run()
    found = [m.value for m in at.markdown[1:]]
    assert found and all("oftmax" in v for v in found), found  # at least one entry, and only matching ones


def test_a_glossary_link_fills_the_search_once_then_typing_rules():
    at = AppTest.from_file("../pages/glossary.py")
    at.query_params["find"] = "Softmax"
    at.run()
    assert at.text_input(key="glossary_find").value == "Softmax"
    assert any(m.value.startswith("**Softmax**") for m in at.markdown)
    at.text_input(key="glossary_find").input("kernel").run()  # the link is not applied again
    assert at.text_input(key="glossary_find").value == "kernel"
    assert at.session_state["app"].glossary_link == "Softmax"  # remembered in the app's own session object
