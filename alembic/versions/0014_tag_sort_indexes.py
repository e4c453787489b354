"""The indexes the list's sort by a tag column walks: on profile_tags and profiles

The list sorts by a tag column ("tag:<id>") by the tag's value
(services/profiles/tag_sort.py). The sort reads the tag value table itself, so no key is
stored and no writer of tag values (imports and their undo, batch tag, User 360, merges
and unmerges, the seed) keeps one: a sorted page walks ix_profile_tags_sort on (tag_id,
value, profile_id) for the tag, in (value, profile id) order, and tests each row with a
probe of ix_profile_tags_export (is it the profile's first value of the tag?).

The profiles without the tag come after the others, in id order: ix_profiles_status_id on
profiles (status, id) gives a status's profiles in that order, so that stretch is read
only as far as a page needs (without it SQLite reads every profile of the status from an
index led by status and sorts them: 120 ms at 200,000 profiles).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 21:00:00
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_profile_tags_sort", "profile_tags", ["tag_id", "value", "profile_id"])
    op.create_index("ix_profiles_status_id", "profiles", ["status", "id"])


def downgrade() -> None:
    op.drop_index("ix_profiles_status_id", table_name="profiles")
    op.drop_index("ix_profile_tags_sort", table_name="profile_tags")
