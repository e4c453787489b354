"""Hand-made profiles: creating them, editing their attributes (with locks), their consent
and their identities. One module a job (`create`, `fields`, `identities`, and `common`
for what they share); the names below are re-exported for callers outside the package.

Values arrive as text (what a person typed) and are read by the import's own parser of
their field type (importing/field_values.py, run over one value), so "0912 345 678",
"31/12/1990" or "gold" mean the same in a form as in a spreadsheet, and a value refused
here is refused there with the same message. Problems come back together, one message
per field, in `ProfileValidationError.errors`:

    {"<field key>": "...", "identity:<kind>": "...", "consent:<channel>": "..."}

A value a person saves in an edit is LOCKED: its provenance says source "manual",
locked=True, and imports leave it alone (apply.py honours `locked`) until an admin
unlocks it. Identities are never edited as attributes: add or remove them instead.
"""

from .common import (
    CONTACT_KINDS,
    IDENTITY_VALUE_MAX,
    MANUAL_INITIAL_SOURCE,
    MANUAL_SOURCE,
    ProfileChanged,
    ProfileValidationError,
    parse_identity_value,
)
from .create import CreateResult, create_profile
from .fields import FieldEdit, locked_fields, set_consent, unlock_field, update_profile_fields
from .identities import add_identity, remove_identity

__all__ = [
    "CONTACT_KINDS",
    "IDENTITY_VALUE_MAX",
    "MANUAL_INITIAL_SOURCE",
    "MANUAL_SOURCE",
    "ProfileChanged",
    "ProfileValidationError",
    "parse_identity_value",
    "CreateResult",
    "create_profile",
    "FieldEdit",
    "locked_fields",
    "set_consent",
    "unlock_field",
    "update_profile_fields",
    "add_identity",
    "remove_identity",
]
