"""The class board's session object and the server's one board store.

`STORE` holds every open board: with the single-machine back end in this server process's memory
(analysis.compute.board.BoardStore); with the cluster back end (NETLENS_RAY_ADDRESS, set up without a
problem) in the shared store, signed, so every app server sees the same boards
(analysis.compute.board_shared.SharedBoardStore: the same interface). A session keeps only its anonymous
sender id, the code it joined (to send from Predict), the board it opened (lecturer) and the board it
watches. `answers()` reads each digit once with each of the server's default models and shares the result
with every watcher."""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from analysis.compute.board import BoardStore, BoardView, new_sender_id
from analysis.compute.board_shared import SharedBoardStore
from analysis.compute.guesses import GuessLimiter
from analysis.compute.store import StoreConfig
from analysis.train import TrainedModel, predict_proba
from dashboard.core import server, session

KEY = "board"
WIDGETS = ("board_",)  # its widgets' keys



def make_store(cluster: bool, env=None) -> BoardStore:
    """The board store of this back end: in the shared store with the cluster's (its settings are right:
    the server checked them), else in this process's memory."""
    limiter = GuessLimiter("the join code")
    if cluster:
        return SharedBoardStore(StoreConfig.from_env(env), limiter=limiter)
    return BoardStore(limiter=limiter)


STORE = make_store(server.CLUSTER and not server.CLUSTER_PROBLEM)


@dataclass
class BoardState:
    sender: str = field(default_factory=new_sender_id)  # random, anonymous; one per browser session
    joined: str | None = None  # the board this session sends to (from Predict)
    owned: str | None = None  # the board this session opened (lecturer)
    watching: str | None = None  # the board shown on the Board page
    said: str | None = None  # the last refusal or confirmation, one sentence
    said_ok: bool = False
    cell: tuple[int, int] | None = None  # the confusion-matrix cell whose digits are shown (label, answer)
    teach: str | None = None  # the key of the "Teach it our handwriting" job this session started
    clicked: tuple | None = None  # the (x, y) of the chart's last click already applied to the drop-downs


def board_state(session_state=None) -> BoardState:
    return session.get(KEY, BoardState, session_state)


def reset() -> None:
    """Start over on the Board page: stop watching (an opened board stays open until it expires or is
    closed; the lecturer's session keeps it, so Start over never loses the room's digits)."""
    state = board_state()
    state.watching, state.cell, state.clicked, state.said = state.owned, None, None, None


# ---------------------------------------------------------------------- the models' answers, shared


@dataclass(frozen=True)
class Answer:
    winner: int  # the class the model reads
    confidence: float  # Pr(winner)


_LOCK = threading.Lock()
_ANSWERS: OrderedDict = OrderedDict()  # (board code, model key) -> {digit id: Answer}
_MAX_BOARDS = 32


def answers(view: BoardView, models: dict[str, TrainedModel]) -> dict[str, list[Answer]]:
    """Each model's answer for each digit of the board (in the board's order). A digit is read
    once per model for everybody; only digits not read yet are computed (one batch)."""
    out: dict[str, list[Answer]] = {}
    for name, trained in models.items():
        if tuple(trained.image_shape) != (28, 28) or len(trained.class_names) != len(view.classes):
            continue
        with _LOCK:
            known = _ANSWERS.setdefault((view.code, trained.key), {})
            _ANSWERS.move_to_end((view.code, trained.key))
            while len(_ANSWERS) > _MAX_BOARDS * 4:
                _ANSWERS.popitem(last=False)
            missing = [d for d in view.digits if d.id not in known]
        if missing:
            probs = predict_proba(trained.model, np.stack([d.image for d in missing]).astype(np.float32) / 255.0)
            with _LOCK:
                for d, p in zip(missing, probs):
                    win = int(np.argmax(p))
                    known[d.id] = Answer(win, float(p[win]))
        out[name] = [known[d.id] for d in view.digits]
    return out
