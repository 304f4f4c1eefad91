"""The app's pages, in one place: the entry registers them, Home links to them."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

PAGES_DIR = Path(__file__).resolve().parent.parent / "pages"


@dataclass(frozen=True)
class PageInfo:
    file: str
    title: str
    url_path: str
    icon: str
    blurb: str  # one plain sentence for the Home card
    hidden: bool = False  # reachable by its URL only, not listed in the navigation or on Home


PAGES = [
    PageInfo("home.py", "Home", "", ":material/home:", "What NetLens is and where to start."),
    PageInfo("convolution.py", "Convolution", "convolution", ":material/blur_on:",
             "Slide a small grid of numbers (a kernel) over a photo to blur it or find its edges — "
             "the operation at the heart of image-recognising nets."),
    PageInfo("train.py", "Training", "train", ":material/model_training:",
             "Teach a net to read handwritten digits: pick a model, press Train, watch it learn, and see "
             "what it learned and where it goes wrong."),
    PageInfo("representations.py", "Representations", "representations", ":material/scatter_plot:",
             "See each layer's output as a map with one dot per digit: raw pixels are a tangle, the net's "
             "layers pull the digits apart."),
    PageInfo("predict.py", "Predict", "predict", ":material/draw:",
             "Draw a digit or photograph one written on paper, and see the probability the model gives "
             "each digit from 0 to 9."),
    PageInfo("trust.py", "Trust", "trust", ":material/verified_user:",
             "Why did the model answer that, how sure is “99% sure”, and does it hold up when the digits change?"),
    PageInfo("glossary.py", "Glossary", "glossary", ":material/menu_book:",
             "The lecture's words — kernel, epoch, softmax, t-SNE and more — in plain language."),
    PageInfo("admin.py", "Server status", "admin", ":material/monitor_heart:",
             "Sessions, job queues and memory, for whoever runs the server.", hidden=True),
]


def page(file: str) -> st.Page:
    info = next(p for p in PAGES if p.file == file)
    return st.Page(PAGES_DIR / info.file, title=info.title, icon=info.icon, url_path=info.url_path or None,
                   default=info.file == "home.py", visibility="hidden" if info.hidden else "visible")


def all_pages() -> list[st.Page]:
    return [page(p.file) for p in PAGES]
