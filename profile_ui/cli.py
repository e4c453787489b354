"""`profile-ui` command: db upgrade, user create, seed, import, export, worker, purge."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.group()
def main() -> None:
    """Profile UI operations."""


# ---------------------------------------------------------------- database
@main.group()
def db() -> None:
    """Database schema."""


def upgrade_database(url: str | None = None) -> None:
    """Apply the Alembic migrations, then the reference data every workspace needs."""
    from alembic import command
    from alembic.config import Config

    from .db import make_engine, session_scope
    from .services.bootstrap import ensure_reference_data

    root = Path(__file__).resolve().parent.parent
    config = Config(str(root / "alembic.ini"))
    config.set_main_option("script_location", str(root / "alembic"))
    if url:
        engine = make_engine(url)
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
        from sqlmodel import Session

        with Session(engine) as session:
            ensure_reference_data(session=session)
            session.commit()
        engine.dispose()
        return
    command.upgrade(config, "head")
    with session_scope() as session:
        ensure_reference_data(session=session)


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the migrations to the database in DATABASE_URL."""
    from .settings import get_settings

    upgrade_database()
    click.echo(f"database is up to date: {_redact(get_settings().database_url)}")


def _redact(url: str) -> str:
    import sqlalchemy as sa

    return sa.engine.make_url(url).render_as_string(hide_password=True)


# ---------------------------------------------------------------- users
@main.group()
def user() -> None:
    """Users and roles."""


@user.command("create")
@click.option("--email", required=True)
@click.option("--password", required=True)
@click.option("--role", type=click.Choice(["viewer", "marketer", "admin"]), required=True)
@click.option("--name", "full_name", default="")
def user_create(email: str, password: str, role: str, full_name: str) -> None:
    """Create a user (written to the audit log)."""
    from .db import session_scope
    from .services.permissions import SYSTEM_ACTOR
    from .services.users import UserError, create_user

    try:
        with session_scope() as session:
            created = create_user(session=session, actor=SYSTEM_ACTOR, email=email,
                                  password=password, role=role, full_name=full_name)
            click.echo(f"created {role} {created.email} (id {created.id})")
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc


# ---------------------------------------------------------------- demo data
@main.command()
@click.option("--profiles", "count", type=int, default=2000, show_default=True)
@click.option("--seed", "random_seed", type=int, default=42, show_default=True)
@click.option("--demo/--no-demo", default=False, help="Also create the demo users.")
@click.option("--if-empty", is_flag=True, help="Do nothing when profiles exist already.")
def seed(count: int, random_seed: int, demo: bool, if_empty: bool) -> None:
    """Make realistic profiles (identities, tags, segments, groups, consent, links)."""
    from .seed import seed_workspace

    seed_workspace(profiles=count, random_seed=random_seed, demo_users=demo,
                   only_if_empty=if_empty, echo=click.echo)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
