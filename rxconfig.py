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
from profile_ui.web.worker_respawn import respawn_crashed_workers

settings = get_settings()
respawn_crashed_workers()  # one crashed backend worker must not stop the others

_reflex_uploads = (settings.data_dir / "reflex-uploads-unused").resolve()
_reflex_uploads.mkdir(parents=True, exist_ok=True)
os.environ["REFLEX_UPLOADED_FILES_DIR"] = str(_reflex_uploads)

_redis_url = settings.redis_url or os.environ.get("REFLEX_REDIS_URL") or None
# Redis state manager locks (README "Running at scale"): a tab's events hold its state lock
# while they run. Reflex's 10 s default is shorter than the slowest event under load
# (reading uploaded files on the wizard's Next, a synchronous export of 1,000 rows), and a
# lock that expires mid-event lets another worker write over it (reflex #4579, #6855), so
# 30 s; events holding it over 2 s are logged. The oplock (REFLEX_OPLOCK_ENABLED) stays off:
# it keeps changed state in the worker's memory until the lease ends, so a killed worker
# would lose it, and each tab's events go to one worker anyway (one websocket).
REDIS_LOCK_EXPIRATION_MS = 30_000
REDIS_LOCK_WARNING_MS = 2_000
_state_manager = (
    {
        "redis_url": _redis_url,
        "redis_lock_expiration": REDIS_LOCK_EXPIRATION_MS,
        "redis_lock_warning_threshold": REDIS_LOCK_WARNING_MS,
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
