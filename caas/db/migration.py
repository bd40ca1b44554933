"""Schema migrations: caas's own (alembic) and TaskFlow's persistence tables."""

import os

from alembic import command
from alembic import config as alembic_config
from alembic import migration as alembic_migration
from taskflow.persistence.backends import impl_sqlalchemy

from caas.db.sqlalchemy import engine as db_engine

_SCRIPT_LOCATION = os.path.join(os.path.dirname(__file__), 'sqlalchemy',
                                'alembic')


def _config(connection):
    cfg = alembic_config.Config()
    cfg.set_main_option('script_location', _SCRIPT_LOCATION)
    cfg.attributes['connection'] = connection
    return cfg


def upgrade(revision='head'):
    """Bring the database named by [database] connection up to date."""
    engine = db_engine.get_engine()
    with engine.begin() as connection:
        command.upgrade(_config(connection), revision)
    backend = impl_sqlalchemy.SQLAlchemyBackend({'connection': str(
        engine.url.render_as_string(hide_password=False))}, engine=engine)
    backend.get_connection().upgrade()


def version():
    engine = db_engine.get_engine()
    with engine.connect() as connection:
        ctx = alembic_migration.MigrationContext.configure(
            connection, opts={'version_table': 'caas_alembic_version'})
        return ctx.get_current_revision()
