"""Experiments library: experiments, arms, events, incremental aggregates, rate-limited buckets, rounds, ingest log.

Revision ID: e0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "e0001"
down_revision = None
branch_labels = ("experiments",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exp_experiments",
        sa.Column("experiment_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("policy", sa.String(32), nullable=False),
        sa.Column("policy_params", sa.JSON, nullable=False),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("current_round", sa.Integer, nullable=False),
        sa.Column("allocation", sa.JSON, nullable=False),
        sa.Column("winner", sa.String(200)),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("ingest_seq", sa.Integer, nullable=False),
        sa.Column("round_lock", sa.String(64)),
        sa.Column("locked_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "exp_arms",
        sa.Column("experiment_id", sa.String(64), primary_key=True),
        sa.Column("creative_id", sa.String(200), primary_key=True),
        sa.Column("size", sa.String(20)),
        sa.Column("template", sa.String(100)),
        sa.Column("file", sa.String(1000)),
        sa.Column("elements", sa.JSON, nullable=False),
        sa.Column("attributes", sa.JSON, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("added_round", sa.Integer, nullable=False),
        sa.Column("retired_round", sa.Integer),
    )
    op.create_table(
        "exp_events",
        sa.Column("experiment_id", sa.String(64), primary_key=True),
        sa.Column("event_id", sa.String(100), primary_key=True),
        sa.Column("kind", sa.String(1), nullable=False),
        sa.Column("ts_ms", sa.BigInteger, nullable=False),
        sa.Column("creative_id", sa.String(200), nullable=False),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("size", sa.String(20)),
        sa.Column("impression_id", sa.String(100)),
        sa.Column("round_no", sa.Integer, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_index("uq_exp_events_click_once", "exp_events", ["experiment_id", "impression_id"], unique=True,
                    sqlite_where=sa.text("impression_id IS NOT NULL"), postgresql_where=sa.text("impression_id IS NOT NULL"))
    op.create_table(
        "exp_arm_stats",
        sa.Column("experiment_id", sa.String(64), primary_key=True),
        sa.Column("round_no", sa.Integer, primary_key=True),
        sa.Column("creative_id", sa.String(200), primary_key=True),
        sa.Column("impressions", sa.BigInteger, nullable=False),
        sa.Column("clicks", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "exp_user_stats",
        sa.Column("experiment_id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(200), primary_key=True),
        sa.Column("creative_id", sa.String(200), primary_key=True),
        sa.Column("impressions", sa.BigInteger, nullable=False),
        sa.Column("clicks", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "exp_users",
        sa.Column("experiment_id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(200), primary_key=True),
        sa.Column("features", sa.JSON, nullable=False),
    )
    op.create_table(
        "exp_rate_limited",
        sa.Column("experiment_id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(200), primary_key=True),
        sa.Column("minute", sa.BigInteger, primary_key=True),
        sa.Column("events", sa.Integer, nullable=False),
    )
    op.create_table(
        "exp_rounds",
        sa.Column("experiment_id", sa.String(64), primary_key=True),
        sa.Column("round_no", sa.Integer, primary_key=True),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("winner", sa.String(200)),
        sa.Column("evidence", sa.JSON, nullable=False),
        sa.Column("allocation_used", sa.JSON, nullable=False),
        sa.Column("allocation_next", sa.JSON, nullable=False),
        sa.Column("srm_p", sa.Float),
        sa.Column("srm_alarm", sa.Boolean, nullable=False),
        sa.Column("impressions", sa.BigInteger, nullable=False),
        sa.Column("clicks", sa.BigInteger, nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "exp_round_arms",
        sa.Column("experiment_id", sa.String(64), primary_key=True),
        sa.Column("round_no", sa.Integer, primary_key=True),
        sa.Column("creative_id", sa.String(200), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("round_impressions", sa.BigInteger, nullable=False),
        sa.Column("round_clicks", sa.BigInteger, nullable=False),
        sa.Column("impressions", sa.BigInteger, nullable=False),
        sa.Column("clicks", sa.BigInteger, nullable=False),
        sa.Column("mean", sa.Float, nullable=False),
        sa.Column("ci_low", sa.Float, nullable=False),
        sa.Column("ci_high", sa.Float, nullable=False),
        sa.Column("p_best", sa.Float, nullable=False),
        sa.Column("expected_loss", sa.Float, nullable=False),
        sa.Column("share_used", sa.Float, nullable=False),
        sa.Column("share_next", sa.Float, nullable=False),
    )
    op.create_table(
        "exp_ingests",
        sa.Column("ingest_id", sa.String(64), primary_key=True),
        sa.Column("experiment_id", sa.String(64), nullable=False),
        sa.Column("source", sa.String(1000), nullable=False),
        sa.Column("accepted", sa.Integer, nullable=False),
        sa.Column("duplicates", sa.Integer, nullable=False),
        sa.Column("rejected", sa.JSON, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_exp_ingests_experiment", "exp_ingests", ["experiment_id"])


def downgrade() -> None:
    op.drop_index("ix_exp_ingests_experiment", table_name="exp_ingests")
    op.drop_index("uq_exp_events_click_once", table_name="exp_events")
    for name in ("exp_ingests", "exp_round_arms", "exp_rounds", "exp_users", "exp_rate_limited", "exp_user_stats",
                 "exp_arm_stats", "exp_events", "exp_arms", "exp_experiments"):
        op.drop_table(name)
