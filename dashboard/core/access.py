"""The one password gate, for the class password (NETLENS_PASSWORD, the whole app), the
admin password (NETLENS_ADMIN_PASSWORD, the server status page) and the teacher password
(NETLENS_TEACHER_PASSWORD or the admin password: opening a class board). Each press of Enter is one try,
through the gate's guessing limiter (analysis.compute.guesses: a few free tries, then growing waits per
session; a high ceiling per client address; wrong tries logged without what was typed). Before the
class password a session may upload nothing (may_upload, installed by dashboard/app.py), and a
refused try drops whatever it stored."""
from __future__ import annotations

import hmac
import ipaddress
import os
from dataclasses import dataclass

import streamlit as st

from analysis.compute.guesses import GuessLimiter
from dashboard.core import app_state, runtime


@dataclass(frozen=True)
class Gate:
    env: str  # the environment variable holding the password
    label: str  # the password box's label
    key: str  # the box's widget key; AppState.granted holds it once this session passed the gate
    wrong: str  # what a wrong password says (kept for callers; the limiter's message is shown)
    help: str | None = None
    also: tuple[str, ...] = ()  # more variables whose passwords open this gate too


CLASS = Gate("NETLENS_PASSWORD", "Class password", "access_password", "That is not the class password.",
             "Your teacher gives this to the class.")
ADMIN = Gate("NETLENS_ADMIN_PASSWORD", "Admin password", "admin_password", "Wrong password.")
TEACHER = Gate("NETLENS_TEACHER_PASSWORD", "Teacher password (or the admin password)", "teacher_password",
               "Wrong password.", "Opens a class board. Set by whoever runs the server.",
               also=("NETLENS_ADMIN_PASSWORD",))


def _secrets(gate: Gate) -> list[str]:
    return [v for v in (os.environ.get(name) for name in (gate.env, *gate.also)) if v]


def configured(gate: Gate) -> bool:
    return bool(_secrets(gate))


LIMITERS = {CLASS.key: GuessLimiter("the class password"), ADMIN.key: GuessLimiter("the admin password"),
            TEACHER.key: GuessLimiter("the teacher password")}


def client_address() -> str:
    """The browser's address: the connection's, or the X-Real-IP header that a reverse proxy on
    this machine or the private network sets (deploy/nginx/netlens.conf does); 'local' for loopback."""
    peer = st.context.ip_address  # None for loopback (a proxy on this machine, or a local browser)
    real = (st.context.headers.get("X-Real-Ip") or "").strip()
    try:
        trusted = peer is None or ipaddress.ip_address(peer).is_private
    except ValueError:
        trusted = False
    if real and trusted:
        return real
    return peer or "local"


def may_upload(session_id: str) -> bool:
    """Whether a session may store an upload: always without a class password, else once typed."""
    state = runtime.session_value(session_id, app_state.KEY)
    return not configured(CLASS) or CLASS.key in getattr(state, "granted", ())


def passed(gate: Gate) -> bool:
    """Whether this session typed the gate's password (the one place that says so: AppState.granted)."""
    return gate.key in app_state.app_state().granted


def granted(gate: Gate, open_without_password: bool = True) -> bool:
    """True once this session typed the password (compared in constant time). Without the
    variable set: everyone is let in, or no one (`open_without_password=False`)."""
    if not configured(gate):
        return open_without_password
    if passed(gate):
        return True
    st.text_input(gate.label, type="password", key=gate.key, help=gate.help, on_change=_try, args=(gate,))
    said = app_state.app_state().refusals.get(gate.key)
    if said:
        st.error(said, icon=":material/lock:")
    return False


def _try(gate: Gate) -> None:
    """One try (the box's on_change, before the run): checked through the gate's limiter; the box
    empties, so a rerun never counts the same try twice."""
    typed = st.session_state.get(gate.key) or ""
    st.session_state[gate.key] = ""
    if not typed:
        return
    secrets = _secrets(gate)
    sid = runtime.session_id()

    def right() -> bool:  # every secret compared, in constant time each
        return any([hmac.compare_digest(typed.encode(), secret.encode()) for secret in secrets])

    verdict = LIMITERS[gate.key].attempt(sid, client_address(), right)
    state = app_state.app_state()
    if verdict.ok:
        state.granted.add(gate.key)  # the only place the flag is written
        state.refusals.pop(gate.key, None)
        return
    state.refusals[gate.key] = verdict.message
    if gate is CLASS:
        runtime.drop_uploads(sid)  # nothing stays from before the password
