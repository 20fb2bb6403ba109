"""Alembic environment: the URL comes from the caller's config or from LOYALFLOW settings."""

from alembic import context
from sqlmodel import SQLModel

from loyalflow.config import get_settings
from loyalflow.models import (
    snapshot_tables,  # noqa: F401  (kept out of tables.py: one concern)
    tables,  # noqa: F401  (registers the tables on the metadata)
)
from loyalflow.models.db import get_engine

config = context.config
target_metadata = SQLModel.metadata


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or get_settings().effective_database_url


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    with get_engine(_url()).connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
