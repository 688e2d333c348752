"""Creatives become the registry: their offer, notes and files get columns of their own.

Revision ID: c0003
Revises: c0002
"""
import sqlalchemy as sa
from alembic import op

revision = "c0003"
down_revision = "c0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("creatives") as batch:
        batch.add_column(sa.Column("offer_id", sa.String(100)))
        batch.add_column(sa.Column("warnings", sa.JSON, nullable=False, server_default="[]"))
        batch.add_column(sa.Column("violations", sa.JSON, nullable=False, server_default="[]"))
        batch.add_column(sa.Column("files", sa.JSON, nullable=False, server_default="{}"))
        batch.create_index("ix_creatives_offer_id", ["offer_id"])
    # schema 1 kept the offer among the element slots
    creatives = sa.table("creatives", sa.column("creative_id", sa.String), sa.column("elements", sa.JSON), sa.column("offer_id", sa.String))
    conn = op.get_bind()
    for cid, elements in conn.execute(sa.select(creatives.c.creative_id, creatives.c.elements)).all():
        if isinstance(elements, dict) and elements.get("offer"):
            rest = {k: v for k, v in elements.items() if k != "offer"}
            conn.execute(creatives.update().where(creatives.c.creative_id == cid).values(offer_id=elements["offer"], elements=rest))
    with op.batch_alter_table("creatives") as batch:
        batch.alter_column("warnings", server_default=None)
        batch.alter_column("violations", server_default=None)
        batch.alter_column("files", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("creatives") as batch:
        batch.drop_index("ix_creatives_offer_id")
        for name in ("files", "violations", "warnings", "offer_id"):
            batch.drop_column(name)
