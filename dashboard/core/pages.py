"""The app's pages, in one place: the entry registers them, Home and the sidebar link to them.
What "Start over" resets on each feature page is in dashboard/nav.py (it imports the features;
this module, in the shared core, imports none)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

PAGES_DIR = Path(__file__).resolve().parents[2] / "pages"


@dataclass(frozen=True)
class PageInfo:
    file: str
    title: str
    url_path: str
    icon: str
    blurb: str  # one plain sentence for the Home card
    hidden: bool = False  # reachable by its URL only, not listed in the navigation or on Home
    feature: bool = False  # a page with settings and heavy work (its resets: dashboard/nav.py)


PAGES = [
    PageInfo("home.py", "Home", "", ":material/home:", "What NetLens is and where to start."),
    PageInfo("convolution.py", "Convolution", "convolution", ":material/blur_on:",
             "Slide a small grid of numbers (a kernel) over a photo to blur it or find its edges — "
             "the operation at the heart of image-recognising nets.", feature=True),
    PageInfo("train.py", "Training", "train", ":material/model_training:",
             "Teach a net to read handwritten digits: pick a model, press Train, watch it learn, and see "
             "what it learned and where it goes wrong.", feature=True),
    PageInfo("representations.py", "Representations", "representations", ":material/scatter_plot:",
             "See each layer's output as a map with one dot per digit: raw pixels are a tangle, the net's "
             "layers pull the digits apart.", feature=True),
    PageInfo("predict.py", "Predict", "predict", ":material/draw:",
             "Draw a digit or photograph one written on paper, and see the probability the model gives "
             "each digit from 0 to 9.", feature=True),
    PageInfo("trust.py", "Trust", "trust", ":material/verified_user:",
             "Why did the model answer that, how sure is “99% sure”, and does it hold up when the digits change?",
             feature=True),
    PageInfo("board.py", "Class board", "board", ":material/co_present:",
             "The room's own handwriting, live on the projector: everyone sends a digit from Predict and sees "
             "how the models read it."),
    PageInfo("glossary.py", "Glossary", "glossary", ":material/menu_book:",
             "The lecture's words — kernel, epoch, softmax, t-SNE and more — in plain language."),
    PageInfo("admin.py", "Server status", "admin", ":material/monitor_heart:",
             "Sessions, job queues and memory, for whoever runs the server.", hidden=True),
]


def page(file: str) -> st.Page:
    info = next(p for p in PAGES if p.file == file)
    return st.Page(PAGES_DIR / info.file, title=info.title, icon=info.icon, url_path=info.url_path or None,
                   default=info.file == "home.py", visibility="hidden" if info.hidden else "visible")


# Addresses people guess, each a hidden page that switches to the real one (query kept).
ALIASES = {
    "training": "train.py",
    "predictions": "predict.py",
    "prediction": "predict.py",
    "maps": "representations.py",
    "tsne": "representations.py",
    "t-sne": "representations.py",
    "kernels": "convolution.py",
    "kernel": "convolution.py",
    "glossar": "glossary.py",
    "words": "glossary.py",
}


def _alias(alias: str, file: str) -> st.Page:
    def go() -> None:
        st.switch_page(page(file), query_params=st.query_params.to_dict())

    go.__name__ = f"alias_{alias.replace('-', '_')}"
    return st.Page(go, title=next(p.title for p in PAGES if p.file == file), url_path=alias, visibility="hidden")


def all_pages() -> list[st.Page]:
    return [page(p.file) for p in PAGES] + [_alias(a, f) for a, f in ALIASES.items()]


def is_feature(url_path: str) -> bool:
    """A feature page (one with settings and heavy work), not Home, the Glossary or the admin view."""
    return any(p.url_path == url_path and p.feature for p in PAGES)
