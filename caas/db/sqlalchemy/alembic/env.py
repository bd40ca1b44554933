"""Alembic environment of caas; run through caas.db.migration, not the CLI."""

from alembic import context

from caas.db.sqlalchemy import models

VERSION_TABLE = 'caas_alembic_version'


def run_migrations_online():
    connection = context.config.attributes['connection']
    context.configure(connection=connection,
                      target_metadata=models.Base.metadata,
                      version_table=VERSION_TABLE,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
