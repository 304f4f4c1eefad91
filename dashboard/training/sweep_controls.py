"""The sweep's widgets ("Try several settings" on Training): one or two settings, up to three
values each, up to three seeds. Their values persist for the session and live in the address
bar (`LINK`)."""
from __future__ import annotations

import streamlit as st

from analysis.models import ACTIVATIONS, KERNEL_SIZES, ModelConfig
from analysis.sweep import MAX_SEEDS, MAX_VALUES, SETTINGS, SweepConfig
from analysis.train import OPTIMIZERS, TrainConfig
from dashboard.core import links
from dashboard.core.app_state import app_state
from dashboard.core.session import PERSIST
from dashboard.training.sweep_state import value_text

OPTIONS = {
    "lr": [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3],
    "batch_size": [16, 32, 64, 128, 256],
    "epochs": [1, 2, 3, 5, 10, 20],
    "optimizer": list(OPTIMIZERS),
    "hidden_units": [16, 32, 64, 128, 256, 512],
    "activation": list(ACTIVATIONS),
    "dropout": [0.0, 0.1, 0.2, 0.3, 0.5],
    "kernel_size": list(KERNEL_SIZES),
}
DEFAULT_VALUES = {"lr": [3e-4, 1e-3, 3e-3]}
NONE = "none"


def _values(text: str) -> list:
    """'0.001,0.003' -> [0.001, 0.003]; words stay words (checked against the options later)."""
    out = []
    for part in text.split(",")[:MAX_VALUES]:
        part = part.strip()
        try:
            out.append(float(part) if any(c in part for c in ".e") else int(part))  # parsed, never evaluated
        except ValueError:
            out.append(part)
    return out


def _show(values) -> str:
    return ",".join(value_text("", v) for v in values)


LINK = [links.Param("vary", "sweep_s1", links.choice(*SETTINGS)),
        links.Param("values", "sweep_v1", _values, _show),
        links.Param("vary2", "sweep_s2", links.choice(NONE, *SETTINGS)),
        links.Param("values2", "sweep_v2", _values, _show),
        links.Param("seeds", "sweep_seeds", links.whole(1, MAX_SEEDS))]


def applicable(kind: str) -> list[str]:
    return [name for name, (_, _, kinds, _) in SETTINGS.items() if kinds is None or kind in kinds]


def _values_ui(name: str, key: str, label: str) -> list:
    """A multiselect of the setting's values; values from a link that are not options are dropped."""
    options = OPTIONS[name]
    holds = app_state().values_for  # which setting's values this box holds now
    current, owner = st.session_state.get(key), holds.get(key)
    if current is None or owner not in (None, name):  # first time, or another setting's values
        st.session_state[key] = DEFAULT_VALUES.get(name, options[:2])
    else:
        kept = [o for o in options if any(o == v for v in current)][:MAX_VALUES]
        if kept != list(current):
            st.session_state[key] = kept
    holds[key] = name
    return st.multiselect(label, options, key=key, max_selections=MAX_VALUES, persist_state=PERSIST,
                          format_func=lambda v: value_text(name, v),
                          help=f"Up to {MAX_VALUES} values; every combination is trained.")


def _setting_ui(key: str, label: str, choices: list[str], with_none: bool) -> str:
    options = ([NONE] if with_none else []) + choices
    if st.session_state.get(key) not in options:
        st.session_state[key] = options[0]
    return st.selectbox(label, options, key=key, persist_state=PERSIST,
                        format_func=lambda n: "nothing else" if n == NONE else SETTINGS[n][1],
                        help="A setting to try several values of; everything else stays as in the sidebar.")


def sweep_ui(mc: ModelConfig, tc: TrainConfig) -> SweepConfig | None:
    """The sweep's settings. Returns the SweepConfig, or None (after saying why) when it is not valid."""
    choices = applicable(mc.kind)
    a, b = st.columns(2)
    with a:
        first = _setting_ui("sweep_s1", "Vary", choices, with_none=False)
        v1 = _values_ui(first, "sweep_v1", "Values")
    with b:
        second = _setting_ui("sweep_s2", "And also vary", [c for c in choices if c != first], with_none=True)
        v2 = _values_ui(second, "sweep_v2", "Its values") if second != NONE else []
    st.session_state.setdefault("sweep_seeds", 1)
    n_seeds = st.segmented_control("Seeds per setting", list(range(1, MAX_SEEDS + 1)), key="sweep_seeds",
                                   persist_state=PERSIST,
                                   help="Each seed changes the validation digits, the starting weights and the "
                                        "order of the images: the spread over seeds shows how much is luck.") or 1
    settings = {first: v1} | ({second: v2} if second != NONE else {})
    if not all(settings.values()):
        st.info("Pick at least one value of each setting to vary.")
        return None
    seeds = tuple(range(int(tc.seed), int(tc.seed) + int(n_seeds)))
    try:
        return SweepConfig(settings=settings, seeds=seeds, model=mc, train=tc)
    except ValueError as e:
        st.error(str(e))
        return None
