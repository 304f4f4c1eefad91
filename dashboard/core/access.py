"""The one password gate, for the class password (NETLENS_PASSWORD, the whole app) and the
admin password (NETLENS_ADMIN_PASSWORD, the server status page)."""
from __future__ import annotations

import hmac
import os
from dataclasses import dataclass

import streamlit as st


@dataclass(frozen=True)
class Gate:
    env: str  # the environment variable holding the password
    label: str  # the password box's label
    key: str  # the box's widget key; f"{key}_ok" remembers a granted session
    wrong: str  # what a wrong password says
    help: str | None = None


CLASS = Gate("NETLENS_PASSWORD", "Class password", "access_password", "That is not the class password.",
             "Your teacher gives this to the class.")
ADMIN = Gate("NETLENS_ADMIN_PASSWORD", "Admin password", "admin_password", "Wrong password.")


def configured(gate: Gate) -> bool:
    return bool(os.environ.get(gate.env))


def granted(gate: Gate, open_without_password: bool = True) -> bool:
    """True once this session typed the password (compared in constant time). Without the
    variable set: everyone is let in, or no one (`open_without_password=False`)."""
    secret = os.environ.get(gate.env)
    if not secret:
        return open_without_password
    if st.session_state.get(f"{gate.key}_ok"):
        return True
    typed = st.text_input(gate.label, type="password", key=gate.key, help=gate.help)
    if typed:
        if hmac.compare_digest(typed.encode(), secret.encode()):
            st.session_state[f"{gate.key}_ok"] = True
            del st.session_state[gate.key]
            st.rerun()
        st.error(gate.wrong)
    return False
