"""The API fuzzed on SQLite: generated requests to every operation of its
OpenAPI description and hand-written hostile ones (``tests/api_fuzz.py``
says what is checked on every answer). The PostgreSQL run is
``tests/integration/test_fuzz_postgresql.py``."""

import pytest

from caas.db.sqlalchemy import engine
from tests import api_fuzz
from tests.unit.api.conftest import FakeCloud
from tests.unit.api.conftest import FakeRpc

# Per operation and per pass (valid, schema-violating, aimed at existing
# resources): 19 operations x 3 passes x EXAMPLES requests.
EXAMPLES = 40


@pytest.fixture
def harness(database):
    rpc = FakeRpc()
    app = api_fuzz.build_app(rpc, FakeCloud())
    return api_fuzz.Harness('sqlite', app, rpc, engine.get_engine())


@pytest.mark.parametrize('label', api_fuzz.operation_labels())
def test_generated_requests_get_no_5xx_and_change_nothing_when_refused(
        harness, label):
    seeds = api_fuzz.seed(harness)
    harness.fuzz_operation(label, EXAMPLES, seeds)
    assert harness.count > EXAMPLES


def test_hostile_requests_get_a_4xx_naming_the_problem(harness):
    seeds = api_fuzz.seed(harness)
    sent = api_fuzz.run_hostile(harness, seeds)
    assert sent > 250
