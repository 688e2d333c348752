"""Events keep their round of service and a holdout mark; late impressions are counted per round of service.

Revision ID: e0004
Revises: e0003
"""
import sqlalchemy as sa
from alembic import op

revision = "e0004"
down_revision = "e0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("exp_events", sa.Column("served_round", sa.Integer))
    op.add_column("exp_events", sa.Column("holdout", sa.Boolean))
    op.create_table(
        "exp_late_stats",
        sa.Column("experiment_id", sa.String(64), primary_key=True),
        sa.Column("round_no", sa.Integer, primary_key=True),
        sa.Column("served_round", sa.Integer, primary_key=True),
        sa.Column("creative_id", sa.String(200), primary_key=True),
        sa.Column("impressions", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("exp_late_stats")
    with op.batch_alter_table("exp_events") as batch:
        batch.drop_column("holdout")
        batch.drop_column("served_round")
