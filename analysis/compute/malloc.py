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


def limit_malloc_arenas(n: int = 2, mmap_threshold: int = 256 * 1024) -> None:
    """At most ``n`` glibc malloc arenas from now on (M_ARENA_MAX), and every block of at least
    ``mmap_threshold`` bytes in its own mapping (M_MMAP_THRESHOLD). glibc gives each new thread
    its own arena (up to 8 per core), and a server running thirty sessions' scripts in threads
    keeps the freed memory of each, scattered, long after the sessions closed. And by default
    glibc raises its mmap threshold to the largest block freed so far (up to 32 MB), so a
    session's pictures and uploads (MBs each) land inside the heap, where freeing them leaves
    holes that malloc_trim cannot hand back: measured here, ten more sessions with a 1600×1200
    photo left the server 131 MB (PSS) above where one session had left it, once they closed,
    with 336 MB free inside its heap; with a fixed threshold, 0.1 MB. Setting the threshold also
    turns that adjustment off."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-8, int(n))  # M_ARENA_MAX
        libc.mallopt(-3, int(mmap_threshold))  # M_MMAP_THRESHOLD
