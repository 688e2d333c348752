"""Brand kits: a brand's colours, font, tone words and banned words (creative.brands).

Revision ID: c0006
Revises: c0005
"""
import sqlalchemy as sa
from alembic import op

revision = "c0006"
down_revision = "c0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "brand_kits",
        sa.Column("brand_key", sa.String(200), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("primary_colour", sa.String(7)),
        sa.Column("accent_colour", sa.String(7)),
        sa.Column("font", sa.String(100)),
        sa.Column("tone", sa.JSON, nullable=False),
        sa.Column("banned", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("brand_kits")
