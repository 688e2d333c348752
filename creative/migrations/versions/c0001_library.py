"""Creative library: elements, products, creatives.

Revision ID: c0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "c0001"
down_revision = None
branch_labels = ("creative",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "elements",
        sa.Column("code", sa.String(24), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False, index=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("brand", sa.String(200)),
        sa.Column("width", sa.Integer),
        sa.Column("height", sa.Integer),
        sa.Column("text", sa.Text),
        sa.Column("attributes", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("kind", "sha256", name="uq_elements_kind_sha256"),
    )
    op.create_table(
        "products",
        sa.Column("product_id", sa.String(100), primary_key=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("brand", sa.String(200), nullable=False),
        sa.Column("category", sa.String(200), nullable=False),
        sa.Column("price", sa.Float, nullable=False),
        sa.Column("sale_price", sa.Float),
        sa.Column("discount_pct", sa.Float),
        sa.Column("features", sa.JSON, nullable=False),
        sa.Column("keywords", sa.JSON, nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("landing_url", sa.String(2000), nullable=False),
        sa.Column("images", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "creatives",
        sa.Column("creative_id", sa.String(200), primary_key=True),
        sa.Column("template", sa.String(100), nullable=False),
        sa.Column("size", sa.String(20), nullable=False),
        sa.Column("elements", sa.JSON, nullable=False),
        sa.Column("attributes", sa.JSON, nullable=False),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("file", sa.String(1000), nullable=False),
        sa.Column("batch", sa.String(100), nullable=False, index=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("creatives")
    op.drop_table("products")
    op.drop_table("elements")
