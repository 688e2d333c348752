"""Stored preference tags: one fit per (experiment, round) and the tags it gave.

Revision ID: e0002
Revises: e0001
"""
import sqlalchemy as sa
from alembic import op

revision = "e0002"
down_revision = "e0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exp_tag_fits",
        sa.Column("experiment_id", sa.String(64), primary_key=True),
        sa.Column("round_no", sa.Integer, primary_key=True),
        sa.Column("null_share", sa.Float, nullable=False),
        sa.Column("prior_mean", sa.Float, nullable=False),
        sa.Column("prior_sd", sa.Float, nullable=False),
        sa.Column("users_considered", sa.Integer, nullable=False),
        sa.Column("cells_considered", sa.Integer, nullable=False),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "exp_user_tags",
        sa.Column("experiment_id", sa.String(64), primary_key=True),
        sa.Column("round_no", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.String(200), primary_key=True),
        sa.Column("attribute", sa.String(100), primary_key=True),
        sa.Column("value", sa.String(200), primary_key=True),
        sa.Column("probability", sa.Float, nullable=False),
        sa.Column("lift", sa.Float, nullable=False),
        sa.Column("impressions", sa.BigInteger, nullable=False),
        sa.Column("clicks", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("exp_user_tags")
    op.drop_table("exp_tag_fits")
