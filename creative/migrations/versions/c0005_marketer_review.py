"""Job timing (so any worker process can tell a job's time so far and left) and reviewers' banner decisions.

web_jobs gets when it started and its current phase (name, start, steps done at its start);
creative_reviews keeps a person's approve/reject of each composed banner, apart from the registry
rows, which a new composition of the same banner replaces.

Revision ID: c0005
Revises: c0004
"""
import sqlalchemy as sa
from alembic import op

revision = "c0005"
down_revision = "c0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("web_jobs") as batch:
        batch.add_column(sa.Column("started_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("phase", sa.String(100)))
        batch.add_column(sa.Column("phase_started_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("phase_done", sa.Integer, nullable=False, server_default=sa.text("0")))
    op.create_table(
        "creative_reviews",
        sa.Column("creative_id", sa.String(200), primary_key=True),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("reviewer", sa.String(100), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("creative_reviews")
    with op.batch_alter_table("web_jobs") as batch:
        for name in ("phase_done", "phase_started_at", "phase", "started_at"):
            batch.drop_column(name)
