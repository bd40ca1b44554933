"""The integration tier: real RabbitMQ, real PostgreSQL, several processes.

The services come from ``tools/services.sh start`` (``.ci/run`` and ``make
test`` start them and export CAAS_TEST_DB_URL / CAAS_TEST_TRANSPORT_URL).
Under CI a missing service fails the run; elsewhere the tier is skipped.
"""

import os
import subprocess

import pytest
import sqlalchemy as sa

from tests.conftest import in_ci
from tests.integration import deployment

SERVICES = os.path.join(deployment.ROOT, 'tools', 'services.sh')


def _unavailable(why):
    if in_ci():
        pytest.fail('integration services unavailable under CI: %s' % why)
    pytest.skip('integration services unavailable: %s' % why)


@pytest.fixture(scope='session')
def services():
    db_url = os.environ.get('CAAS_TEST_DB_URL')
    transport_url = os.environ.get('CAAS_TEST_TRANSPORT_URL')
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
        with sa.create_engine(db_url).connect() as conn:
            conn.execute(sa.text('SELECT 1'))
    except Exception as exc:
        _unavailable('PostgreSQL at %s: %s' % (db_url, exc))
    status = subprocess.run([SERVICES, 'start-rabbit'], capture_output=True,
                            text=True)
    if status.returncode != 0:
        _unavailable('RabbitMQ: %s' % status.stderr.strip())
    return {'db_url': db_url, 'transport_url': transport_url}


@pytest.fixture
def deploy(services, tmp_path):
    """Factory: start a deployment; every process is stopped afterwards."""
    started = []

    def _start(**kwargs):
        db_url = deployment.create_database(services['db_url'])
        dep = deployment.Deployment(tmp_path, db_url,
                                    services['transport_url'], **kwargs)
        started.append(dep)
        return dep.start()

    yield _start
    for dep in started:
        dep.stop_all()


def rabbit(action):
    subprocess.run([SERVICES, action], check=True, capture_output=True)


def postgres(action):
    """stop-pg, start-pg or restart-pg of the private PostgreSQL cluster."""
    subprocess.run([SERVICES, action], check=True, capture_output=True)
