"""state/base.py runs event handlers' work in threads, off the event loop: a handler that
waits (for the database, for SQLite's write lock) does not stop another tab's event.

The handlers here wait on threading.Events the test controls, never on a clock."""

from __future__ import annotations

import asyncio
import inspect
import threading
from typing import Any

import pytest

from profile_ui.services.permissions import PermissionDenied
from profile_ui.state.base import guarded, in_thread


class FakeTab:
    """What `guarded` uses of an AppState: a restored-session flag on the app state."""

    _session_restored = False

    def __init__(self) -> None:
        self.value = ""

    def _app_state(self) -> FakeTab:
        return self

    def _current_token(self) -> str:
        return "token"

    def _forget_user(self) -> None:
        self.value = ""


started = threading.Event()
release = threading.Event()


@guarded
def slow_save(self: FakeTab, value: str) -> None:
    """A handler whose database work hangs until the test releases it."""
    started.set()
    if not release.wait(timeout=60):  # only so a broken build fails instead of hanging
        raise AssertionError("never released")
    self.value = value


@guarded
def quick_read(self: FakeTab, value: str) -> str:
    self.value = value
    return value


@guarded
def refused(self: FakeTab) -> None:
    raise PermissionDenied("not yours")


def test_a_synchronous_handler_becomes_async_with_its_own_signature() -> None:
    # Reflex awaits coroutine functions, and reads the parameters and annotations to parse
    # an event's arguments
    assert inspect.iscoroutinefunction(slow_save)
    assert list(inspect.signature(slow_save).parameters) == ["self", "value"]
    assert slow_save.__name__ == "slow_save"


def test_a_slow_handler_does_not_stop_another_tabs_event() -> None:
    started.clear()
    release.clear()
    slow_tab, other_tab = FakeTab(), FakeTab()

    async def scenario() -> list[str]:
        order: list[str] = []
        slow = asyncio.create_task(slow_save(slow_tab, "saved"))
        await in_thread(started.wait)  # the slow handler is inside its wait now
        assert await quick_read(other_tab, "answered") == "answered"
        # the other tab was answered while the slow one still waited
        order.append("other tab answered" if not release.is_set() else "other tab waited")
        release.set()
        await slow
        order.append("slow tab saved")
        return order

    assert asyncio.run(scenario()) == ["other tab answered", "slow tab saved"]
    assert (slow_tab.value, other_tab.value) == ("saved", "answered")


def test_refusals_from_the_thread_are_still_turned_into_a_toast() -> None:
    result: Any = asyncio.run(refused(FakeTab()))
    assert "not yours" in str(result)


def test_a_cancelled_event_waits_for_its_thread_before_letting_go_of_the_state() -> None:
    started.clear()
    release.clear()
    tab = FakeTab()

    async def scenario() -> None:
        slow = asyncio.create_task(slow_save(tab, "saved"))
        await in_thread(started.wait)
        slow.cancel()
        await asyncio.sleep(0)  # the cancellation is delivered; the thread still runs
        assert not slow.done()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await slow
        # the thread finished its change before the task ended
        assert tab.value == "saved"

    asyncio.run(scenario())
