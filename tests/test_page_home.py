"""The entry registers every page, and Home links to each one."""
from streamlit.testing.v1 import AppTest

from dashboard import nav


def test_entry_opens_home_with_a_card_per_page():
    at = AppTest.from_file("../dashboard/app.py", default_timeout=30).run()
    assert not at.exception, at.exception
    assert at.title[0].value.startswith("NetLens")
    titles = [s.value for s in at.subheader]
    assert titles == [p.title for p in nav.PAGES if p.file != "home.py"]


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
