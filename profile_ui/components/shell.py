"""The page shell: sidebar, header (title, bell, signed-in user, sign-out) and the gate
that renders a page's content only after its on_load has checked the permission.

    def page() -> rx.Component:
        return shell(content, route=routes.TAGS, title="Tags")
"""

from __future__ import annotations

import reflex as rx

from .. import routes
from ..state.base import AppState, NotificationItem

SIDEBAR_WIDTH = "220px"


def visually_hidden(text: str) -> rx.Component:
    """Text for screen readers only."""
    return rx.el.span(
        text,
        style={
            "position": "absolute",
            "width": "1px",
            "height": "1px",
            "overflow": "hidden",
            "clip": "rect(0 0 0 0)",
            "whiteSpace": "nowrap",
            "margin": "-1px",
            "padding": 0,
            "border": 0,
        },
    )


def _nav_link(label: str, route: str, icon: str, current: str) -> rx.Component:
    is_current = current == route or current.startswith(route + "/")
    return rx.cond(
        AppState.allowed_routes.contains(route),
        rx.el.li(
            rx.link(
                rx.hstack(rx.icon(icon, size=18, aria_hidden="true"), rx.text(label), align="center", spacing="3"),
                href=route,
                aria_current="page" if is_current else None,
                underline="none",
                color_scheme="indigo" if is_current else "gray",
                high_contrast=not is_current,
                weight="medium" if is_current else "regular",
                padding="0.5em 0.75em",
                border_radius="8px",
                background=rx.color("indigo", 3) if is_current else "transparent",
                display="block",
                _hover={"background": rx.color("gray", 3)},
            ),
            list_style="none",
        ),
    )


def sidebar(current: str) -> rx.Component:
    return rx.box(
        # the app's name is a link home, not a heading: each page has one h1, its title
        rx.link(
            rx.text("Profile UI", size="5", weight="bold"),
            href=routes.INDEX,
            underline="none",
            high_contrast=True,
            padding="0.25em 0.75em 1em",
        ),
        rx.el.nav(
            rx.el.ul(
                *[_nav_link(label, route, icon, current) for label, route, icon in routes.NAVIGATION],
                style={"padding": 0, "margin": 0, "display": "flex", "flexDirection": "column", "gap": "2px"},
            ),
            aria_label="Main navigation",
        ),
        width=SIDEBAR_WIDTH,
        min_width=SIDEBAR_WIDTH,
        min_height="100vh",
        padding="1em 0.75em",
        border_right=f"1px solid {rx.color('gray', 5)}",
        background=rx.color("gray", 2),
    )


def _notification_row(item: NotificationItem) -> rx.Component:
    return rx.el.li(
        rx.button(
            rx.vstack(
                rx.hstack(
                    rx.cond(
                        item.unread,
                        rx.box(
                            width="8px",
                            height="8px",
                            border_radius="50%",
                            background=rx.color("indigo", 9),
                            role="img",
                            aria_label="unread",
                        ),
                    ),
                    rx.text(item.title, weight=rx.cond(item.unread, "bold", "regular"), size="2"),
                    align="center",
                    spacing="2",
                ),
                rx.cond(item.body != "", rx.text(item.body, size="1", color_scheme="gray")),
                rx.text(item.created, size="1", color_scheme="gray"),
                align="start",
                spacing="1",
            ),
            on_click=AppState.mark_read(item.id),
            variant="ghost",
            width="100%",
            height="auto",
            padding="0.5em",
            justify="start",
            text_align="left",
        ),
        list_style="none",
    )


def notifications_bell() -> rx.Component:
    # the trigger is the button itself (a trigger wrapping a <div> put aria-expanded on it);
    # the unread count badge sits beside it, hidden from screen readers (the name says it)
    return rx.box(
        rx.popover.root(
            rx.popover.trigger(
                rx.icon_button(
                    rx.icon("bell", size=18, aria_hidden="true"),
                    variant="ghost",
                    size="3",
                    aria_label=rx.cond(
                        AppState.unread_count > 0,
                        f"Notifications ({AppState.unread_count} unread)",
                        "Notifications",
                    ),
                ),
            ),
            rx.popover.content(
                rx.vstack(
                    rx.hstack(
                        rx.heading("Notifications", size="3", as_="h2"),
                        rx.spacer(),
                        rx.button(
                            "Mark all read",
                            size="1",
                            variant="soft",
                            on_click=AppState.mark_all_read,
                            disabled=AppState.unread_count == 0,
                        ),
                        width="100%",
                        align="center",
                    ),
                    rx.cond(
                        AppState.notifications.length() > 0,
                        rx.el.ul(
                            rx.foreach(AppState.notifications, _notification_row),
                            style={
                                "padding": 0,
                                "margin": 0,
                                "width": "100%",
                                "maxHeight": "360px",
                                "overflowY": "auto",
                            },
                        ),
                        rx.text("No notifications yet.", color_scheme="gray", size="2"),
                    ),
                    width="320px",
                    spacing="3",
                ),
                aria_label="Notifications",
            ),
            on_open_change=AppState.toggle_bell,
        ),
        rx.cond(
            AppState.unread_count > 0,
            rx.badge(
                AppState.unread_count,
                color_scheme="red",
                variant="solid",
                high_contrast=True,
                radius="full",
                position="absolute",
                top="-4px",
                right="-6px",
                aria_hidden="true",
                pointer_events="none",
            ),
        ),
        position="relative",
    )


def header(title: str) -> rx.Component:
    return rx.el.header(
        rx.hstack(
            rx.heading(title, size="6", as_="h1"),
            rx.spacer(),
            notifications_bell(),
            rx.cond(
                AppState.user_email != "",
                rx.hstack(
                    rx.text(visually_hidden("Signed in as "), AppState.user_email, size="2", weight="medium"),
                    rx.badge(AppState.user_role, variant="soft"),
                    align="center",
                    spacing="2",
                ),
            ),
            rx.button(
                rx.icon("log_out", size=16, aria_hidden="true"),
                "Sign out",
                on_click=AppState.sign_out,
                variant="soft",
                color_scheme="gray",
            ),
            align="center",
            spacing="4",
            width="100%",
        ),
        style={"padding": "0.75em 1.5em", "borderBottom": f"1px solid {rx.color('gray', 5)}"},
    )


def not_allowed(title: str) -> rx.Component:
    return rx.callout(
        rx.vstack(
            rx.text(f"You don't have access to {title}.", weight="bold"),
            rx.text("Ask an administrator if you need it."),
            rx.link("Go to the start page", href=routes.INDEX),
            spacing="1",
        ),
        icon="shield_alert",
        color_scheme="red",
        role="alert",
    )


def _checking() -> rx.Component:
    return rx.center(rx.spinner(size="3"), padding="4em", aria_busy="true", aria_label="Loading")


def ready_after_load(content: rx.Component) -> rx.Component:
    """Every control inside stays disabled until this visit's on_load chain has run.

    On a navigation the browser still holds the page's state from an earlier visit, and
    shows it at once; the on_load then brings fresh data (and may re-key a form), which
    would wipe what was typed meanwhile. Reflex's `is_hydrated` is false from the start of
    a navigation (or a reload) until the last on_load handler has returned, so a disabled
    fieldset (it disables every input, select and button inside, natively) means nothing
    can be typed that an on_load could overwrite.
    """
    loading = ~rx.State.is_hydrated
    return rx.el.fieldset(
        content, disabled=loading, aria_busy=loading, style={"border": 0, "padding": 0, "margin": 0, "minWidth": 0}
    )


def shell(content: rx.Component, *, route: str, title: str) -> rx.Component:
    """Wrap a page; `content` renders only once this tab's check of `route` has passed,
    and its controls work once the page's on_load has run (see ready_after_load)."""
    return rx.hstack(
        sidebar(route),
        rx.box(
            header(title),
            rx.el.main(
                rx.cond(
                    AppState.page_ok == route,
                    ready_after_load(content),
                    rx.cond(AppState.page_refused == route, not_allowed(title), _checking()),
                ),
                id="main",
                style={"padding": "1.5em"},
            ),
            flex="1",
            min_width="0",
        ),
        spacing="0",
        align="start",
        width="100%",
    )
