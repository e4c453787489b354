"""A table's name for screen readers and tests: a visually hidden <caption> (Radix's
Table.Root puts aria-label on its wrapper <div>, not on the <table>)."""

from __future__ import annotations

import reflex as rx

VISUALLY_HIDDEN = {
    "position": "absolute",
    "width": "1px",
    "height": "1px",
    "overflow": "hidden",
    "clip": "rect(0 0 0 0)",
}


def hidden_caption(text: str) -> rx.Component:
    return rx.el.caption(text, style=VISUALLY_HIDDEN)
