"""Run axe-core (bundled by the pinned axe-playwright-python package: nothing is fetched at run time) in
every frame of a Playwright page, with the WCAG 2.0/2.1/2.2 A and AA rules, no rule disabled. Used by
tests/test_browser_a11y.py and benchmarks/a11y.py; pure measurement, no assertions here.

Only Streamlit's own chrome is left out, each part with its reason (EXCLUDED). Everything the app
writes (pages, charts, images, components in iframes) is checked."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import axe_playwright_python

AXE_JS = (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text(encoding="utf-8")
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]

# Streamlit's own chrome, which the app does not write and cannot change (selector: reason).
EXCLUDED = {
    '[data-testid="stToolbar"]': "Streamlit's top-right toolbar (deploy/main menu), drawn by the framework",
    '[data-testid="stDecoration"]': "Streamlit's coloured top stripe, decorative and drawn by the framework",
    '[data-testid="stStatusWidget"]': "Streamlit's 'Running…' indicator, drawn by the framework",
}

_RUN = """async ([tags, exclude]) => {
  const present = exclude.filter(s => document.querySelector(s)).map(s => [s]);
  const context = present.length ? {include: [document], exclude: present} : document;
  const r = await axe.run(context, {runOnly: {type: 'tag', values: tags}, iframes: false,
                                    resultTypes: ['violations', 'incomplete']});
  const pick = list => list.map(x => ({id: x.id, impact: x.impact, help: x.help,
      nodes: x.nodes.map(n => ({target: n.target.join(' '), html: n.html.slice(0, 200),
                                summary: (n.failureSummary || '').slice(0, 300)}))}));
  return {violations: pick(r.violations), incomplete: pick(r.incomplete)};
}"""


@dataclass
class AxeResult:
    violations: list = field(default_factory=list)  # [{frame, id, impact, help, nodes}]
    incomplete: list = field(default_factory=list)
    frames: int = 0

    @property
    def violation_nodes(self) -> int:
        return sum(len(v["nodes"]) for v in self.violations)

    def describe(self, which: str = "violations") -> str:
        lines = []
        for v in getattr(self, which):
            lines.append(f"{v['impact']} {v['id']} ({v['help']}) in {v['frame']}: {len(v['nodes'])} element(s)")
            lines += [f"    {n['target']}: {n['html'][:120]} | {n['summary'][:160]}" for n in v["nodes"][:4]]
        return "\n".join(lines)


def audit(page) -> AxeResult:
    """axe in the page and in each of its frames (components live in iframes); violations and incomplete."""
    out = AxeResult()
    for frame in page.frames:
        if frame.is_detached():
            continue
        try:
            if not frame.evaluate("() => typeof window.axe !== 'undefined'"):
                frame.evaluate(AXE_JS)
            result = frame.evaluate(_RUN, [TAGS, list(EXCLUDED) if frame == page.main_frame else []])
        except Exception as e:  # a frame that went away mid-run (a rerun replaced it)
            if "detached" in str(e).lower() or "destroyed" in str(e).lower():
                continue
            raise
        out.frames += 1
        name = "page" if frame == page.main_frame else (frame.name or frame.url[:80])
        out.violations += [dict(v, frame=name) for v in result["violations"]]
        out.incomplete += [dict(v, frame=name) for v in result["incomplete"]]
    return out


_IMAGES = """() => {
  const imgs = [...document.querySelectorAll('[data-testid="stMain"] img, [data-testid="stSidebar"] img')];
  return imgs.map(i => ({alt: i.getAttribute('alt'), role: i.getAttribute('role')}));
}"""


def images(page) -> tuple[int, int]:
    """(images on the page the app drew, those with alt text: described, or marked decorative)."""
    total = described = 0
    for frame in page.frames:
        try:
            found = frame.evaluate(_IMAGES)
        except Exception:
            continue
        total += len(found)
        described += sum(1 for i in found if i["alt"] is not None)  # alt="" marks a decorative one
    return total, described


_CHARTS = """() => {
  const box = el => el.closest('[data-testid="stElementContainer"]') || el;
  const charts = [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stPlotlyChart"]')];
  return charts.map(c => {
    const before = box(c).previousElementSibling, after = box(c).nextElementSibling;
    const caption = before && before.querySelector('[data-testid="stCaptionContainer"]');
    const table = after && after.querySelector('[data-testid="stExpander"] summary');
    const said = caption ? caption.textContent.trim() : '';  // textContent: a closed expander's text counts too
    return {said: said.startsWith('Chart:') && said.length > 20,
            table: !!table && table.textContent.includes('Show as table')};
  });
}"""


def charts(page) -> tuple[int, int]:
    """(Plotly charts on the page, those described: a "Chart: …" summary right before the chart and its
    "Show as table" right after it, as dashboard/core/figures.chart draws them)."""
    found = page.main_frame.evaluate(_CHARTS)
    return len(found), sum(1 for c in found if c["said"] and c["table"])
