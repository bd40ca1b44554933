"""Fixtures shared by every tier: configuration and a fresh database."""

import os
import subprocess
import warnings

import pytest

warnings.filterwarnings('ignore', message='.*[Ee]ventlet.*')

from caas import conf as caas_conf  # noqa: E402
from caas.conf import CONF  # noqa: E402

caas_conf.register_log_opts()
CONF([], project='caas', default_config_files=[])


def _migrated(url):
    """caas's database at ``url``, migrated, for one test (a generator)."""
    from caas.db import migration
    from caas.db.sqlalchemy import engine
    CONF.set_override('connection', url, group='database')
    engine.dispose()
    migration.upgrade()
    yield engine.get_engine()
    engine.dispose()
    CONF.clear_override('connection', group='database')


@pytest.fixture
def db(tmp_path):
    """A migrated SQLite database in a temporary directory."""
    yield from _migrated('sqlite:///%s' % (tmp_path / 'caas.sqlite'))


@pytest.fixture
def pg_db(services):
    """A migrated PostgreSQL database of its own on the services' server."""
    from tests.integration import deployment
    yield from _migrated(deployment.create_database(services['db_url']))


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


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVICES = os.path.join(ROOT, 'tools', 'services.sh')

# Under pytest-xdist (``make test`` runs the suite on several workers) the
# first worker uses the services ``make test`` started; every other worker
# gets a PostgreSQL cluster and a RabbitMQ node of its own, on ports of its
# own, because some tests restart them (a database failover, a broker
# restart) and must not cut the connections of tests on other workers.
PORT_STEP = 1000


def pytest_configure(config):
    worker = os.environ.get('PYTEST_XDIST_WORKER', '')
    if not worker.startswith('gw') or worker == 'gw0':
        return
    step = PORT_STEP * int(worker[2:])
    os.environ['CAAS_SERVICES_DIR'] = '%s-%s' % (
        os.environ.get('CAAS_SERVICES_DIR', '/tmp/caas-services'), worker)
    os.environ['CAAS_PG_PORT'] = str(
        int(os.environ.get('CAAS_PG_PORT', 25432)) + step)
    os.environ['CAAS_RABBIT_PORT'] = str(
        int(os.environ.get('CAAS_RABBIT_PORT', 25672)) + step)
    os.environ.pop('CAAS_RABBIT_DIST_PORT', None)
    os.environ.pop('CAAS_TEST_DB_URL', None)
    os.environ.pop('CAAS_TEST_TRANSPORT_URL', None)
    os.environ['CAAS_PRIVATE_SERVICES'] = worker


def _unavailable(why):
    if in_ci():
        pytest.fail('integration services unavailable under CI: %s' % why)
    pytest.skip('integration services unavailable: %s' % why)


@pytest.fixture(scope='session')
def services():
    """Real PostgreSQL and RabbitMQ: {'db_url', 'transport_url'}.

    Under CI a missing service fails the test; elsewhere it is skipped.
    """
    import sqlalchemy as sa
    db_url = os.environ.get('CAAS_TEST_DB_URL')
    transport_url = os.environ.get('CAAS_TEST_TRANSPORT_URL')
    private = os.environ.get('CAAS_PRIVATE_SERVICES')
    if not (db_url and transport_url):
        result = subprocess.run([SERVICES, 'start'], capture_output=True,
                                text=True)
        if result.returncode != 0:
            _unavailable(result.stderr.strip() or 'tools/services.sh failed')
        for line in result.stdout.splitlines():
            key, _, value = line.replace('export ', '').partition('=')
            os.environ[key] = value
        db_url = os.environ['CAAS_TEST_DB_URL']
        transport_url = os.environ['CAAS_TEST_TRANSPORT_URL']
    try:
        try:
            with sa.create_engine(db_url).connect() as conn:
                conn.execute(sa.text('SELECT 1'))
        except Exception as exc:
            _unavailable('PostgreSQL at %s: %s' % (db_url, exc))
        status = subprocess.run([SERVICES, 'start-rabbit'],
                                capture_output=True, text=True)
        if status.returncode != 0:
            _unavailable('RabbitMQ: %s' % status.stderr.strip())
        yield {'db_url': db_url, 'transport_url': transport_url}
    finally:
        if private:
            # This worker's own services: nobody else stops them.
            subprocess.run([SERVICES, 'stop'], capture_output=True)


def pytest_terminal_summary(terminalreporter):
    """The fuzz tests' tally of status codes, per database."""
    from tests import api_fuzz
    for backend, tally in sorted(api_fuzz.TALLY.items()):
        codes = ', '.join('%s: %d' % item for item in sorted(tally.items()))
        terminalreporter.write_line(
            'API fuzz tally (%s): %d requests; %s' % (
                backend, sum(tally.values()), codes))
