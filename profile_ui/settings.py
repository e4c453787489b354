"""The one validated settings object, read from the environment (and `.env`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

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

    session_hours: int = 12
    login_max_failures: int = 5
    login_lockout_minutes: int = 15

    upload_max_bytes: int = 10 * 1024 * 1024
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
    def upload_dir(self) -> Path:
        """Private upload folder (never Reflex's public /_upload)."""
        return self.data_dir / "uploads"

    @property
    def export_dir(self) -> Path:
        return self.data_dir / "exports"


@lru_cache
def get_settings() -> Settings:
    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings
