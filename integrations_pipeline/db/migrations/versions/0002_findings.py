"""Findings: per-resource identity, lifecycle counters, evaluation history, mutes, alerts.

The violations table becomes findings; existing rows keep their identity (a violation of
the insight itself is the finding without a resource) and count one occurrence.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.rename_table("violations", "findings")
    with op.batch_alter_table("findings") as batch:
        batch.add_column(sa.Column("resource", sa.String(512), nullable=True))
        batch.add_column(sa.Column("occurrences", sa.Integer, nullable=False, server_default="1"))
        batch.add_column(sa.Column("reopened", sa.Integer, nullable=False, server_default="0"))
        batch.alter_column("run_id", type_=sa.String(64), existing_nullable=False)
    op.create_index("ix_findings_insight", "findings", ["integration", "deployment", "task", "status"])
    op.create_index("ix_findings_run_id", "findings", ["run_id"])
    op.create_table(
        "evaluations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("run_id", sa.String(64), nullable=False, index=True),
        sa.Column("integration", sa.String(128), nullable=False),
        sa.Column("deployment", sa.String(256), nullable=True),
        sa.Column("task", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("message", sa.Text, nullable=True),
        sa.Column("open_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("new_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("resolved_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("muted_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("reopened_count", sa.Integer, nullable=False, server_default="0"),
        # Finding uids this evaluation opened or reopened (alerts and trends read them).
        sa.Column("opened", sa.JSON, nullable=True),
        sa.Column("evaluated_at", TZ, nullable=False, index=True),
        sa.UniqueConstraint("run_id", "integration", "task", name="uq_evaluations_run_task"),
    )
    op.create_index("ix_evaluations_insight", "evaluations", ["integration", "deployment", "task"])
    op.create_table(
        "mutes",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("integration", sa.String(128), nullable=False, index=True),
        sa.Column("deployment", sa.String(256), nullable=True),
        sa.Column("task", sa.String(128), nullable=True),
        sa.Column("resource_pattern", sa.String(512), nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("expires_at", TZ, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "alerts",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("findings", sa.Integer, nullable=False),
        sa.Column("result", sa.Text, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("alerts")
    op.drop_table("mutes")
    op.drop_index("ix_evaluations_insight", "evaluations")
    op.drop_table("evaluations")
    op.drop_index("ix_findings_run_id", "findings")
    op.drop_index("ix_findings_insight", "findings")
    with op.batch_alter_table("findings") as batch:
        batch.drop_column("reopened")
        batch.drop_column("occurrences")
        batch.drop_column("resource")
    op.rename_table("findings", "violations")
