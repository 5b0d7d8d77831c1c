"""video warnings: what the API said about a request it still made, e.g. words the model never saw in training

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("videos") as b:
        b.add_column(sa.Column("warnings", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("videos") as b:
        b.drop_column("warnings")
