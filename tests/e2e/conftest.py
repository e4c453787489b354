"""Browser tests against the real app: one `reflex run --env prod` per test session.

The session fixture makes a temporary DATA_DIR with its own SQLite database, migrates it
(`profile-ui db upgrade`), creates one user per role (`profile-ui user create`), starts
the app on a free port in its own process group and its own `.web` build folder (so a
developer's running app is left alone), waits until it answers, and kills the group at
the end. Chromium is Debian's (/usr/bin/chromium); Playwright's own download is not used.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from ..services import ThrowawayRedis, create_pg_database, drop_pg_database, free_port, pg_url
from .helpers import (
    PASSWORD,
    UPLOAD_MAX_BYTES,
    UPLOAD_MAX_ROWS,
    USERS,
    ProfileData,
    RunningApp,
    seed_profile_data,
    sign_in_page,
)

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
START_TIMEOUT_S = 300
# first paints wait for the websocket and on_load; generous but not slow when it works
expect.set_options(timeout=15_000)


def _bun_path() -> str:
    """REFLEX_BUN_PATH from the environment (the Makefile exports it), else the project's."""
    if os.environ.get("REFLEX_BUN_PATH"):
        return os.environ["REFLEX_BUN_PATH"]
    return str(REPO / ".tools" / "bun" / "node_modules" / ".bin" / "bun")


def _cli(*args: str, env: dict[str, str]) -> None:
    subprocess.run(
        [str(BIN / "profile-ui"), *args], env=env, cwd=REPO, check=True, capture_output=True, text=True, timeout=120
    )


def _wait_until_serving(url: str, proc: subprocess.Popen, app: RunningApp) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    with httpx.Client(timeout=5, follow_redirects=True) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"the app exited ({proc.returncode}):\n{app.log_tail()}")
            try:
                if client.get(f"{url}/ping").status_code == 200 and client.get(f"{url}/login").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
    raise RuntimeError(f"the app did not start in {START_TIMEOUT_S} s:\n{app.log_tail()}")


def _smtp_server(received: list):
    """A real local SMTP server on a free port that appends each message to `received`."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    class Inbox(Message):
        def handle_message(self, message) -> None:
            received.append(message)

    controller = Controller(Inbox(), hostname="127.0.0.1", port=free_port())
    controller.start()
    return controller


# The modules whose flows touch jobs, sessions or live updates: they run twice, on the
# embedded default and on the production shape (PostgreSQL + Redis, 2 backend workers,
# 2 job workers, started by `make run-scale` as an operator would).
SCALED_MODULES = {
    "test_auth_shell",
    "test_delete_trash_audit",
    "test_exports",
    "test_import_wizard",
    "test_membership_sync",
    "test_profiles_detail",
    "test_profiles_list",
    "test_production_shape",
}
SHAPES = ("embedded", "scaled")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "app_shape" not in metafunc.fixturenames:
        return
    module = metafunc.module.__name__.rsplit(".", 1)[-1]
    shapes = list(getattr(metafunc.module, "APP_SHAPES", None) or (SHAPES if module in SCALED_MODULES else SHAPES[:1]))
    metafunc.parametrize("app_shape", shapes, indirect=True, scope="session")


@pytest.fixture(scope="session")
def app_shape(request: pytest.FixtureRequest) -> str:
    return getattr(request, "param", "embedded")


def _app_env(data_dir: Path, database_url: str, url: str, work: Path, smtp_port: int) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "REDIS_URL",
            "REFLEX_REDIS_URL",
            "DATABASE_URL",
            "GRANIAN_WORKERS",
            "EMBEDDED_WORKER",
            "MAKEFLAGS",
            "MAKELEVEL",
        )
    }
    env.update(
        DATA_DIR=str(data_dir),
        DATABASE_URL=database_url,
        ENVIRONMENT="test",
        APP_URL=url,
        UPLOAD_MAX_BYTES=str(UPLOAD_MAX_BYTES),
        UPLOAD_MAX_ROWS=str(UPLOAD_MAX_ROWS),
        # one marketer uploads for every wizard test of the session, leaving some unused
        UPLOAD_MAX_PENDING="200",
        REFLEX_BUN_PATH=_bun_path(),
        REFLEX_WEB_WORKDIR=str(work / "web"),
        SMTP_ENABLED="true",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(smtp_port),
        REFLEX_TELEMETRY_ENABLED="false",
        REFLEX_CHECK_LATEST_VERSION="false",
        PYTHONUNBUFFERED="1",
    )
    env["PATH"] = f"{Path(env['REFLEX_BUN_PATH']).parent}:{BIN}:{env.get('PATH', '')}"
    return env


@pytest.fixture(scope="session")
def running_app(app_shape: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    """The app under test, in the shape `app_shape` names: "embedded" (SQLite, one process,
    jobs in-process) or "scaled" (PostgreSQL database and redis-server of its own,
    `make run-scale` with 2 backend workers and 2 job workers)."""
    work = tmp_path_factory.mktemp(f"e2e-app-{app_shape}")
    inbox: list = []
    smtp = _smtp_server(inbox)
    data_dir = work / "data"
    data_dir.mkdir()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    redis = pg_name = None
    try:
        if app_shape == "scaled":
            redis, pg_name = _scaled_services(work)
            database_url = pg_url(pg_name)
        else:
            database_url = f"sqlite:///{data_dir / 'e2e.db'}"
        env = _app_env(data_dir, database_url, url, work, smtp.port)
        if redis is not None:
            env["REDIS_URL"] = redis.url()
        _cli("db", "upgrade", env=env)
        for role, email in USERS.items():
            _cli("user", "create", "--email", email, "--password", PASSWORD, "--role", role, env=env)

        log = work / "reflex.log"
        if app_shape == "scaled":
            command = [
                "make",
                "--no-print-directory",
                "run-scale",
                f"PORT={port}",
                "BACKEND_WORKERS=2",
                "JOB_WORKERS=2",
                "SEED_DEMO=0",
            ]
            env["BACKEND_HOST"] = "127.0.0.1"
        else:
            command = [
                str(BIN / "reflex"),
                "run",
                "--env",
                "prod",
                "--frontend-port",
                str(port),
                "--backend-port",
                str(port),
                "--backend-host",
                "127.0.0.1",
            ]
        app = RunningApp(
            url=url,
            data_dir=data_dir,
            database_url=database_url,
            log=log,
            inbox=inbox,
            shape=app_shape,
            redis=redis,
            pg_name=pg_name,
        )
        with open(log, "w") as out:
            proc = subprocess.Popen(
                command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        app = dataclasses.replace(app, pid=proc.pid)
        try:
            _wait_until_serving(url, proc, app)
            yield app
        finally:
            # the production shape stops as an operator stops it: Ctrl-C (SIGINT to the
            # terminal's process group) must take every process it started with it
            survivors = _stop(proc, signal.SIGINT if app_shape == "scaled" else signal.SIGTERM)
            shutil.rmtree(work / "web", ignore_errors=True)
            assert not survivors, f"still running after Ctrl-C on make run-scale: {survivors}"
    finally:
        smtp.stop()
        if redis is not None:
            redis.stop()
        if pg_name is not None:
            drop_pg_database(pg_name)


def _scaled_services(work: Path) -> tuple[ThrowawayRedis, str]:
    try:
        redis = ThrowawayRedis(work).start()
    except (FileNotFoundError, RuntimeError) as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"the production shape needs redis-server: {exc}")
    try:
        return redis, create_pg_database("pu_e2e")
    except sa.exc.OperationalError as exc:
        redis.stop()
        if os.environ.get("CI"):
            raise
        pytest.skip(f"the production shape needs PostgreSQL: {exc}")


def _stop(proc: subprocess.Popen, first: int = signal.SIGTERM) -> list[str]:
    """Stop the app's process group (`first`, then SIGKILL); returns the processes it had
    started that outlived it (and kills them)."""
    try:
        family = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        family = []
    for sig, wait in ((first, 30), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    _gone, alive = psutil.wait_procs(family, timeout=30)
    survivors = []
    for child in alive:
        try:
            survivors.append(" ".join(child.cmdline()))
            child.kill()
        except psutil.NoSuchProcess:
            pass
    return survivors


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the browser tests last: the rest of the suite fails faster, and no test runs
    while Playwright's session-wide event loop owns the main thread."""
    here = Path(__file__).parent
    items.sort(key=lambda item: here in Path(str(item.path)).parents)


# ------------------------------------------------------------ pytest-playwright
@pytest.fixture(scope="session")
def base_url(running_app: RunningApp) -> str:
    return running_app.url


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture
def sign_in(page, base_url: str):
    """sign_in("viewer") signs the page in as that role through the login form."""

    def _sign_in(role: str, password: str = PASSWORD) -> None:
        page.goto(f"{base_url}/login")
        page.get_by_label("E-mail").fill(USERS[role])
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    return _sign_in


# ------------------------------------------------------------ profile pages (issue 4)
@pytest.fixture(scope="session")
def profile_data(running_app: RunningApp) -> ProfileData:
    """Known profiles, tags, a group and a segment (see helpers.seed_profile_data)."""
    return seed_profile_data(running_app)


def _role_page(browser, base_url: str, role: str):
    context = browser.new_context(base_url=base_url, viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    sign_in_page(page, base_url, role)
    return context, page


@pytest.fixture(scope="module")
def admin_page(browser, base_url: str, profile_data: ProfileData):
    """A page signed in as the admin once for the whole test module."""
    context, page = _role_page(browser, base_url, "admin")
    yield page
    context.close()


@pytest.fixture(scope="module")
def marketer_page(browser, base_url: str, profile_data: ProfileData):
    context, page = _role_page(browser, base_url, "marketer")
    yield page
    context.close()


@pytest.fixture(scope="module")
def viewer_page(browser, base_url: str, profile_data: ProfileData):
    context, page = _role_page(browser, base_url, "viewer")
    yield page
    context.close()
