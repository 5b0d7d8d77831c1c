"""account webhooks: each account's own endpoint and signing secret; deliveries name their account

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as b:
        b.add_column(sa.Column("webhook_url", sa.Text))
        b.add_column(sa.Column("webhook_secret", sa.String(100)))
    with op.batch_alter_table("webhook_deliveries") as b:
        b.add_column(sa.Column("owner_id", sa.String(64)))


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as b:
        b.drop_column("owner_id")
    with op.batch_alter_table("users") as b:
        b.drop_column("webhook_secret")
        b.drop_column("webhook_url")
