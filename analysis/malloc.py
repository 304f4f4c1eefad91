"""glibc's allocator, from Python: hand freed memory back, and bound its per-thread arenas.
Both do nothing where glibc is absent. No Streamlit here."""
from __future__ import annotations

import contextlib
import ctypes


def give_back_free_memory() -> None:
    """Ask glibc to hand its free heap pages back to the system (freed memory otherwise stays in
    the process: its resident size would only grow)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def limit_malloc_arenas(n: int = 2) -> None:
    """At most ``n`` glibc malloc arenas from now on (M_ARENA_MAX). glibc gives each new thread
    its own arena (up to 8 per core), and a server running thirty sessions' scripts in threads
    keeps the freed memory of each, scattered, long after the sessions closed."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").mallopt(-8, int(n))  # M_ARENA_MAX
