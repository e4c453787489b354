"""No tab waits out a whole Redis lock expiration for a state lock nobody holds.

With Redis as Reflex's state manager, an event holds its tab's state lock in Redis while it
runs (a key set with `SET NX PX`); an event of the same tab that comes meanwhile waits for
the release, which Redis announces through keyspace notifications. Reflex 0.10 has two
holes through which the tab's next event waits the whole lock expiration (30 s here,
rxconfig.py) although no event of the tab is running:

1. **A lock taken by a cancelled event.** Leaving a page cancels its unfinished load. When
   the cancellation lands while the event's `SET NX` is on its way, Redis has set the lock
   but the event never learns it got it, so nobody releases it: the key stays until it
   expires, and the next page of the same tab (which keeps its token across navigations)
   stays empty meanwhile. Seen in the production-shape browser tests: a page opened right
   after signing in, while the sign-in's landing page was still loading, stayed empty for
   more than 15 s (issue 14); reproduced in tests/unit/web/test_redis_lock_wakeups.py
   (cancelling lock attempts at random points left three in four of them set).
2. **No notifications at all.** A restarted Redis has forgotten the `notify-keyspace-events`
   setting Reflex made at start (it keeps nothing on disk here), so no release is announced
   and every waiter sleeps until its wait times out, the lock expiration.

`wake_waiters_reliably()` (called by rxconfig.py in every process that loads the config)
patches `StateManagerRedis` in the two places these pass through:
- `_try_get_lock` finishes its `SET NX` even when its event is cancelled, and a lock it
  took for a cancelled event is given back at once (deleted only while it still holds
  this attempt's lock id) and the next waiter is told;
- `_lock_waiter` (the context a waiter waits in) wakes its waiter every `RECHECK_S` to
  try the lock again, so a missing notification costs at most that long.

A Reflex without those methods (another version) fails loudly here, at start, rather than
losing the fixes quietly.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

RECHECK_S = 1.0  # a waiter tries the lock again this often, notified or not
_MARK = "_profile_ui_wakes_reliably"
# deletes the lock only while it holds the given id (it may have expired and been taken since)
_GIVE_BACK = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
_giving_back: set[asyncio.Task[None]] = set()  # kept referenced until done


def wake_waiters_reliably() -> None:
    """Install the two fixes described in the module docstring (idempotent)."""
    # imported here: only a process that uses Redis loads Reflex's Redis state manager
    from reflex.istate.manager.redis import StateManagerRedis

    members = StateManagerRedis.__dict__
    try_get_lock, lock_waiter = members.get("_try_get_lock"), members.get("_lock_waiter")
    if try_get_lock is None or lock_waiter is None or "_notify_next_waiter" not in members:
        raise RuntimeError(
            "this Reflex's StateManagerRedis has no _try_get_lock / _lock_waiter / "
            "_notify_next_waiter: profile_ui/web/redis_lock_wakeups.py was written for Reflex "
            "0.10; check whether its two fixes are still needed and adapt it"
        )
    if getattr(try_get_lock, _MARK, False):
        return

    async def try_get_lock_once(self: Any, lock_key: bytes, lock_id: bytes) -> bool | None:
        attempt = asyncio.ensure_future(try_get_lock(self, lock_key, lock_id))
        try:
            return await asyncio.shield(attempt)
        except asyncio.CancelledError:
            task = asyncio.ensure_future(_give_back_if_taken(self, attempt, lock_key, lock_id))
            _giving_back.add(task)
            task.add_done_callback(_giving_back.discard)
            raise

    @contextlib.asynccontextmanager
    async def lock_waiter_rechecking(self: Any, lock_key: bytes) -> AsyncIterator[asyncio.Event]:
        async with lock_waiter(self, lock_key) as released:
            recheck = asyncio.ensure_future(_wake_now_and_then(released))
            try:
                yield released
            finally:
                recheck.cancel()

    setattr(try_get_lock_once, _MARK, True)
    StateManagerRedis._try_get_lock = try_get_lock_once  # type: ignore[method-assign]  # the patch is the point
    StateManagerRedis._lock_waiter = lock_waiter_rechecking  # type: ignore[method-assign]


async def _give_back_if_taken(manager: Any, attempt: asyncio.Future[Any], lock_key: bytes, lock_id: bytes) -> None:
    with contextlib.suppress(Exception):
        if await attempt:
            await manager.redis.eval(_GIVE_BACK, 1, lock_key, lock_id)
            manager._notify_next_waiter(lock_key)


async def _wake_now_and_then(released: asyncio.Event) -> None:
    while True:
        await asyncio.sleep(RECHECK_S)
        released.set()
