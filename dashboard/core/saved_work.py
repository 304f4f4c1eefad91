"""A reload loses nothing: a reload of the tab, or an address typed into the same browser, starts a new
Streamlit session; this brings the previous session's work into it (issue 33).

- The link between a browser and its work is a random, unguessable id (runtime.new_work_id) in an
  HTTP-only, SameSite=Lax cookie set by the server on a page load (runtime.WorkCookie), never in a URL:
  a shared link carries nobody's work, and another browser (another student) has another id.
- The server keeps, per id, its sessions in the order they started (`Work`). A new session of that browser
  takes over the latest one that closed (a reload closes the old tab's connection; another tab still open
  keeps its own work, and a new tab beside it starts afresh): that session's st.session_state
  (runtime.carried_state): the features' objects (the session's models, the sweep and its reveal ledger,
  uploads with their working copies, drawings) and the keyed widgets' values on every page. Objects move,
  they are not copied: a restored session costs no more memory than the one it replaces; the uploads it
  brings back hold their bytes in the server's memory budget (server.MEMORY) until the id expires, and
  one that does not fit is left behind and named.
- An id lives while one of its sessions is held by the server (connected, or closed less than
  `server.disconnectedSessionTTL` ago); then it is forgotten (prune(), from the GC thread) with the
  uploads, and the browser gets a new id at its next page load. Start over retires the id: the next
  page load gets a new id (the work after Start over carries over under it).
- The page says what came back: `notice()`.
- With the cluster back end a browser's next page load may land on another app server
  (dashboard/core/saved_work_shared.py): each server keeps a signed record of its ids' work in the shared
  store (refreshed by the GC thread); the other server brings the models back from the store's results
  and says that the uploads did not come back.
"""
from __future__ import annotations

import dataclasses
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import streamlit as st

from analysis.compute.budget import Ticket
from dashboard.core import app_state, runtime, saved_work_shared, server
from dashboard.core.guard import plain
from dashboard.core.uploads import Picture, UploadSlot

log = logging.getLogger(__name__)
COOKIE = "netlens_work"
MARK = "saved_work_id"  # in st.session_state: the id this session saves under
NOTICE = "saved_work_notice"  # in st.session_state: (page, text) of the restore notice
NOT_CARRIED = ("access_", "links_adopted", MARK, NOTICE)  # a password is typed again; a link opened now applies
# The app-level object (dashboard/core/app_state.py) stays behind too: it holds the passwords passed and the
# links adopted, which a reload must not bring back.
MAX_IDS = 20_000  # ids issued and not yet expired (each ~200 bytes): page loads without a cookie cannot grow this
HANDOVER_WAIT_S = 3.0  # a reload closes the old tab's connection as the new one opens: wait this long for it


@dataclass
class Work:
    """One browser's saved work on this server."""
    sessions: list[str] = field(default_factory=list)  # its sessions the server may still hold, oldest first
    taken: set[str] = field(default_factory=set)  # sessions whose work a later one took over already
    last_held: float = field(default_factory=lambda: runtime.now())  # when a session of it was last held (now)
    retired: bool = False  # Start over: the next page load gets a new id for this work
    tickets: list[Ticket] = field(default_factory=list)  # the budget's hold on the uploads it brought back
    upload_bytes: int = 0
    remote: dict | None = None  # a record another app server left in the shared store, still to restore
    published: str | None = None  # what this server last wrote to the shared store for it


_WORK: dict[str, Work] = {}
_HANDOVERS: list[Callable[[str, str], None]] = []  # fn(old session, new session) at a take-over
_LOCK = threading.Lock()


def on_take_over(fn: Callable[[str, str], None]) -> None:
    """``fn(old_session_id, new_session_id)`` runs when a new session takes a previous one's work over
    (what a feature keeps by session id outside its object: the sweep's line). Added once."""
    if fn not in _HANDOVERS:
        _HANDOVERS.append(fn)


def renew(value: str | None) -> str | None:
    """For the cookie middleware at a page load: None when the browser's id stands, else the id to set
    (new; a retired id's work moves to it)."""
    with _LOCK:
        known_here = bool(value) and value in _WORK
    remote = None if known_here else saved_work_shared.fetch(value)  # the id of another app server?
    with _LOCK:
        work = _WORK.get(value) if value else None
        if work is None and remote is not None and len(_WORK) < MAX_IDS:
            _WORK[value] = Work(remote=remote)  # kept: its models come back from the shared store
            return None
        if work is not None and not work.retired:
            return None
        if len(_WORK) >= MAX_IDS:
            _prune_locked()
            if len(_WORK) >= MAX_IDS:  # still full: drop the unused ids issued first
                for key in [k for k, w in _WORK.items() if not w.sessions][: MAX_IDS // 10]:
                    _drop_locked(key)
        new = runtime.new_work_id()
        if work is not None:
            del _WORK[value]
            work.retired = False
            saved_work_shared.drop(value)
        _WORK[new] = work or Work()
        return new


def prune() -> int:
    """Forget the ids none of whose sessions the server holds any more for longer than the sessions'
    TTL (their uploads' budget goes back); how many. Run by the GC thread after it closes sessions."""
    with _LOCK:
        gone = _prune_locked()
        live = [(key, work.sessions[-1], work) for key, work in _WORK.items() if work.sessions]
    for key, sid, work in live:  # the record another app server would read (cluster back end only)
        _publish(key, sid, work)
    try:
        saved_work_shared.clean()
    except OSError as e:
        log.warning("NetLens: expired saved-work records could not be removed from the shared store: %s", e)
    return gone


def _publish(key: str, sid: str, work: Work) -> None:
    if saved_work_shared.SHARED is None:
        return
    state, _ = runtime.session_state_of(sid)
    values = runtime.carried_state(state) if state is not None else {}
    if not values:
        return
    uploads = [slot.current.name for slot in upload_slots(values)]
    try:
        work.published = saved_work_shared.publish(key, values, uploads, work.published)
    except Exception as e:  # in the GC thread: never stop it (the store out of reach, a state changing meanwhile)
        log.warning("NetLens: the saved-work record could not be written to the shared store: %s", e)


def _prune_locked() -> int:
    now, ttl, gone = runtime.now(), runtime.session_ttl_s(), []
    for key, work in _WORK.items():
        work.sessions = [s for s in work.sessions if runtime.session_held(s)]
        work.taken &= set(work.sessions)
        if work.sessions:
            work.last_held = now
        elif now - work.last_held > ttl:
            gone.append(key)
    for key in gone:
        _drop_locked(key)
    return len(gone)


def _drop_locked(key: str) -> None:
    work = _WORK.pop(key)
    for ticket in work.tickets:
        ticket.release()


def known(value: str) -> bool:
    """True while the server keeps this id (tests)."""
    with _LOCK:
        return value in _WORK


def held_upload_bytes() -> int:
    """Bytes of restored uploads held in the budget, over every id (tests, /admin)."""
    with _LOCK:
        return sum(w.upload_bytes for w in _WORK.values())


def retire() -> None:
    """Start over: this browser's id expires; its next page load gets a new one."""
    wid = st.session_state.get(MARK)
    with _LOCK:
        if wid in _WORK:
            _WORK[wid].retired = True


def _cookie() -> str | None:
    try:
        return st.context.cookies.get(COOKIE)
    except Exception:  # no request context (AppTest)
        return None


def carry_over(url_path: str) -> None:
    """Every run of the entry, before the page: the first run of a session of a browser with saved work
    takes the previous session's work over (and sets the notice); every session saves under the id."""
    wid = _cookie()
    if not wid or st.session_state.get(MARK) == wid:
        return
    first = MARK not in st.session_state
    sid = runtime.session_id()
    with _LOCK:
        work = _WORK.get(wid)
        if work is None:  # unknown here (expired, or set by another server): the next page load renews it
            return
        before = [s for s in reversed(work.sessions) if s not in work.taken]  # latest first
        work.sessions.append(sid)
        work.last_held = runtime.now()
        remote, work.remote = work.remote, None
    st.session_state[MARK] = wid
    if first and before:
        _take_over(work, before, url_path)
    elif first and remote is not None:
        text, partial = saved_work_shared.restore(remote)
        st.session_state[NOTICE] = (url_path, text, partial)


def _closed_one(candidates: list[str]) -> tuple[str | None, object]:
    """The first of `candidates` the server holds closed (source, its state); while none is closed but
    one is still connected, wait up to HANDOVER_WAIT_S for it to close (a reload's old tab)."""
    deadline = time.monotonic() + HANDOVER_WAIT_S
    while True:
        waiting = False
        for sid in candidates:
            state, connected = runtime.session_state_of(sid)
            if state is not None and not connected:
                return sid, state
            waiting = waiting or connected
        if not waiting or time.monotonic() >= deadline:  # all gone, or open in other tabs: they keep their work
            return None, None
        time.sleep(0.1)


def _take_over(work: Work, candidates: list[str], url_path: str) -> None:
    source, state = _closed_one(candidates)
    if source is None:
        return
    with _LOCK:
        if source in work.taken:  # another new tab took it a moment ago
            return
        work.taken.add(source)
    values = {
        k: v for k, v in runtime.carried_state(state).items() if not k.startswith(NOT_CARRIED) and k != app_state.KEY
    }
    if not values:
        return
    left = _hold_uploads(work, values)
    for key, value in values.items():
        if key not in st.session_state:
            st.session_state[key] = value
    sid = runtime.session_id()
    for registry in runtime.registries().values():  # the jobs it watched (a training, a map) go on for it
        registry.hand_over(source, sid)
    for fn in _HANDOVERS:
        fn(source, sid)
    text = "Your models and settings are back."
    if left:
        text += (" Not back: " + ", ".join(f"“{plain(n)}”" for n in left)
                 + " (the server has no room to keep it now): upload it again.")
    st.session_state[NOTICE] = (url_path, text, bool(left))


def upload_slots(values: dict) -> list[UploadSlot]:
    """The upload slots with a file in the features' objects (their dataclass fields)."""
    out = []
    for obj in values.values():
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            for f in dataclasses.fields(obj):
                slot = getattr(obj, f.name, None)
                if isinstance(slot, UploadSlot) and slot.current is not None:
                    out.append(slot)
    return out


def upload_bytes(slot: UploadSlot) -> int:
    """What a kept upload holds: its bytes, its preview, its working copy (or a dataset's images)."""
    up = slot.current
    n = len(up.data) + len(up.preview or b"")
    value = up.value
    if isinstance(value, Picture):
        n += value.image.nbytes
    elif hasattr(value, "images") and hasattr(value.images, "nbytes"):
        n += int(value.images.nbytes)
    return n


def _hold_uploads(work: Work, values: dict) -> list[str]:
    """Hold the uploads' bytes in the memory budget for as long as the id lives; uploads that do not
    fit now are left behind (their slots emptied). Returns their names."""
    for ticket in work.tickets:  # the same work coming back again: its new hold replaces the old one
        ticket.release()
    tickets, left, total = [], [], 0
    for slot in upload_slots(values):
        n = upload_bytes(slot)
        try:
            ticket = server.MEMORY.try_reserve(n, "saved work", f"an upload kept across a reload ({slot.current.name})")
        except ValueError:  # more than the whole budget
            ticket = None
        if ticket is not None and ticket.granted:
            ticket.__enter__()  # in use: held until the id expires, never dropped as a page's idle ticket is
            tickets.append(ticket)
            total += n
        else:
            if ticket is not None:
                ticket.release()
            left.append(slot.current.name)
            slot.current, slot.seen_id = None, None
    with _LOCK:
        work.tickets, work.upload_bytes = tickets, total
    return left


def notice(url_path: str) -> None:
    """After a restore, on the page it happened on: what came back (and what did not)."""
    shown = st.session_state.get(NOTICE)
    if shown is None:
        return
    page, text, partial = shown
    if page != url_path:  # shown until the student moves on
        del st.session_state[NOTICE]
        return
    (st.warning if partial else st.success)(text, icon=":material/restore:")
