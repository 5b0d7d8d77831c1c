"""engine speeds: each engine's measured seconds per denoising step of one 64x64 frame, for time estimates

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "engine_speeds",
        sa.Column("engine", sa.String(200), primary_key=True),
        sa.Column("seconds_per_step_frame", sa.Float, nullable=False),
        sa.Column("jobs", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("engine_speeds")
