"""characters: subjects taken from their owners' uploads, used in prompts as @name, shared by their owners

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "characters",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("owner_id", sa.String(64), index=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("handle", sa.String(64), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("upload_key", sa.String(300), nullable=False),
        sa.Column("reference_key", sa.String(300), nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("input_consent", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("sharing", sa.String(16), nullable=False, server_default="private"),
        sa.Column("shared_with", sa.Text),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("characters")
