"""The one validated settings object, read from the environment (and `.env`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRET = "change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: str = Field("development", description="development | test | production")
    data_dir: Path = Path("data")
    database_url: str = ""  # default: SQLite file under data_dir
    redis_url: str | None = None
    # run a job consumer thread inside the app process; turn off when `profile-ui worker`
    # processes do all the background work
    embedded_worker: bool = True
    secret_key: str = PLACEHOLDER_SECRET
    app_url: str = "http://localhost:3000"
    # origins besides APP_URL's whose pages may call the backend with the visitor's cookie
    # (CORS and the socket.io handshake), e.g. a frontend served on another port
    cors_origins: list[str] = []

    session_hours: int = 12
    # failed sign-ins for one e-mail from one address before that address waits
    # login_lockout_minutes; each further failure doubles the wait (up to a day)
    login_max_failures: int = 5
    login_lockout_minutes: int = 15
    # failed sign-ins for one e-mail from all addresses together that lock the account
    # (the right password from a known address, or an admin, lifts the lock)
    login_lock_failures: int = 20
    # reverse proxies in front of the app whose X-Forwarded-For is trusted for the client
    # address (0: the address of the connection itself)
    trusted_proxy_hops: int = 0

    upload_max_bytes: int = 10 * 1024 * 1024
    upload_max_pending: int = 20  # uploads per user that no import uses yet
    upload_max_rows: int = 50_000
    paste_max_rows: int = 1_000
    default_phone_region: str = "VN"

    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "profile-ui@localhost"
    smtp_enabled: bool = False

    export_sync_limit: int = 1_000
    export_link_hours: int = 72
    # customer files outside the tables (services/retention.py)
    upload_abandoned_hours: int = 6  # an upload no import of which may still run
    import_error_file_hours: int = 72  # an import's error file, from the end of the import
    trash_retention_days: int = 30
    encrypted_identity_kinds: list[str] = []
    encryption_key: str | None = None  # base64 32 bytes; derived from secret_key when empty
    previous_encryption_keys: list[str] = []  # older keys, still read (services/crypto.py)

    @model_validator(mode="after")
    def _check(self) -> "Settings":
        if self.environment == "production" and self.secret_key in ("", PLACEHOLDER_SECRET):
            raise ValueError("SECRET_KEY must be set to a real secret outside development")
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.data_dir / 'profile_ui.db').resolve()}"
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def allowed_origins(self) -> list[str]:
        """The origins whose pages may read the backend's answers (Reflex's
        cors_allowed_origins): APP_URL's (both spellings of a local host) and CORS_ORIGINS.
        Never "*": with credentials that would let any site read a signed-in visitor's data."""
        origins = [_origin(self.app_url)]
        local = {"localhost", "127.0.0.1"}
        parts = urlsplit(self.app_url)
        if parts.hostname in local:
            for host in sorted(local - {parts.hostname}):
                origins.append(_origin(parts._replace(netloc=parts.netloc.replace(parts.hostname, host)).geturl()))
        origins += [_origin(o) for o in self.cors_origins if o.strip() and o.strip() != "*"]
        return list(dict.fromkeys(origins))

    @property
    def upload_dir(self) -> Path:
        """Private upload folder (never Reflex's public /_upload)."""
        return self.data_dir / "uploads"

    @property
    def export_dir(self) -> Path:
        return self.data_dir / "exports"


def _origin(url: str) -> str:
    """scheme://host[:port] of a URL, as a browser sends it in the Origin header."""
    parts = urlsplit(url.strip())
    return f"{parts.scheme}://{parts.netloc}".lower()


@lru_cache
def get_settings() -> Settings:
    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings
