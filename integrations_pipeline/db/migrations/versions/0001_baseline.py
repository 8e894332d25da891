"""Baseline: violations, deployments, integrations and tickets.

Idempotent: a database made before migrations existed (by any earlier version) may have
some of these tables, or a table without a later column; what is missing is added.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def _tables() -> set[str]:
    return set(sa.inspect(op.get_bind()).get_table_names())


def _create(name: str, *columns: sa.Column) -> None:
    if name in _tables():
        present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns(name)}
        for column in columns:
            if column.name not in present:
                op.add_column(name, column)
    else:
        op.create_table(name, *columns)


def upgrade() -> None:
    _create(
        "violations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("uid", sa.String(64), nullable=False, unique=True, index=True),
        sa.Column("integration", sa.String(128), nullable=False, index=True),
        sa.Column("deployment", sa.String(256), nullable=True, index=True),
        sa.Column("task", sa.String(128), nullable=False),
        sa.Column("title", sa.String(512), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False, index=True),
        sa.Column("message", sa.Text, nullable=True),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("first_seen", TZ, nullable=False),
        sa.Column("last_seen", TZ, nullable=False),
        sa.Column("resolved_at", TZ, nullable=True),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("data", sa.JSON, nullable=True),
    )
    _create(
        "deployments",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True, index=True),
        sa.Column("integration", sa.String(128), nullable=False, index=True),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("schedule", sa.String(128), nullable=True),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("paused", sa.Boolean, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("schedule_start", TZ, nullable=False),
        sa.Column("run_requested", sa.String(36), nullable=True),
    )
    _create(
        "integrations",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("title", sa.String(256), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("version", sa.String(64), nullable=True),
        sa.Column("schema", sa.JSON, nullable=False),
        sa.Column("tasks", sa.JSON, nullable=False),
        sa.Column("load_error", sa.Text, nullable=True),
        sa.Column("updated_at", TZ, nullable=False),
    )
    _create(
        "tickets",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("run_id", sa.String(255), nullable=False, unique=True),
        sa.Column("integration", sa.String(128), nullable=False, index=True),
        sa.Column("deployment", sa.String(128), nullable=True, index=True),
        sa.Column("failed_tasks", sa.JSON, nullable=False),
        sa.Column("error_summary", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("webhook", sa.Text, nullable=True),
        sa.Column("webhook_deliveries", sa.Integer, nullable=False, server_default="0"),
    )


def downgrade() -> None:
    for table in ("tickets", "integrations", "deployments", "violations"):
        op.drop_table(table)
