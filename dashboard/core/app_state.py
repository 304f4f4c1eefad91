"""The app's own session object: what NetLens remembers about a session that is neither a widget's
value nor any one feature's (the pattern of dashboard/core/session.py, under ONE key): the pages
whose link settings were adopted, the glossary link acted on, which setting each sweep value box
holds, and the password gates passed. Start over keeps it (it belongs to no page)."""
from __future__ import annotations

from dataclasses import dataclass, field

from dashboard.core import session

KEY = "app"


@dataclass
class AppState:
    links_adopted: set[str] = field(default_factory=set)  # pages whose URL settings were copied in (links.adopt)
    glossary_link: str | None = None  # the last ?find= link the Glossary acted on (then typing rules)
    values_for: dict[str, str] = field(default_factory=dict)  # a sweep values box's key -> the setting it holds
    granted: set[str] = field(default_factory=set)  # the password gates this session passed (access)
    refusals: dict[str, str] = field(default_factory=dict)  # gate key -> what its last refused try said


def app_state(session_state=None) -> AppState:
    """This session's AppState (created on first use); tests pass an AppTest's session_state."""
    return session.get(KEY, AppState, session_state)
