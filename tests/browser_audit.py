"""Measure what a person at the back of a lecture hall can read: every text inside every
Plotly chart (size, colour, contrast against the pixels around it, inside its chart), titles
and buttons against their boxes, tables, metrics and empty chart boxes. Used by
tests/test_browser_projection.py; pure measurement, no assertions here."""
from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from tests.servers import SCROLL, settled

# Every visible text leaf inside one chart, with its box relative to the chart.
_CHART_TEXTS = """(gd) => {
  if (!gd.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})) return null;  // e.g. in a closed expander
  gd.scrollIntoView({block: 'center', behavior: 'instant'});
  const box = gd.getBoundingClientRect();
  if (box.height < 2) return null;
  const out = [];
  for (const t of gd.querySelectorAll('text, tspan')) {
    const own = [...t.childNodes].filter(n => n.nodeType === 3).map(n => n.textContent).join('')
      .replace(/\u200b/g, '').trim();
    if (!own) continue;
    const cs = getComputedStyle(t);
    if (cs.display === 'none' || cs.visibility === 'hidden' || parseFloat(cs.opacity) === 0) continue;
    const r = t.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    out.push({text: own, size: parseFloat(cs.fontSize), fill: cs.fill, opacity: parseFloat(cs.fillOpacity || 1),
              heat: !!t.closest('.heatmap-label, .hm'), note: !!t.closest('.annotation'),
              tick: !!t.closest('[class$="tick"]'),  // axis and colour-bar ticks (xtick, y2tick, ycbtick…)
              x0: r.left - box.left, y0: r.top - box.top, x1: r.right - box.left, y1: r.bottom - box.top});
  }
  const header = document.querySelector('[data-testid="stHeader"]');
  // Each plotting area (a subplot's drag rectangle: the axes' box), relative to the chart.
  const plots = [...gd.querySelectorAll('.cartesianlayer .nsewdrag')].map(d => d.getBoundingClientRect())
    .filter(r => r.width > 0 && r.height > 0)
    .map(r => ({x0: r.left - box.left, y0: r.top - box.top, x1: r.right - box.left, y1: r.bottom - box.top}));
  return {w: box.width, h: box.height, x: box.left, y: box.top, texts: out, plots,
          head: header ? header.getBoundingClientRect().bottom : 0,
          drawn: !!gd.querySelector('.main-svg')};
}"""

# Page furniture: clipped headings and buttons, tables wider than their box, metric sizes, empty chart boxes.
_PAGE_BOXES = r"""() => {
  const clipped = [];
  const main = document.querySelector('[data-testid="stMain"]');
  const sidebar = document.querySelector('[data-testid="stSidebar"]');
  const scopes = [main, sidebar].filter(Boolean);
  for (const scope of scopes) {
    for (const el of scope.querySelectorAll('h1, h2, h3, button, button *, [data-testid="stMetricLabel"] *')) {
      const r = el.getBoundingClientRect();
      if (r.width === 0) continue;
      if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== 'visible')
        clipped.push((el.innerText || el.textContent || '').trim().slice(0, 60));
    }
  }
  const tables = [...document.querySelectorAll('[data-testid="stTable"], [data-testid="stMarkdownContainer"] table')]
    .filter(t => t.scrollWidth > t.parentElement.clientWidth + 1).map(t => t.innerText.slice(0, 60));
  const metrics = [...document.querySelectorAll('[data-testid="stMetricValue"]')]
    .map(m => parseFloat(getComputedStyle(m).fontSize));
  const canvases = document.querySelectorAll('[data-testid="stDataFrame"]').length;
  // Words of titles (headings, card titles, links, buttons) broken mid-word: one word on two lines.
  const broken = [];
  for (const scope of scopes) {
    for (const el of scope.querySelectorAll('h1, h2, h3, h4, [data-testid="stPageLink"] p, button p')) {
      const box = el.getBoundingClientRect();
      if (box.width < 2 || box.right <= 0 || !el.checkVisibility()) continue;  // in a closed sidebar
      for (const node of el.childNodes) {
        if (node.nodeType !== 3) continue;
        let from = 0;
        for (const word of node.textContent.split(/\s+/).filter(w => w.length > 1)) {
          const at = node.textContent.indexOf(word, from);
          from = at + word.length;
          const range = document.createRange();
          range.setStart(node, at); range.setEnd(node, at + word.length);
          const tops = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
          if (tops.size > 1) broken.push(`${word} (in ${(el.innerText || '').trim().slice(0, 40)})`);
        }
      }
      if (/^H[1-4]$/.test(el.tagName) && el.scrollWidth > el.clientWidth + 1)  // a long word past its card's edge
        broken.push(`wider than its box: ${(el.innerText || '').trim().slice(0, 40)}`);
    }
  }
  const charts = document.querySelectorAll('[data-testid="stPlotlyChart"]').length;
  const empty = [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
    .filter(c => !c.querySelector('.main-svg')).length;
  return {clipped, tables, metrics, canvases, charts, empty, broken};
}"""


def _rgb(css: str) -> tuple[float, float, float]:
    parts = css[css.index("(") + 1: css.index(")")].split(",")
    return tuple(float(p) for p in parts[:3])


def luminance(rgb) -> float:
    c = np.asarray(rgb, float) / 255
    c = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return float(0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2])


def contrast(a, b) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _surroundings(img: np.ndarray, t: dict, pad: int = 3) -> tuple[int, int, int]:
    """The commonest colour in a thin ring just outside the text's box (its background)."""
    h, w = img.shape[:2]
    x0, y0 = max(0, int(t["x0"]) - pad), max(0, int(t["y0"]) - pad)
    x1, y1 = min(w - 1, int(np.ceil(t["x1"])) + pad), min(h - 1, int(np.ceil(t["y1"])) + pad)
    ring = np.concatenate([img[y0, x0:x1 + 1], img[y1, x0:x1 + 1], img[y0:y1 + 1, x0], img[y0:y1 + 1, x1]])
    return Counter(map(tuple, ring[:, :3].tolist())).most_common(1)[0][0]


def _overlap(a: dict, b: dict) -> float:
    """How much of the smaller of two text boxes the other covers (0: apart, 1: inside)."""
    w = min(a["x1"], b["x1"]) - max(a["x0"], b["x0"])
    h = min(a["y1"], b["y1"]) - max(a["y0"], b["y0"])
    if w <= 0 or h <= 0:
        return 0.0
    smaller = min((a["x1"] - a["x0"]) * (a["y1"] - a["y0"]), (b["x1"] - b["x0"]) * (b["y1"] - b["y0"]))
    return w * h / smaller if smaller > 0 else 0.0


def _map_labels(a: dict, b: dict) -> bool:
    """Two of a map's class labels (a character or two, at their clusters' middles): they may touch.
    Every other pair of texts (cell labels, subplot and axis titles, ticks) must not overlap."""
    return a["note"] and b["note"] and len(a["text"]) <= 2 and len(b["text"]) <= 2


MIN_PLOT_PX, MIN_PLOT_SHARE = 150, 1 / 3


def squeezed(info: dict, where: str) -> list[str]:
    """A plotting area squeezed thin: the subplots together narrower than a third of the chart, or
    one of them lower than MIN_PLOT_PX (tick labels, titles or a legend took the room)."""
    plots = info.get("plots") or []
    if not plots:
        return []  # a chart without axes
    out = []
    width = max(p["x1"] for p in plots) - min(p["x0"] for p in plots)
    if width < MIN_PLOT_SHARE * info["w"]:
        out.append(f"{where}: plotting area {width:.0f} px wide in a {info['w']:.0f} px chart (< a third)")
    low = min(p["y1"] - p["y0"] for p in plots)
    if low < MIN_PLOT_PX:
        out.append(f"{where}: plotting area {low:.0f} px high (< {MIN_PLOT_PX} px)")
    return out


@dataclass
class Audit:
    texts: list[dict] = field(default_factory=list)  # every visible chart text with its size and box
    problems: list[str] = field(default_factory=list)
    metrics: list[float] = field(default_factory=list)
    chart_text_count: int = 0


def audit_page(page, min_px: float = 20, min_contrast: float = 7.0, min_cell_contrast: float = 4.5) -> Audit:
    """Measure the page as it is now (call when the page has finished running)."""
    a = Audit()
    charts = page.locator(".js-plotly-plot")
    paper = (255, 255, 255)
    for i in range(charts.count()):
        info = charts.nth(i).evaluate(_CHART_TEXTS)
        if not info or not info["texts"]:
            continue
        settled(page, SCROLL, quiet_ms=150)  # the scroll has settled before the picture
        view = page.viewport_size
        top, left = max(info["head"], info["y"]), max(0.0, info["x"])  # on screen, not under the page header
        bottom, right = min(view["height"], info["y"] + info["h"]), min(view["width"], info["x"] + info["w"])
        png = page.screenshot(clip={"x": left, "y": top, "width": right - left, "height": bottom - top})
        img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
        dx, dy = left - info["x"], top - info["y"]  # chart coordinates of the picture's corner
        a.problems += squeezed(info, f"chart {i + 1}")
        for k, t in enumerate(info["texts"]):
            a.chart_text_count += 1
            a.texts.append(t)
            where = f"chart {i + 1} text {t['text']!r}"
            if t["size"] < min_px:
                a.problems.append(f"{where}: {t['size']:.0f} px (< {min_px:.0f})")
            if t["x0"] < -1 or t["y0"] < -1 or t["x1"] > info["w"] + 1 or t["y1"] > info["h"] + 1:
                a.problems.append(f"{where}: spills out of its chart")
            seen = {**t, "x0": t["x0"] - dx, "x1": t["x1"] - dx, "y0": t["y0"] - dy, "y1": t["y1"] - dy}
            for other in info["texts"][:k]:
                if not _map_labels(t, other) and _overlap(t, other) > 0.25:
                    a.problems.append(f"{where}: overlaps {other['text']!r}")
            if seen["y0"] < 3 or seen["x0"] < 3 or seen["y1"] + 3 >= img.shape[0] or seen["x1"] + 3 >= img.shape[1]:
                continue  # outside the part of the chart on screen: size checked, contrast not
            bg = _surroundings(img, seen)
            ratio = contrast(_rgb(t["fill"]), bg)
            need = min_contrast if contrast(bg, paper) < 1.1 else min_cell_contrast
            if ratio < need:
                a.problems.append(f"{where}: contrast {ratio:.1f}:1 on {bg} (< {need}:1)")
    boxes = page.evaluate(_PAGE_BOXES)
    a.problems += [f"clipped: {c!r}" for c in boxes["clipped"] if c]
    a.problems += [f"table wider than its box: {t!r}" for t in boxes["tables"]]
    if boxes["empty"]:
        a.problems.append(f"{boxes['empty']} of {boxes['charts']} chart boxes are empty")
    a.problems += [f"a word broken over two lines: {b!r}" for b in boxes["broken"]]
    a.metrics = boxes["metrics"]
    a.canvases = boxes["canvases"]
    return a
