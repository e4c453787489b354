"""`profile-ui` command: db upgrade, user create, seed, import, export, worker, purge,
duplicates scan.

Each command imports the app's modules it needs inside its function (marked "per command"):
`profile-ui --help` and a small command then start in a fraction of the time the whole app
(polars, SQLAlchemy models, the job queue) takes to load.
"""

from __future__ import annotations

import json
import logging
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
    # per command (see the module docstring)
    from alembic.config import Config

    from alembic import command

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
        # per command (see the module docstring)
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
    # per command (see the module docstring)
    from .settings import get_settings

    upgrade_database()
    click.echo(f"database is up to date: {_redact(get_settings().database_url)}")


def _redact(url: str) -> str:
    # per command (see the module docstring)
    from .jobs.scale_check import redact_url

    return redact_url(url)


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
    # per command (see the module docstring)
    from .db import session_scope
    from .services.permissions import SYSTEM_ACTOR
    from .services.users import UserError, create_user

    try:
        with session_scope() as session:
            created = create_user(
                session=session, actor=SYSTEM_ACTOR, email=email, password=password, role=role, full_name=full_name
            )
            click.echo(f"created {role} {created.email} (id {created.id})")
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc


# ---------------------------------------------------------------- identities at rest
@main.group()
def identities() -> None:
    """Stored identifiers (encryption at rest)."""


@identities.command("rekey")
def identities_rekey() -> None:
    """Re-encrypt identities and kept customer files (uploads, cached sheets, import error
    files, export files) after ENCRYPTION_KEY or ENCRYPTED_IDENTITY_KINDS changed.

    Keep the old key in PREVIOUS_ENCRYPTION_KEYS until this has run.
    """
    # per command (see the module docstring)
    from .db import session_scope
    from .services.crypto import IdentityCryptoError, rekey_identities
    from .services.permissions import SYSTEM_ACTOR
    from .services.retention import rekey_files

    try:
        with session_scope() as session:
            changed = rekey_identities(session=session, actor=SYSTEM_ACTOR)
    except IdentityCryptoError as exc:
        raise click.ClickException(f"nothing was changed: {exc}") from exc
    click.echo(f"{changed:,} identities now stored as the settings say")
    with session_scope() as session:
        files = rekey_files(session=session, actor=SYSTEM_ACTOR)
    click.echo(f"{files.rewritten:,} files rewritten as the settings say ({files.unchanged:,} already were)")
    if files.unreadable:
        click.echo(
            f"{files.unreadable:,} files could not be read with the configured keys and were "
            "left as they are (the purge removes them in time)",
            err=True,
        )


@identities.command("new-key")
def identities_new_key() -> None:
    """Print a fresh random ENCRYPTION_KEY (base64 of 32 bytes)."""
    # per command (see the module docstring)
    from .services.crypto import generate_key

    click.echo(generate_key())


# ---------------------------------------------------------------- demo data
@main.command()
@click.option("--profiles", "count", type=int, default=2000, show_default=True)
@click.option("--seed", "random_seed", type=int, default=42, show_default=True)
@click.option("--demo/--no-demo", default=False, help="Also create the demo users.")
@click.option("--if-empty", is_flag=True, help="Do nothing when profiles exist already.")
def seed(count: int, random_seed: int, demo: bool, if_empty: bool) -> None:
    """Make realistic profiles (identities, tags, segments, groups, consent, links)."""
    # per command (see the module docstring)
    from .seed import seed_workspace

    seed_workspace(profiles=count, random_seed=random_seed, demo_users=demo, only_if_empty=if_empty, echo=click.echo)


# ---------------------------------------------------------------- import / export / worker
EXIT_REJECTED = 2


def _parse_identifiers(values: tuple[str, ...]) -> dict[str, str]:
    """--identifier KIND=COLUMN ... -> {column: kind}, in the given order."""
    columns: dict[str, str] = {}
    for value in values:
        kind, sep, column = value.partition("=")
        if not sep or not kind.strip() or not column.strip():
            raise click.BadParameter(f"'{value}' is not KIND=COLUMN (e.g. email=\"E-mail\")", param_hint="--identifier")
        columns[column.strip()] = kind.strip()
    return columns


def _load_mapping_file(path: Path | None) -> tuple[dict | None, dict | None]:
    """--mapping FILE.json: {"columns": {...}, "values", "identifiers", "new_fields", "options"}."""
    if path is None:
        return None, None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise click.BadParameter(f"{path}: {exc}", param_hint="--mapping") from exc
    if not isinstance(data, dict) or not isinstance(data.get("columns"), dict):
        raise click.BadParameter(
            f'{path}: expected {{"columns": {{"Header": "field", ...}}, ...}}', param_hint="--mapping"
        )
    return data, data.get("options")


@main.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--kind", type=click.Choice(["profiles", "segments"]), default="profiles", show_default=True)
@click.option("--sheet", default=None, help="Sheet to read from a workbook with several.")
@click.option(
    "--identifier",
    "identifiers",
    multiple=True,
    metavar="KIND=COLUMN",
    help="Use COLUMN as identity KIND (email, phone, user_id, custom kinds); repeatable, in order.",
)
@click.option(
    "--mapping",
    "mapping_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='JSON {"columns": {"Header": "field key" | "identity:KIND" | "tags" | null}, ...}; '
    "default: the suggested mapping.",
)
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
@click.option("--as", "as_email", default=None, metavar="EMAIL", help="Act as this user (default: the system).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file per line.")
def import_files(
    files: tuple[Path, ...],
    kind: str,
    sheet: str | None,
    identifiers: tuple[str, ...],
    mapping_file: Path | None,
    dry_run: bool,
    as_email: str | None,
    as_json: bool,
) -> None:
    """Import spreadsheet files (.xlsx, .csv) one after another, in-process.

    Exit status: 0 when every file was processed (invalid rows included), 2 when a file
    was rejected as a whole, 1 when one failed.
    """
    # per command (see the module docstring)
    from .db import session_scope
    from .jobs import runner  # noqa: F401  (installs the queue's senders: the checks are sent, and run here)
    from .jobs.import_check import run_import_check
    from .jobs.import_job import run_batch
    from .services.importing import ImportMapping, ImportOptions
    from .services.importing.jobs import ImportFile, file_report, submit_import
    from .services.permissions import SYSTEM_ACTOR, PermissionDenied
    from .services.users import UserError, actor_for_email

    identifier_columns = _parse_identifiers(identifiers)
    mapping_data, options_data = _load_mapping_file(mapping_file)
    options = ImportOptions.from_json(options_data or {})
    if kind == "segments" and identifier_columns:
        options.segment_identifier = next(iter(identifier_columns.values()))
    mapping = None
    if mapping_data is not None:
        mapping = ImportMapping.from_json(mapping_data)
        for column, identity_kind in identifier_columns.items():
            mapping.columns[column] = f"identity:{identity_kind}"
        if identifier_columns:
            mapping.identifiers = list(dict.fromkeys(identifier_columns.values()))

    try:
        with session_scope() as session:
            actor = actor_for_email(session=session, email=as_email) if as_email else SYSTEM_ACTOR
            jobs = submit_import(
                session=session,
                actor=actor,
                kind=kind,
                options=options,
                dry_run=dry_run,
                enqueue=False,
                files=[
                    ImportFile(
                        file_name=path.name,
                        stored_path=path.resolve(),
                        sheet=sheet,
                        mapping=mapping,
                        identifier_columns=identifier_columns or None,
                    )
                    for path in files
                ],
            )
            batch_id, job_ids = jobs[0].batch_id, [job.id for job in jobs]
    except (UserError, PermissionDenied, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc

    run_batch(batch_id)
    for job_id in job_ids:  # no worker may be running: the applied files' checks run here
        run_import_check(job_id)

    statuses = []
    with session_scope() as session:
        for job_id in job_ids:
            report = file_report(session=session, actor=actor, job_id=job_id)
            statuses.append(report["status"])
            click.echo(json.dumps(report, ensure_ascii=False, default=str) if as_json else _describe_report(report))
    if "rejected" in statuses:
        sys.exit(EXIT_REJECTED)
    if any(status not in ("completed", "dry_run") for status in statuses):
        sys.exit(1)


def _describe_report(report: dict) -> str:
    from .services.importing.jobs import totals_line

    head = f"{report['file']}: {report['status']} (import #{report['job_id']})"
    if report["status"] in ("rejected", "failed"):
        return f"{head}\n  {report['error']}"
    lines = [head, f"  {totals_line(report)}"]
    shown = report["errors"][:20]
    lines += [f"  row {e['row']}, {e['column']}: {e['message']}" for e in shown]
    if len(report["errors"]) > len(shown):
        lines.append(f"  ... and {len(report['errors']) - len(shown)} more (use --json for all)")
    return "\n".join(lines)


@main.command("export-profiles")
@click.option(
    "--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path), help="CSV file to write."
)
@click.option("--as", "as_email", default=None, metavar="EMAIL", help="Act as this user (default: the system).")
def export_profiles(out_path: Path, as_email: str | None) -> None:
    """Write every active profile to CSV: all fields, one column per identity kind."""
    # per command (see the module docstring)
    from .db import session_scope
    from .services.exporting import export_profiles_csv
    from .services.permissions import SYSTEM_ACTOR, PermissionDenied
    from .services.users import UserError, actor_for_email

    try:
        with session_scope() as session:
            actor = actor_for_email(session=session, email=as_email) if as_email else SYSTEM_ACTOR
            count = export_profiles_csv(session=session, actor=actor, out_path=out_path)
    except (UserError, PermissionDenied) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"wrote {count} profiles to {out_path}")


@main.command("export")
@click.option(
    "--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path), help="File to write."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "xlsx", "zip"]),
    default=None,
    help="Default: from the file's extension, else csv.",
)
@click.option(
    "--fields",
    "fields_mode",
    type=click.Choice(["all", "displayed"]),
    default="all",
    show_default=True,
    help="displayed: the user's list columns (see --columns).",
)
@click.option(
    "--columns",
    default=None,
    metavar="KEYS",
    help="Comma-separated column keys for --fields displayed (field keys, "
    "identity:<kind>, tag:<id>, segments, groups); default: the user's list columns.",
)
@click.option("--query", "query_text", default="", help="The list's query box: name, e-mail, phone, user id.")
@click.option("--as", "as_email", default=None, metavar="EMAIL", help="Act as this user (default: the system).")
def export_command(
    out_path: Path, fmt: str | None, fields_mode: str, columns: str | None, query_text: str, as_email: str | None
) -> None:
    """Export active profiles (all, or those matching --query) to CSV, xlsx or a zip of CSV.

    Identity columns the user's role may not export are left out (listed on stderr).
    """
    # per command (see the module docstring)
    from .db import session_scope
    from .services.exporting import ExportError, export_to_file
    from .services.permissions import SYSTEM_ACTOR, PermissionDenied
    from .services.profiles import ProfileFilter
    from .services.users import UserError, actor_for_email

    fmt = fmt or {".xlsx": "xlsx", ".zip": "zip"}.get(out_path.suffix.lower(), "csv")
    try:
        with session_scope() as session:
            actor = actor_for_email(session=session, email=as_email) if as_email else SYSTEM_ACTOR
            keys = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
            count, left_out = export_to_file(
                session=session,
                actor=actor,
                flt=ProfileFilter(text=query_text),
                out_path=out_path,
                fields_mode=fields_mode,
                columns=keys,
                fmt=fmt,
            )
    except (UserError, PermissionDenied, ExportError) as exc:
        raise click.ClickException(str(exc)) from exc
    for line in left_out:
        click.echo(f"left out: {line}", err=True)
    click.echo(f"wrote {count} profiles to {out_path}")


@main.command("purge")
def purge_command() -> None:
    """Remove deleted profiles past the trash's retention window, and customer files past
    their time: uploads, cached sheets, import error files, export files."""
    # per command (see the module docstring)
    from .jobs.purge import run_purge
    from .settings import get_settings

    report = run_purge()
    settings = get_settings()
    files = report.files
    click.echo(f"purged {report.profiles} profiles deleted more than {settings.trash_retention_days} days ago")
    click.echo(
        f"uploads: removed {files.uploads} (imports ended, or left in the wizard more than "
        f"{settings.upload_abandoned_hours} hours; {files.previews_cancelled} unconfirmed "
        "previews cancelled)"
    )
    click.echo(f"cached sheets: removed {files.sheet_cache} (their upload is gone)")
    click.echo(f"import error files: removed {files.error_files} (older than {settings.import_error_file_hours} hours)")
    click.echo(f"export files: removed {files.export_files} (download link expired)")


@main.group()
def duplicates() -> None:
    """Possible duplicates (profiles that look like one person)."""


@duplicates.command("scan")
@click.option("--as", "as_email", default=None, metavar="EMAIL", help="Act as this user (default: the system).")
def duplicates_scan(as_email: str | None) -> None:
    """Scan every active profile for possible duplicates (also runs nightly in the worker)."""
    from .db import session_scope
    from .jobs.dedupe import run_duplicate_scan
    from .services.permissions import SYSTEM_ACTOR, PermissionDenied
    from .services.users import UserError, actor_for_email

    try:
        actor = SYSTEM_ACTOR
        if as_email:
            with session_scope() as session:
                actor = actor_for_email(session=session, email=as_email)
        report = run_duplicate_scan(actor=actor)
    except (UserError, PermissionDenied) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"scanned {report.summary()}")


@main.command("check-scale")
def check_scale() -> None:
    """Check that PostgreSQL (DATABASE_URL) and Redis (REDIS_URL) answer, as the production
    shape needs (`make run-scale` runs this first); names what is missing."""
    from .jobs.scale_check import scale_problems
    from .settings import get_settings

    settings = get_settings()
    problems = scale_problems(settings.database_url, settings.redis_url)
    for problem in problems:
        click.echo(f"missing: {problem}", err=True)
    if problems:
        raise SystemExit(1)
    click.echo(f"PostgreSQL and Redis answer: {_redact(settings.database_url)}, {_redact(settings.redis_url or '')}")


@main.command()
@click.option(
    "--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Worker threads in this process."
)
def worker(workers: int) -> None:
    """Run background jobs (imports) from the queue until stopped.

    Ctrl-C (SIGINT) lets the running job finish first; SIGTERM stops at once: an apply in
    progress is rolled back and another worker (or the next one started) runs it again.
    The queue is SQLite under DATA_DIR, or Redis when REDIS_URL is set (then workers on
    other machines sharing the database and Redis work on it too).
    """
    # per command (see the module docstring)
    from .jobs.runner import run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    run_worker(workers=workers)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
