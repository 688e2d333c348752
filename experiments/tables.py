"""Tables of the experiments library (SQLAlchemy Core, own MetaData).

Their DDL history lives in experiments/migrations (Alembic branch ``experiments``); keep both in step.
Timestamps of events are epoch milliseconds (BigInteger): ingestion compares them by the million.
"""

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
)

metadata = MetaData()

experiments = Table(
    "exp_experiments",
    metadata,
    Column("experiment_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("policy", String(32), nullable=False),
    Column("policy_params", JSON, nullable=False),
    Column("config", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("current_round", Integer, nullable=False),
    Column("allocation", JSON, nullable=False),
    Column("winner", String(200)),
    Column("version", Integer, nullable=False),
    Column("ingest_seq", Integer, nullable=False),
    Column("round_lock", String(64)),
    Column("locked_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

arms = Table(
    "exp_arms",
    metadata,
    Column("experiment_id", String(64), primary_key=True),
    Column("creative_id", String(200), primary_key=True),
    Column("size", String(20)),
    Column("template", String(100)),
    Column("attributes", JSON, nullable=False),  # what effects and tags learn on; the creative itself is in the registry
    Column("state", String(16), nullable=False),
    Column("added_round", Integer, nullable=False),
    Column("retired_round", Integer),
)

events = Table(
    "exp_events",
    metadata,
    Column("experiment_id", String(64), primary_key=True),
    Column("event_id", String(100), primary_key=True),
    Column("kind", String(1), nullable=False),  # "i" impression, "c" click
    Column("ts_ms", BigInteger, nullable=False),
    Column("creative_id", String(200), nullable=False),
    Column("user_id", String(200), nullable=False),
    Column("size", String(20)),
    Column("impression_id", String(100)),
    Column("round_no", Integer, nullable=False),  # the round open at ingestion: its bucket counts the event
    Column("served_round", Integer),  # an impression's earlier round of service (late event); NULL: round_no
    Column("holdout", Boolean),  # true: traffic outside the experiment (and clicks on it), never counted; NULL: counted
    sqlite_with_rowid=False,  # clustered on the key: one B-tree per insert instead of two
)

# one click per impression (partial: impressions carry no impression_id)
Index("uq_exp_events_click_once", events.c.experiment_id, events.c.impression_id, unique=True,
      sqlite_where=events.c.impression_id.isnot(None), postgresql_where=events.c.impression_id.isnot(None))

arm_stats = Table(
    "exp_arm_stats",
    metadata,
    Column("experiment_id", String(64), primary_key=True),
    Column("round_no", Integer, primary_key=True),
    Column("creative_id", String(200), primary_key=True),
    Column("impressions", BigInteger, nullable=False),
    Column("clicks", BigInteger, nullable=False),
)

# Impressions of a round's bucket that were served in an earlier round: the round's SRM check compares
# them with the allocation then in force (exp_rounds.allocation_used of served_round), not with its own.
late_stats = Table(
    "exp_late_stats",
    metadata,
    Column("experiment_id", String(64), primary_key=True),
    Column("round_no", Integer, primary_key=True),
    Column("served_round", Integer, primary_key=True),
    Column("creative_id", String(200), primary_key=True),
    Column("impressions", BigInteger, nullable=False),
)

user_stats = Table(
    "exp_user_stats",
    metadata,
    Column("experiment_id", String(64), primary_key=True),
    Column("user_id", String(200), primary_key=True),
    Column("creative_id", String(200), primary_key=True),
    Column("impressions", BigInteger, nullable=False),
    Column("clicks", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

users = Table(
    "exp_users",
    metadata,
    Column("experiment_id", String(64), primary_key=True),
    Column("user_id", String(200), primary_key=True),
    Column("features", JSON, nullable=False),
)

# (user, minute) buckets that reached the rate limit; loaded whole at each ingestion (bots are few),
# so a burst re-delivered later stays rejected
rate_limited = Table(
    "exp_rate_limited",
    metadata,
    Column("experiment_id", String(64), primary_key=True),
    Column("user_id", String(200), primary_key=True),
    Column("minute", BigInteger, primary_key=True),
    Column("events", Integer, nullable=False),
)

rounds = Table(
    "exp_rounds",
    metadata,
    Column("experiment_id", String(64), primary_key=True),
    Column("round_no", Integer, primary_key=True),
    Column("decision", String(16), nullable=False),
    Column("winner", String(200)),
    Column("evidence", JSON, nullable=False),
    Column("allocation_used", JSON, nullable=False),
    Column("allocation_next", JSON, nullable=False),
    Column("srm_p", Float),
    Column("srm_alarm", Boolean, nullable=False),
    Column("impressions", BigInteger, nullable=False),
    Column("clicks", BigInteger, nullable=False),
    Column("closed_at", DateTime(timezone=True), nullable=False),
)

round_arms = Table(
    "exp_round_arms",
    metadata,
    Column("experiment_id", String(64), primary_key=True),
    Column("round_no", Integer, primary_key=True),
    Column("creative_id", String(200), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("round_impressions", BigInteger, nullable=False),
    Column("round_clicks", BigInteger, nullable=False),
    Column("impressions", BigInteger, nullable=False),
    Column("clicks", BigInteger, nullable=False),
    Column("mean", Float, nullable=False),
    Column("ci_low", Float, nullable=False),
    Column("ci_high", Float, nullable=False),
    Column("p_best", Float, nullable=False),
    Column("expected_loss", Float, nullable=False),
    Column("share_used", Float, nullable=False),
    Column("share_next", Float, nullable=False),
)

ingests = Table(
    "exp_ingests",
    metadata,
    Column("ingest_id", String(64), primary_key=True),
    Column("experiment_id", String(64), nullable=False),
    Column("source", String(1000), nullable=False),
    Column("accepted", Integer, nullable=False),
    Column("duplicates", Integer, nullable=False),
    Column("rejected", JSON, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=False),
)

Index("ix_exp_ingests_experiment", ingests.c.experiment_id)

# Preference tags as `close_round` computed them after a round: serving, pages and exports read these,
# so every reader sees the same tags. One fit row per (experiment, round), even when it tagged no one.
tag_fits = Table(
    "exp_tag_fits",
    metadata,
    Column("experiment_id", String(64), primary_key=True),
    Column("round_no", Integer, primary_key=True),
    Column("null_share", Float, nullable=False),
    Column("prior_mean", Float, nullable=False),
    Column("prior_sd", Float, nullable=False),
    Column("users_considered", Integer, nullable=False),
    Column("cells_considered", Integer, nullable=False),
    Column("config", JSON, nullable=False),
    Column("computed_at", DateTime(timezone=True), nullable=False),
)

user_tags = Table(
    "exp_user_tags",
    metadata,
    Column("experiment_id", String(64), primary_key=True),
    Column("round_no", Integer, primary_key=True),
    Column("user_id", String(200), primary_key=True),
    Column("attribute", String(100), primary_key=True),
    Column("value", String(200), primary_key=True),  # JSON text: keeps true vs "true"
    Column("probability", Float, nullable=False),
    Column("lift", Float, nullable=False),
    Column("impressions", BigInteger, nullable=False),
    Column("clicks", BigInteger, nullable=False),
)
