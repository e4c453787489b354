"""/imports/new lives in pages/imports/wizard/; this name stays for the app and the
hand-crafted request tests."""

from .imports.upload_feedback import UPLOAD_ID
from .imports.wizard.page import TITLE, page
from .imports.wizard.state import ImportUploadState

__all__ = ["TITLE", "UPLOAD_ID", "ImportUploadState", "page"]
