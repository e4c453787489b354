"""sign-in throttle: attempts per e-mail and client address; account locks an admin lifts

Failed sign-ins were counted per e-mail from anywhere, so anyone could keep any account
locked. Attempts now record the client address (throttled per e-mail + address with
growing delays), and users get locked_at / unlocked_at for the lock that failures from
many addresses set, lifted by the right password from a known address or by an admin.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 15:00:00
"""

import sqlalchemy as sa
import sqlmodel

from alembic import op
from profile_ui.models.base import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("client", sqlmodel.sql.sqltypes.AutoString(length=64), server_default="", nullable=False)
        )
        batch_op.create_index("ix_login_attempts_email_client_at", ["email", "client", "at"], unique=False)
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locked_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("unlocked_at", UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("unlocked_at")
        batch_op.drop_column("locked_at")
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_login_attempts_email_client_at")
        batch_op.drop_column("client")
