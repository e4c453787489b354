"""All tables; importing this package registers them on SQLModel.metadata."""

from .audit import AuditEvent
from .base import UTCDateTime, utcnow
from .duplicate import DUPLICATE_STATUSES, DedupeKey, DuplicateCandidate
from .export_job import ExportJob
from .field import FieldDefinition
from .identity import BUILTIN_IDENTITY_KINDS, Identity, IdentityKind, SyncRule
from .import_job import IMPORT_KINDS, ImportJob, ImportRowResult, MappingTemplate
from .membership import MEMBERSHIP_STATES, Group, GroupMembership
from .merge import MERGE_IMPORT, MERGE_MANUAL, MERGE_REVIEW, MERGE_SOURCES, ProfileMerge
from .notification import Notification
from .profile import (
    ATTRIBUTE_INDEX_PREFIX,
    PROFILE_STATUSES,
    STATUS_ACTIVE,
    STATUS_DEACTIVATED,
    STATUS_DELETED,
    AttributeProvenance,
    Consent,
    LinkedObject,
    Profile,
    fold_name,
    in_modelled_schema,
    with_folded_name,
)
from .segment import Segment, SegmentMember
from .tag import ProfileTag, Tag, TagGroup
from .user import LoginAttempt, Role, User, UserSession, ViewPreference
from .vocabulary import (
    CHOICE_TYPES,
    DEFAULT_IDENTIFIER_KINDS,
    EXPORT_STATUSES,
    FIELD_TYPES,
    IDENTITY_PREFIX,
    IMPORT_STATUSES,
    MERGE_POLICIES,
    OUTCOME_COUNTS,
    ROW_OUTCOMES,
    SYSTEM_COLUMNS,
    ExportStatus,
    FieldType,
    ImportStatus,
    MergePolicy,
    RowOutcome,
)

__all__ = [
    "AuditEvent",
    "UTCDateTime",
    "utcnow",
    "DUPLICATE_STATUSES",
    "DedupeKey",
    "DuplicateCandidate",
    "ExportJob",
    "FIELD_TYPES",
    "FieldDefinition",
    "BUILTIN_IDENTITY_KINDS",
    "Identity",
    "IdentityKind",
    "SyncRule",
    "IMPORT_KINDS",
    "IMPORT_STATUSES",
    "OUTCOME_COUNTS",
    "ROW_OUTCOMES",
    "ImportJob",
    "ImportRowResult",
    "MappingTemplate",
    "MERGE_IMPORT",
    "MERGE_MANUAL",
    "MERGE_REVIEW",
    "MERGE_SOURCES",
    "ProfileMerge",
    "MEMBERSHIP_STATES",
    "Group",
    "GroupMembership",
    "Notification",
    "PROFILE_STATUSES",
    "STATUS_ACTIVE",
    "STATUS_DEACTIVATED",
    "STATUS_DELETED",
    "AttributeProvenance",
    "Consent",
    "LinkedObject",
    "Profile",
    "fold_name",
    "with_folded_name",
    "ATTRIBUTE_INDEX_PREFIX",
    "in_modelled_schema",
    "Segment",
    "SegmentMember",
    "ProfileTag",
    "Tag",
    "TagGroup",
    "LoginAttempt",
    "Role",
    "User",
    "UserSession",
    "ViewPreference",
    "CHOICE_TYPES",
    "DEFAULT_IDENTIFIER_KINDS",
    "EXPORT_STATUSES",
    "IDENTITY_PREFIX",
    "MERGE_POLICIES",
    "SYSTEM_COLUMNS",
    "ExportStatus",
    "FieldType",
    "ImportStatus",
    "MergePolicy",
    "RowOutcome",
]
