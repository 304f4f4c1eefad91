"""What "Start over" resets on each feature page: every feature drawn on that page, by its own
`reset()` (the page table itself, with titles and addresses, is dashboard/core/pages.py)."""
from __future__ import annotations

from typing import Callable

from dashboard.board import state as board_state
from dashboard.convolution import state as convolution_state
from dashboard.core import saved_work
from dashboard.predict import state as predict_state
from dashboard.representations import replay_state
from dashboard.representations import state as representations_state
from dashboard.training import state as training_state
from dashboard.training import sweep_state
from dashboard.trust import state as trust_state

# url_path -> the resets of the features on that page. The sweep keeps its reveal ledger through a
# reset (dashboard/training/sweep_state.py says why).
RESETS: dict[str, tuple[Callable[[], None], ...]] = {
    "convolution": (convolution_state.reset,),
    "train": (training_state.reset, sweep_state.reset),
    "representations": (representations_state.reset, replay_state.reset),
    "predict": (predict_state.reset,),
    "trust": (trust_state.reset,),
    "board": (board_state.reset,),
}


def reset_of(url_path: str) -> Callable[[], None] | None:
    """One call that resets every feature on the page at `url_path` (None for pages without settings)."""
    resets = RESETS.get(url_path)
    if resets is None:
        return None

    def reset() -> None:
        for one in resets:
            one()
        saved_work.retire()  # the browser's work id expires: its next page load gets a new one

    return reset
