"""Webhook outbox: tickets and alerts are posted by a background deliverer, not sensor ticks.

Alerts get an id (their Idempotency-Key); earlier alerts keep none, having been posted
(or lost) already. Tickets an earlier version had not delivered yet,
and had not given up on, move to the outbox so the deliverer posts them.

Revision ID: 0003
Revises: 0002
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
# What the earlier version gave up after (tickets.MAX_DELIVERIES).
EARLIER_MAX_DELIVERIES = 10


def upgrade() -> None:
    outbox = op.create_table(
        "webhook_outbox",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", TZ, nullable=True),
        sa.Column("claimed_until", TZ, nullable=True),
        sa.Column("delivered_at", TZ, nullable=True),
        sa.Column("result", sa.Text, nullable=True),
    )
    op.create_index("ix_webhook_outbox_next_attempt_at", "webhook_outbox", ["next_attempt_at"])
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("id", sa.String(36), nullable=True))
    _carry_over_pending_tickets(outbox)


def _carry_over_pending_tickets(outbox: sa.Table) -> None:
    tickets = sa.table(
        "tickets",
        *(sa.column(name) for name in ("id", "run_id", "integration", "deployment", "error_summary")),
        *(sa.column(name) for name in ("status", "webhook", "webhook_deliveries")),
        sa.column("failed_tasks", sa.JSON),
        sa.column("created_at", TZ),
    )
    bind = op.get_bind()
    pending = bind.execute(
        sa.select(tickets)
        .where(tickets.c.webhook_deliveries < EARLIER_MAX_DELIVERIES)
        .where(
            tickets.c.webhook.is_(None)
            | tickets.c.webhook.like("failed%")
            | tickets.c.webhook.like("sending%")
        )
    ).all()
    now = datetime.now(UTC)
    for row in pending:
        created = row.created_at.replace(tzinfo=row.created_at.tzinfo or UTC)
        ticket = {
            "id": row.id, "run_id": row.run_id, "integration": row.integration, "deployment": row.deployment,
            "failed_tasks": list(row.failed_tasks or []), "error_summary": row.error_summary,
            "status": row.status, "created_at": created.isoformat(), "webhook": None,
        }  # fmt: skip
        kind = "deployment_not_run" if row.run_id.startswith("config:") else "integration_run_failed"
        bind.execute(
            outbox.insert().values(
                id=row.id,
                kind="ticket",
                payload={"type": kind, "ticket": ticket},
                created_at=now,
                attempts=0,
                next_attempt_at=now,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("id")
    op.drop_index("ix_webhook_outbox_next_attempt_at", "webhook_outbox")
    op.drop_table("webhook_outbox")
