"""Arms keep what the experiment learns on; the creative's file and elements live in the creatives registry.

Revision ID: e0003
Revises: e0002
"""
import sqlalchemy as sa
from alembic import op

revision = "e0003"
down_revision = "e0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("exp_arms") as batch:
        batch.drop_column("file")
        batch.drop_column("elements")


def downgrade() -> None:
    with op.batch_alter_table("exp_arms") as batch:
        batch.add_column(sa.Column("file", sa.String(1000)))
        batch.add_column(sa.Column("elements", sa.JSON, nullable=False, server_default="{}"))
