"""Granian respawns a backend worker that crashed, instead of stopping the whole server.

`reflex run --env prod` serves the backend with Granian, GRANIAN_WORKERS processes on one
port, but Reflex builds the server without `respawn_failed_workers`, and then Granian
treats the death of any worker (SIGKILL, out of memory) as a reason to shut every worker
down: one crash took the app away from every marketer (found by the fault test in
tests/e2e/test_production_shape.py). rxconfig.py calls `respawn_crashed_workers()` in the
process that starts Granian, so a dead worker is replaced (Granian still gives up on a
crash loop: the same worker dying twice within ~5 s) and the pages it served reconnect
to the others; their state is in Redis.
"""

from __future__ import annotations

import functools
from typing import Any

_MARK = "_profile_ui_respawns"


def respawn_crashed_workers() -> None:
    """Make Granian servers created from now on respawn crashed workers (idempotent)."""
    try:
        from granian.server.common import AbstractServer
    except ImportError:  # Granian not installed: Reflex serves with Uvicorn instead
        return
    init = AbstractServer.__init__
    if getattr(init, _MARK, False):
        return

    @functools.wraps(init)
    def init_with_respawn(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("respawn_failed_workers", True)
        init(self, *args, **kwargs)

    setattr(init_with_respawn, _MARK, True)
    AbstractServer.__init__ = init_with_respawn  # type: ignore[method-assign]  # the patch is the point
