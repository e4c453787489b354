"""Server-side pages for a table state: the page, its size, the total, and the events of
components/pagination.py. A page state mixes it in before AppState and defines
`_show_page(actor)`, which reads the current page."""

from __future__ import annotations

from typing import Any

import reflex as rx

from .base import guarded

PAGE_SIZES = (25, 50, 100)
DEFAULT_PAGE_SIZE = 50


class PagedMixin(rx.State, mixin=True):
    total: int = 0
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE

    @rx.var
    def pages(self) -> int:
        return max(1, -(-self.total // max(self.page_size, 1)))

    def _show_page(self, actor: Any) -> None:
        raise NotImplementedError

    @rx.event
    @guarded
    def go_to_page(self, page: int) -> None:
        actor = self._require_actor()  # type: ignore[attr-defined]  # mixin: AppState provides it
        self.page = min(max(int(page), 1), self.pages)
        self._show_page(actor)

    @rx.event
    @guarded
    def set_page_size(self, size: str) -> None:
        actor = self._require_actor()  # type: ignore[attr-defined]  # mixin: AppState provides it
        value = int(size) if str(size).isdigit() else DEFAULT_PAGE_SIZE
        self.page_size = value if value in PAGE_SIZES else DEFAULT_PAGE_SIZE
        self.page = 1
        self._show_page(actor)
