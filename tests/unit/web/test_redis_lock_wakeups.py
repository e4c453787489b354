"""A tab's Redis state lock is never left held by a cancelled event, and a waiter does not
sleep out the lock expiration when Redis announces no release (web/redis_lock_wakeups.py).

Both run Reflex's own StateManagerRedis against a redis-server of the test's own. The lock
expiration is 60 s: without the fixes the waiter here really waits that long, with them it
takes the lock within about a second, so the tests' 30 s limits are no race."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator

import pytest
import redis.asyncio as aredis
from reflex.istate.manager.redis import StateManagerRedis

from profile_ui.web import redis_lock_wakeups
from profile_ui.web.redis_lock_wakeups import wake_waiters_reliably
from tests.services import ThrowawayRedis

LOCK_EXPIRATION_MS = 60_000
NEVER_S = 30  # half the lock expiration: a waiter that needs this long waited for the expiry


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThrowawayRedis]:
    try:
        server = ThrowawayRedis(tmp_path_factory.mktemp("redis")).start()
    except FileNotFoundError:
        if os.environ.get("CI"):
            raise
        pytest.skip("redis-server is not installed")
    wake_waiters_reliably()
    yield server
    server.stop()


def _manager(server: ThrowawayRedis) -> StateManagerRedis:
    return StateManagerRedis(
        redis=aredis.Redis.from_url(server.url()), lock_expiration=LOCK_EXPIRATION_MS, lock_warning_threshold=1000
    )


def _lock_key() -> bytes:
    return f"{uuid.uuid4().hex}_lock".encode()


def test_an_event_cancelled_while_taking_the_lock_leaves_it_free(redis_server: ThrowawayRedis) -> None:
    async def scenario() -> list[int]:
        manager = _manager(redis_server)
        await manager.redis.ping()
        left_held = []
        # cancelled at every point of the attempt: before the SET is sent, while it is on
        # its way, after the answer
        for attempt in range(40):
            key = _lock_key()
            taking = asyncio.ensure_future(manager._wait_lock(key, b"cancelled-page-load"))
            for _ in range(attempt % 4):
                await asyncio.sleep(0)
            taking.cancel()
            try:
                await taking
                await manager.redis.delete(key)  # it got the lock before the cancel: it releases it
            except asyncio.CancelledError:
                await asyncio.gather(*redis_lock_wakeups._giving_back)
                if await manager.redis.exists(key):
                    left_held.append(attempt)
        await manager.close()
        return left_held

    assert asyncio.run(scenario()) == []


def test_the_next_page_gets_the_lock_a_cancelled_event_took(redis_server: ThrowawayRedis) -> None:
    """The production-shape hang: the landing page's load is cancelled by a navigation while
    it takes the lock; the new page's first load must not wait for the lock to expire."""

    async def scenario() -> bool:
        manager = _manager(redis_server)
        await manager.redis.ping()
        key = _lock_key()
        for cancel_after in range(1, 4):  # until one cancel lands with the SET on its way
            old_load = asyncio.ensure_future(manager._wait_lock(key, b"old-page-load"))
            for _ in range(cancel_after):
                await asyncio.sleep(0)
            old_load.cancel()
            try:
                await old_load
                await manager.redis.delete(key)
            except asyncio.CancelledError:
                break
        await asyncio.wait_for(manager._wait_lock(key, b"new-page-hydrate"), timeout=NEVER_S)
        got_it = await manager.redis.get(key) == b"new-page-hydrate"
        await manager.close()
        return got_it

    assert asyncio.run(scenario())


def test_a_waiter_takes_a_released_lock_even_when_redis_announces_nothing(redis_server: ThrowawayRedis) -> None:
    """A restarted Redis has forgotten the keyspace notifications the waiters listen for."""

    async def scenario() -> bool:
        holder, waiter = _manager(redis_server), _manager(redis_server)
        key = _lock_key()
        assert await holder._try_get_lock(key, b"holder")
        waiting = asyncio.ensure_future(waiter._wait_lock(key, b"waiter"))
        await asyncio.sleep(0.5)  # subscribed and waiting
        await holder.redis.config_set("notify-keyspace-events", "")  # as after a restart
        await holder.redis.delete(key)
        await asyncio.wait_for(waiting, timeout=NEVER_S)
        got_it = await waiter.redis.get(key) == b"waiter"
        await holder.redis.config_set("notify-keyspace-events", "K$sgxe")
        await holder.close()
        await waiter.close()
        return got_it

    assert asyncio.run(scenario())


def test_a_reflex_without_the_patched_methods_is_refused_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(StateManagerRedis, "_lock_waiter")
    with pytest.raises(RuntimeError, match="written for Reflex 0.10"):
        wake_waiters_reliably()


def test_installing_twice_patches_once() -> None:
    wake_waiters_reliably()
    patched = StateManagerRedis._try_get_lock
    wake_waiters_reliably()
    assert StateManagerRedis._try_get_lock is patched
