"""AppState: who is signed in, the bell, and the guard every event handler, computed
var and on_load goes through.

The session token is in an HttpOnly cookie that only the server sets and clears
(web/auth_session.py: POST /auth/session after the sign-in form, POST /auth/sign-out),
so it is never a state var: handlers read it from the Cookie header the browser sent
when the tab's websocket connected (`self.router.headers.cookie`). Signing in and out
are therefore full page loads, whose new socket carries the new cookie.

Anything can be sent over the websocket by hand, so nothing the browser holds is
trusted: each handler resolves the Actor from the session token on the server
(`_require_actor`), every time (every page load's on_load included, whatever this tab's
state, in memory or in Redis, remembers), and passes it to a service, which checks the
permission itself. The user/role/permission vars below only decide what the UI
shows; they are refreshed from the server whenever an actor is resolved.

Pattern for a handler (page substates subclass AppState):

    @rx.event
    @guarded
    def do_something(self, value: str):
        actor = self._require_actor()
        with session_scope() as session:
            some_service.do(session=session, actor=actor, value=value)

`guarded` turns NotSignedIn into "forget the user, go to /login" and PermissionDenied
into an error toast (nothing changed: the service refused before writing). Computed
vars never query the database (they run on the event loop whenever the state is sent):
handlers load what they show.

Off the event loop: `guarded` runs a synchronous handler (the sign-in check, the
services' queries, the state changes) in one of EVENT_THREADS threads (db.py) from an
async wrapper, so a backend worker goes on serving other tabs' events while one waits
for the database (or for SQLite's write lock during an import). Touching the state from
that thread is safe: Reflex runs one foreground event of a tab at a time and holds the
tab's state (its lock) until the handler returns; computed vars are recomputed after it,
on the loop. Async handlers (which `await self.get_state(...)`) run their database work
through `await in_thread(fn, ...)`. Generator handlers stay on the loop (none are
guarded). Background events (`@rx.event(background=True)`) are async and keep changing
the state only inside `async with self`; their database calls go through `in_thread`,
outside `async with self`: the tab's state lock is held only to read what a query needs
(the session token, an id) and to set what it returned. A watcher that polls a job reads
the cheap thing (its status) in a thread with no lock held, and takes the lock only when
something changed:

    async with self:
        token, job_id = self._current_token(), self.shown_id
    actor = await in_thread(actor_for_session, token)  # None: not signed in
    ...
    status = await in_thread(job_status, actor, job_id)  # a service call in session_scope()
    if status != shown:
        async with self:
            self.status = status
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import functools
import hashlib
import inspect
import json
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http.cookies import CookieError, SimpleCookie
from typing import Any

import reflex as rx

from .. import routes
from ..db import EVENT_THREADS, session_scope
from ..services import notify
from ..services.permissions import Actor, NotSignedIn, PermissionDenied
from ..services.users import actor_for_token
from ..services.users import sign_out as revoke_session
from ..settings import get_settings
from ..test_gates import wait_at_async

PAGE_LOAD_GATE = "page-load"  # test gate: holds every page's on_load (see page_load_events)

SESSION_COOKIE = "profile_ui_session"
SIGN_IN_PATH = "/auth/session"  # web/auth_session.py
SIGN_OUT_PATH = "/auth/sign-out"


@dataclasses.dataclass
class NotificationItem:
    """One row of the bell's list, as the browser sees it."""

    id: int
    title: str
    body: str
    link: str
    created: str
    unread: bool


def _notification_items(rows: list[Any]) -> list[NotificationItem]:
    return [
        NotificationItem(
            id=row.id,
            title=row.title,
            body=row.body or "",
            link=row.link or "",
            created=row.created_at.strftime("%Y-%m-%d %H:%M UTC"),
            unread=row.read_at is None,
        )
        for row in rows
    ]


@dataclasses.dataclass(frozen=True)
class Bell:
    """The bell as read in a thread (`read_bell`), for a background event to show under its lock."""

    items: list[NotificationItem]
    unread: int


def read_bell(actor: Actor) -> Bell:
    """The actor's notifications (it queries the database: background events call it with
    `in_thread`, outside `async with self`, and show it with `_show_bell`)."""
    with session_scope() as session:
        rows, unread = notify.list_notifications(session=session, actor=actor)
        return Bell(_notification_items(rows), unread)


def actor_for_session(token: str) -> Actor | None:
    """The actor behind a session token, None when it signs no one in. It queries the
    database: background events read the token under their lock (`self._current_token()`)
    and call this with `in_thread` outside it."""
    try:
        with session_scope() as session:
            return actor_for_token(session=session, token=token)
    except NotSignedIn:
        return None


def bell_for_session(token: str) -> Bell | None:
    """The bell of the actor behind a session token, None when it signs no one in (it
    queries the database: call it with `in_thread`)."""
    actor = actor_for_session(token)
    return None if actor is None else read_bell(actor)


_pool: tuple[int, ThreadPoolExecutor] | None = None
_pool_lock = threading.Lock()


def _event_pool() -> ThreadPoolExecutor:
    """This process's event threads (made on first use: a backend worker forked from a
    parent that had made them would inherit a pool whose threads it does not have)."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool[0] != os.getpid():
            _pool = (os.getpid(), ThreadPoolExecutor(max_workers=EVENT_THREADS, thread_name_prefix="event"))
        return _pool[1]


async def in_thread(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """`fn(*args, **kwargs)` in an event thread, with this task's context variables (Reflex's
    event context among them); the loop serves other events meanwhile.

    Cancelled (a superseded or dropped event) while the thread runs, it still waits for the
    thread to end before the cancellation goes on: the thread may be changing the tab's
    state, which must not outlive the event's hold on it."""
    context = contextvars.copy_context()
    running = _event_pool().submit(context.run, fn, *args, **kwargs)
    done = asyncio.wrap_future(running)
    try:
        return await asyncio.shield(done)
    except asyncio.CancelledError:
        if not running.cancel():  # already started: let it finish first
            while not done.done():
                try:
                    await asyncio.wait([done])
                except asyncio.CancelledError:
                    continue
            if not done.cancelled():
                done.exception()  # retrieved: the cancellation is what the caller gets
        raise


def guarded(handler: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap an AppState event handler: NotSignedIn -> sign-in page; PermissionDenied -> toast."""

    def on_refusal(state: "AppState", exc: PermissionDenied) -> Any:
        if isinstance(exc, NotSignedIn):
            had_session = bool(state._current_token())
            state._forget_user()
            # the browser keeps the dead cookie (only the server can clear an HttpOnly
            # cookie); it signs no one in, and the next sign-in replaces it
            events: list[Any] = [rx.redirect(routes.LOGIN, replace=True)]
            if had_session:  # an expired or revoked session, not a first visit
                events.append(rx.toast.info(str(exc)))
            return events
        return rx.toast.error(str(exc))

    def reload_if_restored(state: "AppState", result: Any) -> Any:
        # the tab's state was lost and its session restored from the cookie: the page's
        # data went with the state, so load the page again (once: the reload hydrates)
        app_state = state._app_state()
        if not app_state._session_restored:
            return result
        app_state._session_restored = False
        return rx.call_script("window.location.reload()")

    if inspect.iscoroutinefunction(handler):

        @functools.wraps(handler)
        async def run_async(self: "AppState", *args: Any, **kwargs: Any) -> Any:
            try:
                return reload_if_restored(self, await handler(self, *args, **kwargs))
            except PermissionDenied as exc:
                return on_refusal(self, exc)

        return run_async

    def run(self: "AppState", *args: Any, **kwargs: Any) -> Any:
        try:
            return reload_if_restored(self, handler(self, *args, **kwargs))
        except PermissionDenied as exc:
            return on_refusal(self, exc)

    if inspect.isgeneratorfunction(handler):
        # its body runs as Reflex iterates it, on the loop: it cannot move to a thread
        return functools.wraps(handler)(run)

    return off_the_loop(run, like=handler)


def off_the_loop(handler: Callable[..., Any], *, like: Callable[..., Any] | None = None) -> Callable[..., Any]:
    """A synchronous event handler as an async one that runs it in an event thread (see the
    module docstring). `like`: the function whose name and signature Reflex should see
    (it parses an event's arguments by the handler's parameters and annotations)."""

    @functools.wraps(like or handler)
    async def run_in_thread(self: "AppState", *args: Any, **kwargs: Any) -> Any:
        return await in_thread(handler, self, *args, **kwargs)

    return run_in_thread


class AppState(rx.State):
    """Shared by every page; page substates subclass it."""

    # what the UI shows about the signed-in user (never used to decide anything)
    user_email: str = ""
    user_role: str = ""
    permissions: list[str] = []
    allowed_routes: list[str] = []

    # the route whose permission check passed in this tab, or was refused; a page's
    # content renders only when its own route passed (see components/shell.py)
    page_ok: str = ""
    page_refused: str = ""

    notifications: list[NotificationItem] = []
    unread_count: int = 0
    # a digest of the session token this tab's state last resolved (server-side only; the
    # token itself is kept nowhere but the cookie), and whether it changed outside a page
    # load: the state was lost (a Redis restart, its state expired) while the page stayed open
    _seen_session: str = ""
    _session_restored: bool = False

    # ------------------------------------------------------------ the actor
    def _current_token(self) -> str:
        """The session cookie the browser sent when this tab's websocket connected ("" if
        none). The server looks it up each time: a revoked or expired token signs no one in."""
        if not self.router:
            return ""
        header = self.router.headers.cookie
        if not header:
            return ""
        try:
            jar = SimpleCookie(header)
        except CookieError:
            return ""
        return jar[SESSION_COOKIE].value if SESSION_COOKIE in jar else ""

    def _require_actor(self) -> Actor:
        """The actor behind this browser's session token, looked up now; NotSignedIn if none."""
        token = self._current_token()
        with session_scope() as session:
            actor = actor_for_token(session=session, token=token)
        app_state = self._app_state()
        seen = hashlib.sha256(token.encode()).hexdigest()
        if seen != app_state._seen_session:
            # a state that knew no session (or another one) while the page was open: the
            # page's data went with it, so guarded reloads the page; a page load, which
            # loads its data anyway, clears this (_enter_page)
            app_state._session_restored = True
            app_state._seen_session = seen
        self._show_actor(actor)
        return actor

    def _actor_or_none(self) -> Actor | None:
        """None when not signed in, for handlers that do not redirect. It queries the
        database: a handler running in an event thread only (a background event calls
        `actor_for_session` with `in_thread`, outside `async with self`)."""
        return actor_for_session(self._current_token())

    async def _background_actor(self) -> Actor | None:
        """For a background event, outside `async with self`: the actor behind this tab's
        session token (None when not signed in), looked up in an event thread; the state
        is locked only to read the token."""
        async with self:
            token = self._current_token()
        return await in_thread(actor_for_session, token)

    def _show_actor(self, actor: Actor) -> None:
        self.user_email = actor.email
        self.user_role = actor.role
        self.permissions = sorted(actor.permissions)
        self.allowed_routes = [route for route in routes.PAGE_PERMISSIONS if routes.may_open(route, actor.permissions)]

    def _app_state(self) -> "AppState":
        state: Any = self
        while type(state) is not AppState:
            state = state.parent_state
        return state

    def _forget_user(self) -> None:
        """Drop everything this tab knew about the user (and every page's loaded data)."""
        self._app_state().reset()

    def _enter_page(self, route: str) -> Actor | None:
        """The permission check of a page's on_load: the actor when `route` may be opened,
        else None (the page then shows "not allowed"). NotSignedIn propagates."""
        actor = self._require_actor()
        self._app_state()._session_restored = False  # this page load brings the page's data
        if not routes.may_open(route, actor.permissions):
            self.page_ok, self.page_refused = "", route
            return None
        self.page_ok, self.page_refused = route, ""
        self._load_notifications(actor)
        return actor

    # ------------------------------------------------------------ the bell
    def _load_notifications(self, actor: Actor) -> None:
        self._show_bell(read_bell(actor))

    def _show_bell(self, bell: Bell) -> None:
        self.notifications = list(bell.items)
        self.unread_count = bell.unread

    @rx.event
    @guarded
    def refresh_notifications(self) -> None:
        self._load_notifications(self._require_actor())

    @rx.event
    @guarded
    def toggle_bell(self, is_open: bool) -> None:
        if is_open:
            self._load_notifications(self._require_actor())

    @rx.event
    @guarded
    def mark_read(self, notification_id: int) -> Any:
        """Mark one of the signed-in user's notifications read (another user's: nothing
        happens, the service only touches the actor's own rows) and follow its link."""
        actor = self._require_actor()
        wanted = int(notification_id)
        with session_scope() as session:
            notify.mark_read(session=session, actor=actor, notification_id=wanted)
        self._load_notifications(actor)
        link = next((n.link for n in self.notifications if n.id == wanted), "")
        # only links inside the app: a notification must never send the user elsewhere
        if link.startswith("/") and not link.startswith("//"):
            if link.endswith("/download"):  # a file the backend serves, not a page: load it
                return rx.call_script(f"window.location.assign({json.dumps(link)})")
            return rx.redirect(link)
        return None

    @rx.event
    @guarded
    def mark_all_read(self) -> None:
        actor = self._require_actor()
        with session_scope() as session:
            notify.mark_read(session=session, actor=actor)
        self._load_notifications(actor)

    # ------------------------------------------------------------ page load (test gate)
    @rx.event
    async def hold_page_load(self) -> None:
        """Test environment only (see page_load_events): wait while the test gate
        "page-load" is armed, so a browser test can act while a page's on_load has not run."""
        await wait_at_async(PAGE_LOAD_GATE)

    # ------------------------------------------------------------ sign-out
    @rx.event
    @off_the_loop
    def sign_out(self) -> Any:
        """Revoke the server session of the token this tab holds (whoever it belongs to:
        a stolen token is ended, not used), forget the user, go to the sign-in page."""
        with session_scope() as session:
            revoke_session(session=session, token=self._current_token() or None)
        self._forget_user()
        # the server clears the HttpOnly cookie (and revokes again, should this tab's
        # socket have carried an older cookie than the browser holds now)
        return post_form(SIGN_OUT_PATH, {})


def post_form(action: str, fields: dict[str, str]) -> Any:
    """An event that makes the page submit a POST form to `action` (a backend path on the
    app's own origin) with `fields`: a full page load, as setting or clearing the HttpOnly
    session cookie needs (web/auth_session.py). Values are JSON-quoted into the script."""
    return rx.call_script(
        "(() => {"
        "const form = document.createElement('form');"
        f"form.method = 'post'; form.action = {json.dumps(action)}; form.hidden = true;"
        f"for (const [name, value] of Object.entries({json.dumps(fields)})) {{"
        "const input = document.createElement('input');"
        "input.type = 'hidden'; input.name = name; input.value = value; form.appendChild(input);"
        "}"
        "document.body.appendChild(form); form.submit();"
        "})()"
    )


def page_load_events(on_load: Any) -> list[Any]:
    """A page's on_load chain as add_page takes it. Until the whole chain has run, Reflex's
    `is_hydrated` is false and components/shell.py keeps the page's controls disabled, so
    nothing a person types can be overwritten by the data the on_load brings. With
    ENVIRONMENT=test the chain starts with `hold_page_load`, a test gate."""
    events = list(on_load) if isinstance(on_load, list | tuple) else [on_load]
    if get_settings().environment == "test":
        events.insert(0, AppState.hold_page_load)
    return events
