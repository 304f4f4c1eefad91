"""A small client for Streamlit's own protocol: one browser tab's worth of traffic.

It GETs `/` and `/_stcore/health` (the XSRF cookie), opens `ws://…/_stcore/stream`
(subprotocol `streamlit`), sends `rerun_script` BackMsgs with the page and widget states,
reads the ForwardMsgs (the protobufs that ship with Streamlit), uploads files through
`/_stcore/upload_file` after a `file_urls_request`, fetches `/media/…` images, and answers
`auto_rerun` (st.fragment(run_every=…)) with periodic fragment reruns, as the browser does.

Used by benchmarks/load.py and tests/test_isolation.py. Loopback only. The wire: st_wire.py.
"""
from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

from benchmarks.st_wire import El, http, keep_cookies, summarize

__all__ = ["El", "Session"]

class Session:
    """One browser tab: a websocket session on the server at `base` and the HTTP calls around it."""

    def __init__(self, base: str, index: int = 0, log: list | None = None):
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        self.BackMsg, self.ForwardMsg = BackMsg, ForwardMsg
        self.base, self.index, self.log = base.rstrip("/"), index, log if log is not None else []
        self.ws = None
        self.reader: asyncio.Task | None = None
        self.session_id = ""
        self.xsrf = ""
        self.jar: dict[str, str] = {}            # cookies kept, as a browser keeps them
        self.pages: dict[str, str] = {}          # url_pathname -> page_script_hash
        self.page = ""                           # url_pathname of the page shown
        self.query = ""                          # the URL's query string (a shared link's settings)
        self.elements: dict[tuple, El] = {}      # this full run's elements by delta path
        self.full_seq = 0                        # full runs started
        self.full_done = False                   # the latest full run finished successfully
        self.run_id = ""
        self.widgets: dict[str, object] = {}     # widget id -> WidgetState proto we keep sending
        self.auto: dict[str, asyncio.Task] = {}  # fragment id -> its auto-rerun timer
        self.file_urls: dict[str, asyncio.Future] = {}
        self.changed = asyncio.Event()
        self.errors: list[str] = []
        self.error_alerts: list[str] = []        # st.error boxes the pages showed
        self.times: dict[str, float] = {}     # durations (s) and monotonic instants
        self.marks: dict[str, float] = {}     # wall-clock instants, to line up with the health probe
        self.bytes_in, self.closed = 0, False

    # --------------------------------------------------------- plumbing

    def error(self, what: str) -> None:
        self.errors.append(what)
        self.log.append(f"session {self.index}: {what}")

    async def connect(self) -> None:
        from websockets.asyncio.client import connect

        base = self.base
        status, _, cookies = await http("GET", f"{base}/")
        if status != 200:
            raise RuntimeError(f"GET / answered {status}")
        status, body, cookies = await http("GET", f"{base}/_stcore/health", headers=keep_cookies(self.jar, cookies))
        if status != 200 or body != b"ok":
            raise RuntimeError(f"health answered {status} {body[:80]!r}")
        keep_cookies(self.jar, cookies)  # every later request sends them back, as a browser does
        self.xsrf = self.jar.get("_streamlit_xsrf", "")
        self.ws = await asyncio.wait_for(connect(
            base.replace("http", "ws", 1) + "/_stcore/stream", subprotocols=["streamlit", self.xsrf or "x"],
            additional_headers=keep_cookies(self.jar, []) or None,
            max_size=None, ping_interval=None, open_timeout=60, close_timeout=5), 90)
        self.reader = asyncio.create_task(self._read())

    async def close(self) -> None:
        self.closed = True
        for t in self.auto.values():
            t.cancel()
        if self.ws is not None:
            try:
                await asyncio.wait_for(self.ws.close(), 10)
            except Exception:  # noqa: BLE001 - closing is best effort
                pass
        if self.reader is not None:
            self.reader.cancel()

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                self.bytes_in += len(raw)
                msg = self.ForwardMsg()
                msg.ParseFromString(raw)
                self._handle(msg)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001
            if not self.closed:
                self.error(f"websocket failed: {type(e).__name__}: {e}")
        if not self.closed:
            self.error("the server closed the websocket")
        self.changed.set()

    def _handle(self, msg) -> None:
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            self.session_id = msg.new_session.initialize.session_id or self.session_id
            if not msg.metadata.run.fragment_ids:   # a full run starts: the page is redrawn
                self.full_seq += 1
                self.full_done = False
                self.run_id = msg.metadata.run.script_run_id
                self.elements = {}
                for t in self.auto.values():  # as the browser: a full run drops every fragment timer,
                    t.cancel()                # the page re-announces the fragments it still has
                self.auto.clear()
        elif kind == "navigation":
            for p in msg.navigation.app_pages:
                self.pages[p.url_pathname] = p.page_script_hash
        elif kind == "delta":
            d = msg.delta
            path = tuple(msg.metadata.delta_path)
            if d.WhichOneof("type") == "new_element":
                el = summarize(d.new_element)
                self.elements[path] = el
                if el.kind == "exception":
                    self.error(f"exception on {self.page or 'home'}: {el.text[:300]}")
                elif el.kind == "alert" and el.extra == 1:  # Alert.ERROR
                    self.error_alerts.append(el.text[:300])
            elif d.WhichOneof("type") == "add_block":
                self.elements[path] = El("block")
        elif kind == "script_finished":
            status = msg.script_finished
            if status == self.ForwardMsg.FINISHED_SUCCESSFULLY and (
                    not msg.metadata.run.script_run_id or msg.metadata.run.script_run_id == self.run_id):
                self.full_done = True
            elif status == self.ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                self.error(f"script compile error on {self.page or 'home'}")
            self.changed.set()
        elif kind == "session_event":
            ev = msg.session_event
            if ev.WhichOneof("type") == "script_compilation_exception":
                self.error(f"compile exception: {ev.script_compilation_exception.message[:300]}")
        elif kind == "page_not_found":
            self.error(f"page not found: {msg.page_not_found.page_name!r}")
        elif kind == "auto_rerun":
            fid, interval = msg.auto_rerun.fragment_id, msg.auto_rerun.interval
            if fid and fid not in self.auto:  # one timer per fragment, kept while it lives
                self.auto[fid] = asyncio.create_task(self._auto_rerun(fid, interval))
        elif kind == "stop_auto_rerun":
            for fid in msg.stop_auto_rerun.fragment_ids:
                t = self.auto.pop(fid, None)
                if t:
                    t.cancel()
        elif kind == "file_urls_response":
            fut = self.file_urls.pop(msg.file_urls_response.response_id, None)
            if fut is not None and not fut.done():
                fut.set_result(msg.file_urls_response)

    async def _auto_rerun(self, fragment_id: str, interval: float) -> None:
        """What the browser does for st.fragment(run_every=…): rerun that fragment on a timer."""
        try:
            for _ in range(100_000):  # bounded; cancelled when the fragment goes away
                await asyncio.sleep(max(0.1, interval))
                await self._send_rerun(fragment_id=fragment_id)
        except asyncio.CancelledError:
            pass
        except Exception as e:  # noqa: BLE001
            if not self.closed:
                self.error(f"auto-rerun failed: {e}")

    async def _send_rerun(self, triggers: list | None = None, fragment_id: str = "") -> None:
        m = self.BackMsg()
        cs = m.rerun_script
        cs.query_string = self.query
        cs.page_name = self.page
        cs.page_script_hash = self.pages.get(self.page, "")
        if fragment_id:
            cs.fragment_id = fragment_id
            cs.is_auto_rerun = True
        for w in self.widgets.values():
            cs.widget_states.widgets.add().CopyFrom(w)
        for w in triggers or []:
            cs.widget_states.widgets.add().CopyFrom(w)
        await self.ws.send(m.SerializeToString())

    async def rerun(self, triggers: list | None = None) -> int:
        """Rerun the whole page (as after a click); returns the run count to wait beyond."""
        seq = self.full_seq
        await self._send_rerun(triggers)
        return seq

    async def goto(self, url_path: str) -> int:
        """Switch page (the browser's onPageChange: timers dropped, no widget states carried)."""
        self.page = url_path
        self.widgets.clear()
        for t in self.auto.values():
            t.cancel()
        self.auto.clear()
        return await self.rerun()

    async def wait(self, after_seq: int, ready, timeout: float, what: str) -> bool:
        """Wait until a full run started after `after_seq` has finished and ready(self) holds."""
        deadline = time.monotonic() + timeout
        while True:
            if self.full_seq > after_seq and self.full_done and ready(self):
                return True
            if self.reader is not None and self.reader.done():
                self.error(f"{what}: the connection is gone")
                return False
            left = deadline - time.monotonic()
            if left <= 0:
                self.error(f"{what}: not ready after {timeout:.0f} s (shown: {self.summary()})")
                return False
            self.changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(left, 1.0))

    # --------------------------------------------------------- what is on the page

    def ordered(self) -> list[El]:
        return [self.elements[k] for k in sorted(self.elements)]

    def has(self, kind: str, text: str) -> bool:
        return any(e.kind == kind and text in e.text for e in self.elements.values())

    def widget(self, kind: str, label: str) -> El | None:
        return next((e for e in self.elements.values() if e.kind == kind and e.wid and e.text.startswith(label)), None)

    def summary(self) -> str:
        words = [
            f"{e.kind}:{e.text[:50]}" for e in self.ordered() if e.kind in ("heading", "alert", "exception", "progress")
        ]
        return "; ".join(words)[:400]

    def choose(self, widget: El, value: str) -> None:
        """Set a selectbox's or radio's value for the next reruns."""
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        self.widgets[widget.wid] = WidgetState(id=widget.wid, string_value=value)

    def trigger(self, button: El):
        """A button press, to pass to rerun()."""
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        return WidgetState(id=button.wid, trigger_value=True)

    async def upload(self, uploader: El, name: str, data: bytes, mime: str, timeout: float) -> bool:
        """Upload `data` as the file `name` into the file uploader `uploader` (kept for the next
        reruns, as the browser does); False (with an error noted) when the server refuses it."""
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        rid = uuid.uuid4().hex
        fut = asyncio.get_running_loop().create_future()
        self.file_urls[rid] = fut
        m = self.BackMsg()
        m.file_urls_request.request_id = rid
        m.file_urls_request.session_id = self.session_id
        m.file_urls_request.file_names.append(name)
        await self.ws.send(m.SerializeToString())
        try:
            resp = await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            self.error("upload: no file URL from the server")
            return False
        if resp.error_msg or not resp.file_urls:
            self.error(f"upload: file URL refused: {resp.error_msg}")
            return False
        urls = resp.file_urls[0]
        boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
                f"Content-Type: {mime}\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
        upload_url = urls.upload_url if urls.upload_url.startswith("http") else self.base + urls.upload_url
        status, text, _ = await http("PUT", upload_url, data=body, timeout=timeout, headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}", "X-Xsrftoken": self.xsrf,
            **keep_cookies(self.jar, [])})
        if status not in (200, 204):
            self.error(f"upload: PUT answered {status} {text[:200]!r}")
            return False
        ws = WidgetState(id=uploader.wid)
        info = ws.file_uploader_state_value.uploaded_file_info.add()
        info.name, info.size, info.file_id = name, len(data), urls.file_id
        info.file_urls.CopyFrom(urls)
        self.widgets[uploader.wid] = ws
        return True

    async def fetch_images(self, timeout: float) -> bool:
        """GET the pictures the page shows, as a browser would."""
        ok = True
        for el in list(self.elements.values()):
            if el.kind == "imgs":
                for url in el.extra:
                    if not url or url.startswith("data:"):
                        continue
                    status, body, _ = await http("GET", url if url.startswith("http") else self.base + url,
                                                 timeout=timeout, headers=keep_cookies(self.jar, []))
                    if status != 200 or not body:
                        self.error(f"image {url} answered {status}")
                        ok = False
        return ok
