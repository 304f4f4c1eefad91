"""Pictures with alt text (issue 36): st.image writes an <img> with no alt attribute, so a screen reader
says nothing (or the file name) for a photo, a kernel, a digit or a saliency map. Every picture the app
draws goes through show(): it writes the <img> itself, inline as a PNG/JPEG data address (nothing served
from elsewhere), with alt text written by the caller from the data and an optional visible caption.
Every string placed in the markup (alt, caption) is escaped: file names and labels come from users."""
from __future__ import annotations

import base64
import html
import io
from typing import Sequence

import numpy as np
from PIL import Image

from dashboard.core import formats

CAPTION_STYLE = "font-size:0.875rem;color:#424242;line-height:1.3;margin-top:0.2rem;overflow-wrap:anywhere"


def data_url(picture) -> str:
    """A uint8 array (gray or RGB) or encoded JPEG/PNG bytes, as a data: address."""
    if isinstance(picture, (bytes, bytearray)):
        kind = "jpeg" if bytes(picture[:3]) == b"\xff\xd8\xff" else "png"
        return f"data:image/{kind};base64," + base64.b64encode(bytes(picture)).decode("ascii")
    array = np.asarray(picture)
    if array.dtype != np.uint8:
        raise ValueError(f"Expected a uint8 picture, got {array.dtype}: scale it to 0..255 first.")
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _listed(value, n: int, what: str) -> list:
    if value is None:
        return [None] * n
    values = [value] if isinstance(value, str) else list(value)
    if len(values) != n:
        raise ValueError(f"Expected one {what} per picture ({n}), got {len(values)}: pass one for each.")
    return values


def markup(pictures, alt: str | Sequence[str], *, width: int | str = "stretch",
           caption: str | Sequence[str] | None = None) -> str:
    """One row of figures (wrapping on a narrow screen), each an <img> with escaped alt text. An empty
    alt ("") marks a decorative picture. width: pixels, or "stretch" for the container's width."""
    single = not isinstance(pictures, (list, tuple))
    pictures = [pictures] if single else list(pictures)
    alts, captions = _listed(alt, len(pictures), "alt text"), _listed(caption, len(pictures), "caption")
    if any(a is None for a in alts):
        raise ValueError("Expected alt text for every picture, got None: describe it, or pass \"\" if decorative.")
    size = "width:100%" if width == "stretch" else f"width:{int(width)}px;max-width:100%"
    figure_width = "flex:1 1 100%" if width == "stretch" else f"flex:0 0 auto;width:{int(width)}px;max-width:100%"
    parts = []
    for picture, a, c in zip(pictures, alts, captions):
        crisp = "auto" if isinstance(picture, (bytes, bytearray)) else "pixelated"  # photos: smooth scaling
        cap = "" if c is None else f'<figcaption style="{CAPTION_STYLE}">{html.escape(str(c))}</figcaption>'
        parts.append(f'<figure class="nl-figure" style="margin:0;{figure_width}">'
                     f'<img src="{data_url(picture)}" alt="{html.escape(str(a), quote=True)}" '
                     f'style="{size};height:auto;image-rendering:{crisp};display:block">{cap}</figure>')
    return f'<div class="nl-figures" style="display:flex;flex-wrap:wrap;gap:0.5rem">{"".join(parts)}</div>'


def show(where, pictures, alt: str | Sequence[str], *, width: int | str = "stretch",
         caption: str | Sequence[str] | None = None) -> None:
    """Draw pictures in `where` (st, a column, a container) with alt text; see markup()."""
    where.html(markup(pictures, alt, width=width, caption=caption))


def digit_alt(label: str | None, what: str = "Handwritten digit") -> str:
    """Alt text for a digit picture: what it is and, when known, its label."""
    return what if label is None else f"{what}, labelled {label}"


def weights_alt(name: str, w: np.ndarray) -> str:
    """Alt text for a weight picture (red positive, blue negative), written from the weights themselves."""
    w = np.asarray(w, dtype=float)
    if w.ndim > 2:
        w = w.reshape(-1, *w.shape[-2:]).mean(0)
    h, wd = w.shape[:2]
    pos, neg = np.unravel_index(np.argmax(w), w.shape), np.unravel_index(np.argmin(w), w.shape)

    def place(rc) -> str:
        r, c = rc[0] / max(h - 1, 1), rc[1] / max(wd - 1, 1)
        vert = "top" if r < 1 / 3 else "bottom" if r > 2 / 3 else "middle"
        horiz = "left" if c < 1 / 3 else "right" if c > 2 / 3 else "centre"
        return "centre" if (vert, horiz) == ("middle", "centre") else f"{vert} {horiz}"

    share = float((w > 0).mean())
    return (f"Weights of {name} ({h}×{wd}): most positive (red) at the {place(pos)}, most negative (blue) at "
            f"the {place(neg)}; {formats.probability(share)} of the weights are positive.")
