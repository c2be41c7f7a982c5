"""Alembic environment shared shape: raw-SQL migrations in the service's own schema."""

from alembic import context
from sqlalchemy import create_engine, text

config = context.config
schema: str = config.attributes["schema"]
# Serializes migrations of replicas that start at the same time.
LOCK_ID = 727_001


def run_migrations_online() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": LOCK_ID})
        try:
            connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            connection.commit()
            context.configure(connection=connection, version_table_schema=schema)
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": LOCK_ID})
            connection.commit()
    engine.dispose()


run_migrations_online()
