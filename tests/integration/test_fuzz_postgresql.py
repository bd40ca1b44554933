"""The API fuzz of ``tests/api_fuzz.py`` on PostgreSQL: NUL characters,
over-long values and out-of-range integers are refused by PostgreSQL where
SQLite stores them, so a check that is missing shows up here as a 5xx.

Needs only PostgreSQL from the integration services (under CI a missing
service fails the run, as for the rest of the tier)."""

import pytest

from caas.conf import CONF
from caas.db import migration
from caas.db.sqlalchemy import engine
from tests import api_fuzz
from tests.integration import deployment
from tests.unit.api.conftest import FakeCloud
from tests.unit.api.conftest import FakeRpc
from tests.unit.api.test_fuzz import EXAMPLES

pytestmark = pytest.mark.integration


@pytest.fixture(scope='module')
def pg_database(services):
    url = deployment.create_database(services['db_url'])
    CONF.set_override('connection', url, group='database')
    engine.dispose()
    migration.upgrade()
    yield engine.get_engine()
    engine.dispose()
    CONF.clear_override('connection', group='database')


@pytest.fixture
def harness(pg_database):
    assert pg_database.dialect.name == 'postgresql'
    rpc = FakeRpc()
    app = api_fuzz.build_app(rpc, FakeCloud())
    yield api_fuzz.Harness('postgresql', app, rpc, pg_database)
    api_fuzz.reset()


@pytest.mark.parametrize('label', api_fuzz.operation_labels())
def test_generated_requests_get_no_5xx_and_change_nothing_when_refused(
        harness, label):
    seeds = api_fuzz.seed(harness)
    harness.fuzz_operation(label, EXAMPLES, seeds)
    assert harness.count > EXAMPLES


def test_hostile_requests_get_a_4xx_naming_the_problem(harness):
    seeds = api_fuzz.seed(harness)
    assert api_fuzz.run_hostile(harness, seeds) > 250
