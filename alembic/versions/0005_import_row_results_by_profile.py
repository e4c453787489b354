"""import row results by profile: a profile's imports in its User 360 history

The User 360 history lists what each import did to the person (row results joined to
their job), and purge and GDPR erasure blank the values of a profile's row results. Both
look rows up by profile_id, which had no index: each read the whole table (50,000 rows an
import).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 15:15:00
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("import_row_results", schema=None) as batch_op:
        batch_op.create_index("ix_import_row_results_profile", ["profile_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("import_row_results", schema=None) as batch_op:
        batch_op.drop_index("ix_import_row_results_profile")
