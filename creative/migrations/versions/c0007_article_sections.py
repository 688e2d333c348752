"""Article sections under review: each section of a stored article with its sentences' engines, status and reasons.

Revision ID: c0007
Revises: c0006
"""
import sqlalchemy as sa
from alembic import op

revision = "c0007"
down_revision = "c0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "article_sections",
        sa.Column("article_code", sa.String(24), sa.ForeignKey("elements.code", ondelete="CASCADE"), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("heading", sa.Text),
        sa.Column("fact", sa.Text),
        sa.Column("keyword", sa.String(200)),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("sentences", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reasons", sa.JSON, nullable=False),
        sa.Column("drafts", sa.JSON, nullable=False),
        sa.Column("replaced", sa.JSON, nullable=False),
        sa.Column("reviewer", sa.String(100)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("article_sections")
