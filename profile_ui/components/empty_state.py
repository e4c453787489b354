"""Empty states: what a list shows instead of an empty table, and an honest one for
pages whose feature another issue builds."""

from __future__ import annotations

import reflex as rx


def no_rows(text: str) -> rx.Component:
    """What a list shows instead of an empty table."""
    return rx.center(rx.text(text, color_scheme="gray"), padding="2em", width="100%")


def coming_soon(what: str, icon: str = "inbox") -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.icon(icon, size=40, color=rx.color("gray", 9), aria_hidden="true"),
            rx.text(f"Coming soon: {what}", size="4", weight="medium"),
            rx.text("This part of Profile UI is not built yet.", color_scheme="gray"),
            align="center",
            spacing="3",
        ),
        padding="4em",
        border=f"1px dashed {rx.color('gray', 6)}",
        border_radius="12px",
        width="100%",
    )
