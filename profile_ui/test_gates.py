"""Test-only gates: a browser or unit test holds one named step of the app (an import
stage, a page's on_load) until it lets go, so it can look at the app in the middle of
that step without racing a timer.

A test arms the gate `name` by creating the file DATA_DIR/test-gates/<name> and releases it
by deleting the file; the step waits while the file exists (at most MAX_HOLD_SECONDS, so a
forgotten gate cannot hang a run). Only with ENVIRONMENT=test: anywhere else the check is
one attribute read and returns at once. A leaf beside settings: anything may import it.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from .settings import get_settings

GATES_FOLDER = "test-gates"
MAX_HOLD_SECONDS = 120.0
_POLL_SECONDS = 0.05


def gate_path(name: str, data_dir: Path | None = None) -> Path:
    """Where the gate `name` is armed (a test creates this file, then deletes it)."""
    return (data_dir or get_settings().data_dir) / GATES_FOLDER / name


def _armed(name: str) -> bool:
    settings = get_settings()
    return settings.environment == "test" and gate_path(name, settings.data_dir).exists()


def wait_at(name: str) -> None:
    """Block while the gate `name` is armed (test environment only)."""
    deadline = time.monotonic() + MAX_HOLD_SECONDS
    while _armed(name) and time.monotonic() < deadline:
        time.sleep(_POLL_SECONDS)


async def wait_at_async(name: str) -> None:
    """`wait_at` for code on an event loop: other events keep being served meanwhile."""
    deadline = time.monotonic() + MAX_HOLD_SECONDS
    while _armed(name) and time.monotonic() < deadline:
        await asyncio.sleep(_POLL_SECONDS)
