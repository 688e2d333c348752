"""Scoped access: users get a session version (bumped to end their sessions), API keys get scopes.

The "editor" role becomes "marketer"; keys made before scopes existed keep what they were made for,
posting events ("events:write").

Revision ID: c0004
Revises: c0003
"""
import sqlalchemy as sa
from alembic import op

revision = "c0004"
down_revision = "c0003"
branch_labels = None
depends_on = None

users = sa.table("web_users", sa.column("role", sa.String))


def upgrade() -> None:
    with op.batch_alter_table("web_users") as batch:
        batch.add_column(sa.Column("session_version", sa.Integer, nullable=False, server_default=sa.text("0")))
    op.execute(users.update().where(users.c.role == "editor").values(role="marketer"))
    with op.batch_alter_table("web_api_keys") as batch:
        batch.add_column(sa.Column("scopes", sa.JSON, nullable=False, server_default='["events:write"]'))
    with op.batch_alter_table("web_api_keys") as batch:
        batch.alter_column("scopes", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("web_api_keys") as batch:
        batch.drop_column("scopes")
    op.execute(users.update().where(users.c.role != "admin").values(role="editor"))
    with op.batch_alter_table("web_users") as batch:
        batch.drop_column("session_version")
