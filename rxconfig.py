"""Reflex configuration, derived from the one Settings object (profile_ui/settings.py).

- No `db_url`: the app uses its own engine (profile_ui/db.py), not rx.session.
- REDIS_URL, when set, becomes Reflex's state manager; otherwise state lives in memory
  (the disk manager would write every tab's state, session token included, to .states/).
- CORS and the socket.io handshake allow only `settings.allowed_origins` (APP_URL's origin
  and CORS_ORIGINS), never Reflex's default "*".
- Reflex's public upload folder points at an empty folder under DATA_DIR; nothing is ever
  saved or served there (see profile_ui/services/uploads.py).
"""

import os

import reflex as rx

from profile_ui.settings import get_settings
from profile_ui.web.redis_lock_wakeups import wake_waiters_reliably
from profile_ui.web.worker_respawn import respawn_crashed_workers

settings = get_settings()
respawn_crashed_workers()  # one crashed backend worker must not stop the others

_reflex_uploads = (settings.data_dir / "reflex-uploads-unused").resolve()
_reflex_uploads.mkdir(parents=True, exist_ok=True)
os.environ["REFLEX_UPLOADED_FILES_DIR"] = str(_reflex_uploads)

_redis_url = settings.redis_url or os.environ.get("REFLEX_REDIS_URL") or None
# Redis state manager settings, chosen from the load bench (README "Running at scale",
# benchmarks/README.md "Load bench"): a tab's events hold its state lock while they run.
# - lock expiration 30 s: the longest hold measured was 19.1 s (50 marketers, 1,000,000
#   profiles, two imports and an export on a 2-core machine at load 13-18, when answers
#   already took 17 s at p95; 12.1 s with 100 marketers on 200,000), and a lock that
#   expires mid-event lets another worker write over the state (reflex #4579, #6855).
#   Reflex's 10 s default would have expired there. A worker killed while holding a
#   tab's lock leaves that tab waiting at most this long, so not longer.
# - warning threshold 2 s: a healthy event takes well under 1 s; over 2 s is worth a log
#   line (under overload it logs a lot, which says the same).
# - token expiration 1 h (Reflex's default, stated): a tab's state (about 25 KB) is kept
#   an hour after its last event; a tab idle longer starts from the session cookie again
#   (state/base.py _current_token), signed in.
# - the oplock (REFLEX_OPLOCK_ENABLED) stays off: it keeps changed state in one worker's
#   memory until the lease ends, which a killed worker would lose; the Redis work it
#   could save was 6-8% of the backend workers' samples in the bench's profile (the
#   handlers' own database work was over 70%), so it cannot bring the targets within reach.
REDIS_LOCK_EXPIRATION_MS = 30_000
REDIS_LOCK_WARNING_MS = 2_000
REDIS_TOKEN_EXPIRATION_S = 3_600
if _redis_url:
    # a lock taken by a cancelled event is given back, and a waiter re-checks the lock
    # every second: without these a tab could wait the whole 30 s for a free lock
    wake_waiters_reliably()
_state_manager = (
    {
        "redis_url": _redis_url,
        "redis_lock_expiration": REDIS_LOCK_EXPIRATION_MS,
        "redis_lock_warning_threshold": REDIS_LOCK_WARNING_MS,
        "redis_token_expiration": REDIS_TOKEN_EXPIRATION_S,
    }
    if _redis_url
    else {"state_manager_mode": rx.constants.StateManagerMode.MEMORY}
)

config = rx.Config(
    app_name="profile_ui",
    telemetry_enabled=False,
    # the default in 0.10 (Reflex warns that the option is deprecated); kept explicit so
    # no state var ever gets a setter event that the browser could call
    state_auto_setters=False,
    show_built_with_reflex=False,
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="indigo", gray_color="slate", radius="medium"))],
    disable_plugins=[rx.plugins.SitemapPlugin],  # no public sitemap of a private app
    # only APP_URL's origin (and CORS_ORIGINS) may read answers with the visitor's cookie;
    # Reflex's default "*" echoes any Origin with credentials, and lets any site open /_event
    cors_allowed_origins=settings.allowed_origins,
    # the client address sign-in throttling counts by (profile_ui/services/sign_in_throttle.py)
    trusted_proxy_hops=settings.trusted_proxy_hops,
    **_state_manager,
)
