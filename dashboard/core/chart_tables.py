"""A chart's numbers as tables (issue 37): what `figures.chart()` shows under "Show as table", read
from the Plotly figure's own traces, so the table and the picture never disagree.

- a heatmap: its grid, rows and columns named by the axis labels (the longer side down the rows,
  so a 10-column grid stays narrow); the numbers written in its cells where it has them;
- lines and bars: one row per x value, one column per series (the subplot's title before the
  series' name when a figure has several plots); at most MAX_ROWS rows (evenly spaced, said so);
- a map (a series of more than MAX_POINTS points): one row per series (a digit class): how many
  points, and the middle of its cluster (the median), rather than thousands of rows.

No Streamlit here. Every value is text, in the project's formats."""
from __future__ import annotations

import numpy as np
import pandas as pd

from dashboard.core import formats

MAX_ROWS = 25
MAX_POINTS = 60


def _plain(text) -> str:
    return str(text or "").replace("<br>", " ").replace("<sup>", " ").replace("</sup>", "").replace("<b>", "") \
        .replace("</b>", "").strip()


def _parts(fig) -> tuple[list[dict], dict]:
    if isinstance(fig, dict):
        return list(fig.get("data") or []), dict(fig.get("layout") or {})
    return [t.to_plotly_json() for t in fig.data], fig.layout.to_plotly_json()


def _axis(layout: dict, ref: str | None, letter: str) -> dict:
    ref = ref or letter
    return layout.get(f"{letter}axis{ref[1:]}") or {}


def _title(axis: dict) -> str:
    t = axis.get("title")
    return _plain(t.get("text") if isinstance(t, dict) else t)


def _number(v, percent: bool) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return formats.MISSING
    if isinstance(v, (int, float, np.number)) and not isinstance(v, bool):
        return formats.accuracy(v) if percent else f"{float(v):.4g}"
    return _plain(v)


def _percent(axis: dict) -> bool:
    return "%" in str(axis.get("tickformat") or "")


def _heatmap(trace: dict, layout: dict) -> pd.DataFrame:
    z = np.asarray(trace.get("z"), dtype=object)
    if z.ndim != 2:
        z = z.reshape(1, -1)
    text = trace.get("text")
    cells = np.asarray(text, dtype=object) if text is not None and np.shape(text) == z.shape else None
    xa, ya = _axis(layout, trace.get("xaxis"), "x"), _axis(layout, trace.get("yaxis"), "y")
    xs = [_plain(v) for v in trace["x"]] if trace.get("x") is not None else [f"column {j + 1}"
                                                                              for j in range(z.shape[1])]
    ys = [_plain(v) for v in trace["y"]] if trace.get("y") is not None else [f"row {i + 1}" for i in range(z.shape[0])]
    if trace.get("y") is None and ya.get("autorange") != "reversed":
        z, cells = z[::-1], None if cells is None else cells[::-1]  # drawn bottom-up (z[::-1]): top row first
    values = [[_plain(cells[i][j]) if cells is not None else _number(z[i][j], False) for j in range(z.shape[1])]
              for i in range(z.shape[0])]
    frame = pd.DataFrame(values, index=ys, columns=xs)
    corner = " \\ ".join(t for t in (_title(ya), _title(xa)) if t)
    if frame.shape[1] > 6 and frame.shape[0] < frame.shape[1]:
        frame = frame.T
        corner = " \\ ".join(t for t in (_title(xa), _title(ya)) if t)
    frame.index.name = corner or " "
    return frame.reset_index()


def _seq(v) -> list:
    return [] if v is None else list(v)


def _points(trace: dict) -> tuple[list, list]:
    x, y = _seq(trace.get("x")), _seq(trace.get("y"))
    if not x and y:
        x = list(range(len(y)))
    return x, y


def _map(traces: list[dict]) -> pd.DataFrame:
    rows = []
    for i, t in enumerate(traces):
        x, y = (np.asarray(v, float) for v in _points(t))
        ok = ~(np.isnan(x) | np.isnan(y))
        rows.append({"series": _plain(t.get("name")) or f"series {i + 1}", "points": formats.count(ok.sum()),
                     "middle x": f"{np.median(x[ok]):.3g}" if ok.any() else formats.MISSING,
                     "middle y": f"{np.median(y[ok]):.3g}" if ok.any() else formats.MISSING})
    return pd.DataFrame(rows)


def _lines(traces: list[dict], layout: dict) -> pd.DataFrame:
    xa, ya = _axis(layout, traces[0].get("xaxis"), "x"), _axis(layout, traces[0].get("yaxis"), "y")
    shared = (_title(v) for k, v in layout.items() if k.startswith("xaxis") and isinstance(v, dict))
    x_name = _title(xa) or next((t for t in shared if t), "category")  # subplots: the axis title is written once
    table: dict = {}
    columns = []
    for i, t in enumerate(traces):
        name = _plain(t.get("name")) or _title(ya) or f"series {i + 1}"
        name = name if name not in columns else f"{name} ({i + 1})"
        columns.append(name)
        x, y = _points(t)
        text = t.get("text")
        text = None if text is None or isinstance(text, str) else _seq(text)
        shown = [_plain(s) for s in text] if text is not None and len(text) == len(y) else \
            [_number(v, _percent(ya)) for v in y]
        for xv, v in zip(x, shown):
            table.setdefault(_number(xv, _percent(xa)), {})[name] = v
    frame = pd.DataFrame([{x_name: k, **v} for k, v in table.items()], columns=[x_name, *columns])
    return frame.fillna(formats.MISSING)


def _subplot_titles(layout: dict) -> list[str]:
    return [_plain(a.get("text")) for a in layout.get("annotations") or []
            if a.get("yref") == "paper" and a.get("yanchor") == "bottom" and a.get("xanchor") == "center"]


def _cap(frame: pd.DataFrame, caption: str) -> tuple[str, pd.DataFrame]:
    if len(frame) <= MAX_ROWS:
        return caption, frame
    keep = np.unique(np.linspace(0, len(frame) - 1, MAX_ROWS).round().astype(int))
    note = f"{len(keep)} of {len(frame)} rows, evenly spaced"
    return (f"{caption} · {note}" if caption else note), frame.iloc[keep]


def tables(fig) -> list[tuple[str, pd.DataFrame]]:
    """The figure's numbers as (caption, table) pairs, every cell text."""
    data, layout = _parts(fig)
    data = [t for t in data if (any(v is not None for v in _seq(t.get("x"))) or t.get("z") is not None
                                or (t.get("y") is not None and t.get("x") is None))  # legend-only: x = [None]
            and (t.get("marker") or {}).get("opacity") != 0]  # invisible click targets (a heatmap's cells) show nothing
    titles = _subplot_titles(layout)
    groups: dict[tuple, list[dict]] = {}
    for t in data:
        groups.setdefault((t.get("xaxis") or "x", t.get("yaxis") or "y"), []).append(t)
    out = []
    for g, (key, traces) in enumerate(groups.items()):
        title = titles[g] if len(groups) > 1 and g < len(titles) else ""
        heat = [t for t in traces if t.get("type") == "heatmap"]
        for t in heat:
            out.append((title, _heatmap(t, layout)))
        rest = [t for t in traces if t.get("type") != "heatmap"]
        if not rest:
            continue
        if sum(len(_points(t)[1]) for t in rest) > MAX_POINTS and all(t.get("mode") == "markers" for t in rest):
            n = sum(len(_points(t)[1]) for t in rest)
            out.append((f"{title + ' · ' if title else ''}{formats.count(n)} points: one row per series (a colour "
                        "on the map), how many points and the middle (median) of its cluster", _map(rest)))
        else:
            out.append(_cap(_lines(rest, layout), title))
    return out
