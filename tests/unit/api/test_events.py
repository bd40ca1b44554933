"""The events extension: pages, scope, the live stream and the dashboard."""

import http.client
import threading
import time

import pytest
from werkzeug import test as wz_test

from caas.api import app as api_app
from caas.api import server
from caas.api.controllers.v1 import events as events_api
from caas.common import states
from caas.conductor import ownership
from caas.conf import CONF
from caas.db import api as db
from caas.db import events as db_events
from caas.db import operations as db_ops
from tests.unit.api.conftest import ADMIN
from tests.unit.api.conftest import PROJECT_A
from tests.unit.api.conftest import PROJECT_B


def _fence_for(cluster_uuid, owner='c1'):
    op_id = db.get_cluster_by_uuid(
        cluster_uuid, scope=db.ALL_PROJECTS).operation_id
    epoch = db_ops.claim(op_id, owner)
    return ownership.Fence(op_id, cluster_uuid, owner, epoch)


def _emit(fence, n, project='project-a', start=0):
    return [db_events.record(fence, project, 'cluster_create',
                             states.EV_STARTED, step='s%d' % i,
                             step_index=i + 1, step_count=n + start,
                             message='m%d' % i)
            for i in range(start, start + n)]


def test_cluster_events_are_paged_oldest_first(api, make_cluster):
    uuid = make_cluster()
    ids = _emit(_fence_for(uuid), 5)
    resp = api.get('/v1/clusters/c1/events?limit=2', headers=PROJECT_A)
    assert resp.status_code == 200
    body = resp.json_body
    assert [e['id'] for e in body['events']] == ids[:2]
    first = body['events'][0]
    assert first['cluster_id'] == uuid and first['step'] == 's0'
    assert first['state'] == 'STARTED' and first['conductor'] == 'c1'
    assert first['created_at'].endswith('+00:00')
    assert body['next'].endswith('limit=2&marker=%d' % ids[1])
    resp = api.get('/v1/clusters/%s/events?limit=2&marker=%d' % (uuid, ids[1]),
                   headers=PROJECT_A)
    assert [e['id'] for e in resp.json_body['events']] == ids[2:4]
    resp = api.get('/v1/clusters/c1/events?sort_dir=desc&limit=1',
                   headers=PROJECT_A)
    assert [e['id'] for e in resp.json_body['events']] == [ids[-1]]


def test_another_project_sees_no_events(api, make_cluster):
    uuid = make_cluster()
    _emit(_fence_for(uuid), 2)
    assert api.get('/v1/clusters/%s/events' % uuid,
                   headers=PROJECT_B).status_code == 404
    assert api.get('/v1/events', headers=PROJECT_B).json_body['events'] == []
    assert len(api.get('/v1/events', headers=PROJECT_A).json_body[
        'events']) == 2
    # An administrator's list is its own project's unless all_projects.
    assert api.get('/v1/events', headers=ADMIN).json_body['events'] == []
    assert len(api.get('/v1/events?all_projects=true',
                       headers=ADMIN).json_body['events']) == 2


@pytest.mark.parametrize('query,name', [
    ('marker=abc', 'marker'), ('marker=-1', 'marker'),
    ('marker=9223372036854775808', 'marker'),
    ('limit=-1', 'limit'), ('limit=x', 'limit'),
    ('sort_key=step', 'sort_key'), ('sort_dir=up', 'sort_dir')])
def test_bad_paging_is_a_400_naming_it(api, make_cluster, query, name):
    make_cluster()
    for path in ('/v1/events', '/v1/clusters/c1/events'):
        resp = api.get('%s?%s' % (path, query), headers=PROJECT_A)
        assert resp.status_code == 400, resp.json_body
        assert name in resp.json_body['errors'][0]['title']


@pytest.mark.parametrize('value', ['x', '-1', str(2 ** 63)])
def test_bad_last_event_id_is_a_400(api, value):
    resp = api.get('/v1/events/stream', headers={'Last-Event-ID': value})
    assert resp.status_code == 400
    assert 'Last-Event-ID' in resp.json_body['errors'][0]['title']
    resp = api.get('/v1/events/stream?last_event_id=%s' % value)
    assert resp.status_code == 400


def test_stream_of_an_unknown_cluster_is_a_404(api):
    resp = api.get('/v1/events/stream?cluster=ghost')
    assert resp.status_code == 404
    assert events_api.open_streams() == 0


def test_conductors_are_for_admins(api, make_cluster):
    make_cluster()
    db_ops.register_conductor('c1', 'caas-conductor')
    assert api.get('/v1/conductors', headers=PROJECT_A).status_code == 403
    _fence_for(db.list_clusters(scope=db.ALL_PROJECTS)[0].uuid, owner='c1')
    body = api.get('/v1/conductors', headers=ADMIN).json_body
    (cond,) = body['conductors']
    assert cond['host'] == 'c1' and cond['state'] == 'up'
    assert 0 <= cond['heartbeat_age'] < 5
    assert [op['kind'] for op in cond['operations']] == ['cluster_create']


# -- the stream over a real server ------------------------------------------

@pytest.fixture
def live(api, rpc, cloud, drivers, conf):
    conf('event_poll_interval', 0.05, group='api')
    conf('event_stream_keepalive', 0.5, group='api')
    conf('max_event_streams', 1, group='api')
    srv = server.serve(api_app.build_app(CONF, rpcapi=rpc, cloud=cloud,
                                         find_driver=drivers),
                       '127.0.0.1', 0, threads=2)
    yield srv
    srv.stop()
    assert events_api.open_streams() == 0


def _open(srv, path='/v1/events/stream', headers=None):
    conn = http.client.HTTPConnection('127.0.0.1', srv.port, timeout=10)
    # The events were recorded in project A: stream as its member.
    conn.request('GET', path, headers=dict(PROJECT_A, **(headers or {})))
    return conn, conn.getresponse()


def _read_until(resp, needle, limit=200):
    seen = b''
    for _ in range(limit):
        line = resp.fp.readline()
        if not line:
            break
        seen += line
        if needle in seen:
            return seen.decode()
    raise AssertionError('%r not in %r' % (needle, seen))


def test_stream_sends_new_events_as_they_happen(live, make_cluster):
    uuid = make_cluster()
    fence = _fence_for(uuid)
    before = _emit(fence, 1)
    conn, resp = _open(live)
    assert resp.status == 200
    assert resp.getheader('Content-Type').startswith('text/event-stream')
    _read_until(resp, b'caas events')
    # Only what happens from now on; then events as they are written.
    ids = []

    def later():
        time.sleep(0.2)
        ids.extend(_emit(fence, 2, start=1))
    threading.Thread(target=later).start()
    text = _read_until(resp, b'"step": "s2"')
    assert 'id: %d\n' % before[0] not in text
    assert 'event: progress' in text and '"step": "s1"' in text
    assert 'id: %d\n' % ids[1] in text
    conn.close()


def test_stream_resumes_after_last_event_id(live, make_cluster):
    uuid = make_cluster()
    ids = _emit(_fence_for(uuid), 3)
    conn, resp = _open(live, headers={'Last-Event-ID': str(ids[0])})
    text = _read_until(resp, b'"step": "s2"')
    assert 'id: %d\n' % ids[0] not in text
    assert 'id: %d\n' % ids[1] in text and 'id: %d\n' % ids[2] in text
    conn.close()


def test_stream_keeps_alive_and_ends_on_time(live, make_cluster, conf):
    conf('event_stream_lifetime', 1.2, group='api')
    conn, resp = _open(live)
    text = _read_until(resp, b'event: end')
    assert ': keepalive' in text
    conn.close()


def test_one_stream_too_many_is_refused_and_others_still_served(
        live, make_cluster):
    conn, resp = _open(live)
    _read_until(resp, b'caas events')
    other, refused = _open(live)
    assert refused.status == 503
    assert refused.getheader('Retry-After') == '5'
    assert 'event streams' in refused.read().decode()
    other.close()
    # The other worker thread still serves ordinary requests.
    plain, ok = _open(live, '/v1/clusters')
    assert ok.status == 200
    ok.read()
    plain.close()
    # A client that goes away gives its slot back.
    resp.close()
    conn.close()
    deadline = time.monotonic() + 10
    while events_api.open_streams() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert events_api.open_streams() == 0
    again, resp = _open(live)
    assert resp.status == 200
    again.close()


def test_a_stream_nobody_closes_or_that_fails_gives_its_slot_back(
        api, conf, monkeypatch):
    """A WSGI caller that drops the body without close(), and a stream that
    fails while it is read, each free their slot (issue: leaked slots made
    every later stream a 503)."""
    import gc
    conf('max_event_streams', 1, group='api')
    conf('event_stream_lifetime', 0.1, group='api')
    app = api_app.build_app(CONF, rpcapi=None, cloud=None)
    environ = wz_test.EnvironBuilder('/v1/events/stream',
                                     headers=PROJECT_A).get_environ()
    started = []
    body = app(environ, lambda status, headers, exc=None: started.append(
        status))
    assert started == ['200 OK'] and events_api.open_streams() == 1
    refused = api.get('/v1/events/stream', headers=PROJECT_A)
    assert refused.status_code == 503
    del body
    gc.collect()
    assert events_api.open_streams() == 0

    def broken(**kw):
        raise RuntimeError('database went away')
    body = app(wz_test.EnvironBuilder('/v1/events/stream',
                                      headers=PROJECT_A).get_environ(),
               lambda status, headers, exc=None: None)
    monkeypatch.setattr(db_events, 'list_events', broken)
    chunks = iter(body)
    assert b'caas events' in next(chunks)
    with pytest.raises(RuntimeError):
        next(chunks)
    assert events_api.open_streams() == 0
    body.close()
    assert events_api.open_streams() == 0


# -- the page ----------------------------------------------------------------

def test_dashboard_files_are_served_with_a_strict_policy(api):
    resp = api.get('/dashboard')
    assert resp.status_code == 301
    assert resp.headers['Location'].endswith('/dashboard/')
    page = api.get('/dashboard/')
    assert page.status_code == 200
    assert page.mimetype == 'text/html'
    assert b'dashboard.js' in page.data
    csp = page.headers['Content-Security-Policy']
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert page.headers['X-Content-Type-Options'] == 'nosniff'
    js = api.get('/dashboard/dashboard.js')
    assert js.status_code == 200 and b'X-Auth-Token' in js.data
    assert b'sessionStorage' in js.data and b'innerHTML' not in js.data
    assert api.get('/dashboard/dashboard.css').status_code == 200
    for bad in ('/dashboard/../app.py', '/dashboard/nope.js',
                '/dashboard/%2e%2e/app.py'):
        resp = api.get(bad)
        assert resp.status_code == 404, bad
        assert resp.json_body['errors'][0]['status'] == 404
    assert api.post('/dashboard/').status_code == 405


def test_dashboard_needs_no_token_but_its_data_does(database, rpc, cloud,
                                                    conf):
    conf('auth_strategy', 'keystone')
    api_app.build_app(CONF, rpcapi=rpc, cloud=cloud)
    conf('www_authenticate_uri', 'http://keystone.example.com:5000',
         group='keystone_authtoken')
    client = wz_test.Client(api_app.build_app(CONF, rpcapi=rpc, cloud=cloud))
    assert client.get('/dashboard/').status_code == 200
    for path in ('/v1/events', '/v1/events/stream', '/v1/conductors',
                 '/v1/clusters/x/events'):
        assert client.get(path).status_code == 401, path
