"""/imports/new lives in pages/imports/wizard.py; this name stays for the app and the
hand-crafted request tests."""

from .imports.wizard import TITLE, UPLOAD_ID, page
from .imports.wizard_state import ImportUploadState

__all__ = ["TITLE", "UPLOAD_ID", "ImportUploadState", "page"]
