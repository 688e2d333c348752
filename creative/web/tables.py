"""Tables of the web front (SQLAlchemy Core, own MetaData). Their DDL lives in creative/migrations c0002, c0004 and c0005."""

from sqlalchemy import JSON, Boolean, Column, DateTime, ForeignKey, Integer, MetaData, String, Table, Text, false, text

metadata = MetaData()

users = Table(
    "web_users",
    metadata,
    Column("user_id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(100), nullable=False, unique=True),
    Column("password_hash", String(300), nullable=False),
    Column("role", String(16), nullable=False),  # one of auth.ROLES
    Column("disabled", Boolean, nullable=False, default=False, server_default=false()),
    Column("session_version", Integer, nullable=False, server_default=text("0")),  # bumped to end every session of the user
    Column("created_at", DateTime(timezone=True), nullable=False),
)

api_keys = Table(
    "web_api_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("user_id", Integer, ForeignKey("web_users.user_id", ondelete="CASCADE"), nullable=False, index=True),
    Column("secret_sha256", String(64), nullable=False),
    Column("label", String(200), nullable=False),
    Column("scopes", JSON, nullable=False),  # sorted list of auth.SCOPES the key may act within
    Column("revoked", Boolean, nullable=False, default=False, server_default=false()),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

settings = Table(
    "web_settings",
    metadata,
    Column("key", String(100), primary_key=True),
    Column("value", Text, nullable=False),
)

schedules = Table(
    "web_schedules",
    metadata,
    Column("experiment_id", String(64), primary_key=True),
    Column("every_minutes", Integer, nullable=False),
    Column("next_run_at", DateTime(timezone=True), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("last_run_at", DateTime(timezone=True)),
    Column("last_result", Text),
)

jobs = Table(
    "web_jobs",
    metadata,
    Column("job_id", String(32), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("status", String(16), nullable=False),  # queued | running | done | failed
    Column("done", Integer, nullable=False),
    Column("total", Integer, nullable=False),
    Column("message", Text, nullable=False),
    Column("params", JSON, nullable=False),
    Column("result", JSON),
    Column("created_by", String(100), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # timing (c0005): time so far and an estimate of the time left, readable by any worker process
    Column("started_at", DateTime(timezone=True)),
    Column("phase", String(100)),  # a step whose length is remembered, e.g. "loading the model"
    Column("phase_started_at", DateTime(timezone=True)),
    Column("phase_done", Integer, nullable=False, server_default=text("0")),  # `done` when the phase began
    # liveness (c0008): the server process holding the job and its last sign of life; a job whose holder went
    # silent is marked failed by any other worker (creative.web.jobs.JobRunner.reap)
    Column("runner_id", String(32)),
    Column("heartbeat_at", DateTime(timezone=True)),
)
