"""Fixtures shared by every tier: configuration and a fresh database."""

import os
import warnings

import pytest

warnings.filterwarnings('ignore', message='.*[Ee]ventlet.*')

from caas import conf as caas_conf  # noqa: E402
from caas.conf import CONF  # noqa: E402

caas_conf.register_log_opts()
CONF([], project='caas', default_config_files=[])


@pytest.fixture
def db(tmp_path):
    """A migrated SQLite database in a temporary directory."""
    from caas.db import migration
    from caas.db.sqlalchemy import engine
    CONF.set_override('connection', 'sqlite:///%s' % (tmp_path / 'caas.sqlite'),
                      group='database')
    engine.dispose()
    migration.upgrade()
    yield engine.get_engine()
    engine.dispose()
    CONF.clear_override('connection', group='database')


@pytest.fixture
def conf():
    """Set options for one test; every override is undone afterwards."""
    done = []

    def set_override(name, value, group=None):
        CONF.set_override(name, value, group=group)
        done.append((name, group))

    yield set_override
    for name, group in done:
        CONF.clear_override(name, group=group)


def in_ci():
    return bool(os.environ.get('CI'))


def pytest_terminal_summary(terminalreporter):
    """The fuzz tests' tally of status codes, per database."""
    from tests import api_fuzz
    for backend, tally in sorted(api_fuzz.TALLY.items()):
        codes = ', '.join('%s: %d' % item for item in sorted(tally.items()))
        terminalreporter.write_line(
            'API fuzz tally (%s): %d requests; %s' % (
                backend, sum(tally.values()), codes))
