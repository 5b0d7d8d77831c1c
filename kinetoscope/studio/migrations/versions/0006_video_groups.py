"""video groups: the variations one create request made (n > 1) share a group id

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("videos") as b:
        b.add_column(sa.Column("group_id", sa.String(64)))
        b.create_index("ix_videos_group_id", ["group_id"])


def downgrade() -> None:
    with op.batch_alter_table("videos") as b:
        b.drop_index("ix_videos_group_id")
        b.drop_column("group_id")
