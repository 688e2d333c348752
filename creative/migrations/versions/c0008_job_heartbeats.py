"""Job heartbeats: which server process holds a job, and when it last said it was alive.

A job whose process died (SIGKILL, a crash, a host gone) stayed "running" or "queued" for ever; any
worker can now tell such a job from a live one by its heartbeat and mark it failed with a reason.

Revision ID: c0008
Revises: c0007
"""
import sqlalchemy as sa
from alembic import op

revision = "c0008"
down_revision = "c0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("web_jobs") as batch:
        batch.add_column(sa.Column("runner_id", sa.String(32)))
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("web_jobs") as batch:
        for name in ("heartbeat_at", "runner_id"):
            batch.drop_column(name)
