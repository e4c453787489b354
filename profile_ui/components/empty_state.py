"""An honest empty state for pages whose feature another issue builds."""

from __future__ import annotations

import reflex as rx


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
