"""The application database: the SQLAlchemy engine (SQLite by default, PostgreSQL by URL)
and its Alembic migrations. Tables are declared by the stage that owns them."""
