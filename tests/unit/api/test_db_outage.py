"""A database outage is a 503 with a message, and the API recovers by itself."""

import pytest
import sqlalchemy.exc as sa_exc
from sqlalchemy import event

from caas.db.sqlalchemy import engine
from tests.unit.api.conftest import PROJECT_A


@pytest.fixture
def outage(api):
    """While ``down`` is set, every statement fails as if the server were
    gone (what the driver raises when its connection is cut)."""
    state = {'down': False}

    def fail(conn, cursor, statement, params, context, executemany):
        if state['down']:
            raise sa_exc.OperationalError(
                statement, params,
                Exception('server closed the connection unexpectedly'))
    engines = {engine.get_engine(), engine.get_engine(readonly=True)}
    for e in engines:
        event.listen(e, 'before_cursor_execute', fail)
    yield state
    for e in engines:
        event.remove(e, 'before_cursor_execute', fail)


def test_reads_during_an_outage_are_503_in_magnums_shape(api, outage,
                                                          template):
    outage['down'] = True
    resp = api.get('/v1/clusters', headers=PROJECT_A)
    assert resp.status_code == 503
    err = resp.json_body['errors'][0]
    assert err['status'] == 503 and err['code'] == 'server'
    assert 'database is unavailable' in err['title']
    assert resp.headers['Retry-After'] == '5'
    outage['down'] = False
    assert api.get('/v1/clusters', headers=PROJECT_A).status_code == 200


def test_a_create_during_an_outage_is_503_and_casts_nothing(api, outage,
                                                            template, rpc):
    outage['down'] = True
    resp = api.post('/v1/clusters', {'name': 'c1',
                                     'cluster_template_id': template['uuid']},
                    headers=PROJECT_A)
    assert resp.status_code == 503
    assert rpc.casts == []
    outage['down'] = False
    assert api.get('/v1/clusters', headers=PROJECT_A).json_body[
        'clusters'] == []
