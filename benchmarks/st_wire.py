"""What travels between a Streamlit server and benchmarks/st_client.py: HTTP calls (in a
thread pool, awaitable) and the page's elements summarised from ForwardMsg deltas."""
from __future__ import annotations

import asyncio
import concurrent.futures
import html
import re
import urllib.error
import urllib.request
from dataclasses import dataclass

HTTP_POOL = concurrent.futures.ThreadPoolExecutor(8, thread_name_prefix="http")


def _http(method: str, url: str, data: bytes | None = None, headers: dict | None = None,
          timeout: float = 60) -> tuple[int, bytes, list[str]]:
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read(), r.headers.get_all("Set-Cookie") or []
    except urllib.error.HTTPError as e:
        return e.code, e.read(), []


async def http(method: str, url: str, **kw) -> tuple[int, bytes, list[str]]:
    return await asyncio.get_running_loop().run_in_executor(HTTP_POOL, lambda: _http(method, url, **kw))


def keep_cookies(jar: dict, set_cookies: list[str]) -> dict:
    """What a browser keeps of Set-Cookie headers (name=value; a load balancer's route cookie among
    them); returns the Cookie header to send back ({} while the jar is empty)."""
    for c in set_cookies:
        name, _, rest = c.partition("=")
        jar[name.strip()] = rest.split(";", 1)[0]
    return {"Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())} if jar else {}


@dataclass
class El:
    kind: str            # the Element oneof ('heading', 'markdown', 'alert', 'imgs', …) or 'block'
    text: str = ""       # its visible words (label, body, caption)
    wid: str = ""        # a widget's id
    extra: object = None  # options of a selectbox, urls of images, an alert's format


def summarize(element) -> El:
    kind = element.WhichOneof("type")
    e = getattr(element, kind)
    if kind in ("heading", "markdown", "text", "json", "code"):
        return El(kind, e.body)
    if kind == "alert":
        return El(kind, e.body, extra=e.format)
    if kind == "metric":
        return El(kind, f"{e.label}: {e.body}")
    if kind == "exception":
        return El(kind, f"{e.type}: {e.message}")
    if kind == "imgs":
        return El(kind, " | ".join(i.caption for i in e.imgs), extra=[i.url for i in e.imgs])
    if kind == "html" and 'class="nl-figure"' in e.body:  # pictures with alt text (dashboard/core/alt_images.py)
        caps = [html.unescape(c) for c in re.findall(r"<figcaption[^>]*>(.*?)</figcaption>", e.body)]
        return El("imgs", " | ".join(caps), extra=re.findall(r'<img src="([^"]*)"', e.body))
    if kind == "html":
        return El(kind, e.body)
    if kind == "progress":
        return El(kind, e.text)
    if kind == "bidi_component":  # a custom component (the drawing canvas): its name and widget id
        return El(kind, e.component_name, e.id)
    if kind in ("selectbox", "radio"):
        return El(kind, e.label, e.id, list(e.options))
    if hasattr(e, "id") and hasattr(e, "label"):  # every other widget
        return El(kind, e.label, e.id)
    return El(kind)
