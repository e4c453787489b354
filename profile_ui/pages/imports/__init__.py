"""Import pages: the history (/imports), the wizard (/imports/new) and one import's
report with live progress (/imports/[import_id])."""

from . import detail, review, wizard
from .detail import ImportDetailState
from .history import TITLE, ImportsState, page

__all__ = ["TITLE", "ImportDetailState", "ImportsState", "detail", "page", "review", "wizard"]
