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
    yield api_fuzz.Harness('sqlite', app, rpc, engine.get_engine())
    api_fuzz.reset()


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


def _app_that(answer, write=False, cast=None):
    """A WSGI app that answers ``answer`` and maybe writes or casts first."""
    import sqlalchemy as sa
    from caas.api import errors

    def app(environ, start_response):
        if write:
            with engine.get_engine().begin() as conn:
                conn.execute(sa.text(
                    "UPDATE operations SET kind = 'x'"))
                conn.execute(sa.text(
                    "UPDATE cluster_templates SET name = 'changed'"))
        if cast is not None:
            cast.casts.append({'method': 'cluster_create'})
        body = errors.error_json(answer, 'Invalid input for field '
                                         'name: refused.').encode()
        start_response('%d X' % answer,
                       [('Content-Type', 'application/json')])
        return [body]
    return app


def test_the_harness_catches_a_refused_request_that_wrote(harness):
    api_fuzz.seed(harness)
    spy = api_fuzz.Harness(None, _app_that(400, write=True), harness.rpc,
                           engine.get_engine())
    with pytest.raises(AssertionError, match='changed the database'):
        spy.request('POST', '/v1/clusters', '{}')


def test_the_harness_catches_a_refused_request_that_cast(harness):
    rpc = FakeRpc()
    spy = api_fuzz.Harness(None, _app_that(400, cast=rpc), rpc,
                           engine.get_engine())
    with pytest.raises(AssertionError, match='cast an RPC'):
        spy.request('POST', '/v1/clusters', '{}')


@pytest.mark.parametrize('status', [500, 503])
def test_the_harness_catches_a_5xx(harness, status):
    spy = api_fuzz.Harness(None, _app_that(status), harness.rpc,
                           engine.get_engine())
    with pytest.raises(AssertionError, match='-> %d' % status):
        spy.request('GET', '/v1/clusters')
