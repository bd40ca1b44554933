"""The integration tier: real RabbitMQ, real PostgreSQL, several processes.

The services come from ``tools/services.sh start`` (``.ci/run`` and ``make
test`` start them and export CAAS_TEST_DB_URL / CAAS_TEST_TRANSPORT_URL);
the ``services`` fixture is in tests/conftest.py. Under CI a missing service
fails the run; elsewhere the tier is skipped.
"""

import subprocess

import pytest

from tests.conftest import SERVICES
from tests.integration import deployment


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
