"""/login: e-mail + password; wrong credentials and lockouts show the service's message.

A right password gets a one-time sign-in code (services/users.start_sign_in), which the
page posts to POST /auth/session: the server answers with the HttpOnly session cookie
and sends the browser on to its first page (web/auth_session.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import reflex as rx

from .. import routes
from ..db import session_scope
from ..services.permissions import Actor, NotSignedIn
from ..services.users import SignInError, start_sign_in
from ..state.base import SIGN_IN_PATH, AppState, off_the_loop, post_form


class LoginState(AppState):
    error: str = ""

    @rx.event
    @off_the_loop
    def on_load(self) -> Any:
        """A tab that is still signed in goes straight to its first page."""
        try:
            actor = self._require_actor()
            self._app_state()._session_restored = False  # a page load
        except NotSignedIn:
            # Keep the message of a sign-in that ran before this event: Enter pressed (or a
            # password manager submitting) while the page was still loading is handled
            # first, and forgetting the tab's state would wipe "Wrong e-mail or password."
            # A successful sign-in and signing out clear it.
            error = self.error
            self._forget_user()
            self.error = error
            return None
        return rx.redirect(routes.first_allowed_page(actor.permissions), replace=True)

    @rx.event
    async def submit(self, form_data: dict[str, Any]) -> Any:
        email = str(form_data.get("email") or "")
        password = str(form_data.get("password") or "")
        # the address the socket came from (X-Forwarded-For only through
        # TRUSTED_PROXY_HOPS proxies): guessing is slowed per e-mail and address
        client = self.router.session.client_ip
        try:
            code, actor = await asyncio.to_thread(_start_sign_in, email, password, client)
        except SignInError as exc:
            self.error = str(exc)
            return None
        self.error = ""
        return post_form(SIGN_IN_PATH, {"code": code, "next": routes.first_allowed_page(actor.permissions)})


def _start_sign_in(email: str, password: str, client: str) -> tuple[str, Actor]:
    """Off the event loop: checking the password (Argon2) takes a good part of a core-second,
    during which the worker's other tabs would wait (the load bench's sign-in storm of 100
    marketers timed websocket connections out); Argon2 releases the GIL."""
    with session_scope() as session:
        return start_sign_in(session=session, email=email, password=password, client=client)


def _field(label: str, name: str, **props: Any) -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=name, style={"fontWeight": 500, "fontSize": "14px"}),
        rx.input(id=name, name=name, required=True, size="3", width="100%", **props),
        spacing="1",
        width="100%",
    )


def page() -> rx.Component:
    return rx.center(
        rx.card(
            rx.form(
                rx.vstack(
                    rx.heading("Sign in to Profile UI", size="6", as_="h1"),
                    rx.cond(
                        LoginState.error != "",
                        rx.callout(
                            LoginState.error, icon="triangle_alert", color_scheme="red", role="alert", width="100%"
                        ),
                    ),
                    _field("E-mail", "email", type="email", auto_complete="username", auto_focus=True),
                    _field("Password", "password", type="password", auto_complete="current-password"),
                    rx.button("Sign in", type="submit", size="3", width="100%"),
                    spacing="4",
                    width="100%",
                ),
                on_submit=LoginState.submit,
                reset_on_submit=False,
                aria_label="Sign in",
            ),
            width="380px",
            padding="2em",
        ),
        min_height="100vh",
        background=rx.color("gray", 2),
    )
