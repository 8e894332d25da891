"""Alembic environment: migrations run on the connection integrations_pipeline.db.engine gives."""

from alembic import context

from integrations_pipeline.db.engine import VERSION_TABLE

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    render_as_batch=connection.dialect.name == "sqlite",
    version_table=VERSION_TABLE,
)
with context.begin_transaction():
    context.run_migrations()
