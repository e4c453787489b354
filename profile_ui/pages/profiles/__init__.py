"""The profile pages: the list (/profiles), create (/profiles/new) and User 360
(/profiles/[profile_id]), each a module with its state beside it."""

from . import create as create_page
from . import detail as detail_page
from . import list as list_page
from .create import ProfileCreateState
from .detail_state import ProfileDetailState
from .list import TITLE
from .list_state import ProfilesListState
from .merge_state import UnmergeState

__all__ = [
    "TITLE",
    "ProfileCreateState",
    "ProfileDetailState",
    "ProfilesListState",
    "UnmergeState",
    "create_page",
    "detail_page",
    "list_page",
]
