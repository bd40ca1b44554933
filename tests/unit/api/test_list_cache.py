"""The cluster list's remembered pages (PostgreSQL): a current page is
answered from memory in the statements of one look-up, and no page is
ever served stale after a committed write - the API's, a conductor's or
another API worker's, whatever process remembers it."""

import threading

import pytest
import sqlalchemy as sa

from caas.conf import CONF
from caas.db import api as db_api
from caas.db import cluster_pages
from caas.db import migration
from caas.db import operations as db_ops
from caas.db.sqlalchemy import engine
from caas.db.sqlalchemy import models
from caas.api import views
from tests.unit.api import test_statements
from tests.unit.api.conftest import ADMIN
from tests.unit.api.conftest import LATEST
from tests.unit.api.conftest import PROJECT_A
from tests.unit.api.conftest import PROJECT_B
from tests.unit.api.conftest import race
from tests.unit.api.conftest import settle
from tests.unit.api.conftest import template_body


@pytest.fixture
def database(services):
    """PostgreSQL, its statements counted on the wire."""
    from tests.integration import deployment
    CONF.set_override('connection',
                      deployment.create_database(services['db_url']),
                      group='database')
    engine.dispose()
    migration.upgrade()
    engine.dispose()
    for readonly in (False, True):
        test_statements._wire_counting(engine.get_engine(readonly))
    test_statements._wire_counting(engine.get_autocommit_engine())
    yield
    engine.dispose()
    CONF.clear_override('connection', group='database')


@pytest.fixture
def cache(monkeypatch):
    """A cache of this test's own, its hits and misses counted."""
    fresh = cluster_pages.PageCache()
    monkeypatch.setattr(cluster_pages, 'CACHE', fresh)
    return fresh


def _list(api, headers=PROJECT_A, query=''):
    resp = api.get('/v1/clusters' + query, headers=headers)
    assert resp.status_code == 200, resp.json_body
    return {c['uuid']: c for c in resp.json_body['clusters']}


def _page_reads(log):
    """The page's statement: its SQL, or the EXECUTE of it prepared."""
    return [s for s in log if 'json_agg' in s or
            s.startswith('EXECUTE caas_cluster_page_')]


def test_a_current_page_is_remembered_in_one_look_up(api, make_cluster,
                                                     cache):
    uuids = {make_cluster('c%d' % i) for i in range(3)}
    first = api.get('/v1/clusters', headers=PROJECT_A)
    assert (cache.hits, cache.misses) == (0, 1)
    for _ in range(3):
        with test_statements.wire() as log:
            again = api.get('/v1/clusters', headers=PROJECT_A)
        assert again.data == first.data
        # The one statement, prepared on the connection by the first
        # list, outside a transaction: no BEGIN, no COMMIT.
        assert _page_reads(log) == log and len(log) == 1, log
        assert log[0].startswith('EXECUTE'), log
    assert (cache.hits, cache.misses) == (3, 1)
    assert set(_list(api)) == uuids


def test_a_create_through_the_api_is_listed_at_once(api, make_cluster,
                                                    cache):
    make_cluster('c0')
    _list(api)
    _list(api)
    new = make_cluster('c1')
    with test_statements.wire() as log:
        listed = _list(api)
    assert new in listed
    assert len(log) == 1, log
    assert cache.misses == 2


def test_conductor_writes_are_listed_at_once(api, make_cluster, cache):
    uuid = make_cluster('c0')
    assert _list(api)[uuid]['status'] == 'CREATE_IN_PROGRESS'
    settle(uuid)
    assert _list(api)[uuid]['status'] == 'CREATE_COMPLETE'
    _list(api)
    hits = cache.hits
    assert db_ops.record_health_many([(uuid, 'UNHEALTHY', {})]) == 1
    assert _list(api)[uuid]['health_status'] == 'UNHEALTHY'
    assert cache.hits == hits
    with engine.session_scope() as session:
        session.execute(sa.delete(models.NodeGroup).where(
            models.NodeGroup.cluster_id == uuid))
        session.execute(sa.delete(models.Cluster).where(
            models.Cluster.uuid == uuid))
    assert _list(api) == {}


def test_another_projects_write_keeps_the_page_but_not_all_projects(
        api, make_cluster, cache):
    mine = make_cluster('mine')
    other_template = api.post('/v1/clustertemplates', template_body(),
                              headers=PROJECT_B).json_body['uuid']
    theirs = make_cluster('theirs', headers=PROJECT_B,
                          cluster_template_id=other_template)
    all_projects = '?all_projects=true'
    assert set(_list(api, ADMIN, all_projects)) == {mine, theirs}
    _list(api)
    hits = cache.hits
    settle(theirs)
    _list(api)
    assert cache.hits == hits + 1
    assert _list(api, ADMIN, all_projects)[theirs]['status'] == \
        'CREATE_COMPLETE'
    assert cache.hits == hits + 1


def test_each_request_shape_is_a_page_of_its_own(api, make_cluster, cache):
    uuids = [make_cluster('c%d' % i) for i in range(3)]
    whole = _list(api, dict(PROJECT_A, **LATEST))
    assert 'cluster_id' in whole[uuids[0]]
    first = api.get('/v1/clusters?limit=1', headers=PROJECT_A).json_body
    assert len(first['clusters']) == 1 and 'next' in first
    marker = first['clusters'][0]['uuid']
    rest = _list(api, query='?marker=%s' % marker)
    assert set(rest) == set(uuids) - {marker}
    newest_first = api.get('/v1/clusters?sort_dir=desc',
                           headers=dict(PROJECT_A, **LATEST)
                           ).json_body['clusters']
    assert [c['uuid'] for c in newest_first] == list(reversed(list(whole)))
    old = api.get('/v1/clusters', headers=dict(
        PROJECT_A, **{'OpenStack-API-Version': 'container-infra 1.1'}))
    assert 'cluster_id' not in old.json_body['clusters'][0]
    assert cache.hits == 0
    # The same shapes again: each from its own page.
    assert _list(api, query='?marker=%s' % marker) == rest
    assert cache.hits == 1


def test_a_stale_page_is_replaced_in_the_same_statement(api, make_cluster,
                                                        cache):
    uuid = make_cluster('c0')
    _list(api)
    settle(uuid)
    with test_statements.wire() as log:
        assert _list(api)[uuid]['status'] == 'CREATE_COMPLETE'
    assert len(_page_reads(log)) == 1 and len(log) == 1, log


def _node_count(page_text, uuid):
    import json
    return {c['uuid']: c for c in json.loads(page_text)}[uuid]['node_count']


def test_two_workers_never_list_a_write_committed_before_the_list(
        api, make_cluster):
    """Two API workers (two caches) list while a conductor commits writes:
    a list that starts after a write committed shows it (or a later one),
    whichever worker answers, however its cache was filled."""
    uuid = make_cluster('c0')
    settle(uuid)
    workers = [cluster_pages.PageCache(), cluster_pages.PageCache()]
    committed = [0]
    stop = threading.Event()
    failures = []
    served = []

    def conductor():
        for value in range(1, 120):
            with engine.session_scope() as session:
                session.execute(sa.update(models.Cluster).where(
                    models.Cluster.uuid == uuid).values(node_count=value))
            committed[0] = value
        stop.set()

    def worker(cache):
        while not stop.is_set():
            floor = committed[0]
            text, _, _ = cluster_pages.summary_page(
                scope='project-a', fields=views.CLUSTER_SUMMARY,
                base_url='http://x', limit=1000, cache=cache)
            seen = _node_count(text, uuid)
            served.append(seen)
            if seen < floor:
                failures.append((floor, seen))

    race(conductor, worker, workers)
    assert not failures, failures[:10]
    # Both paths ran: pages from memory and pages read again.
    assert sum(c.hits for c in workers) > 0
    assert sum(c.misses for c in workers) > 10
    # And after the last commit every worker lists the last value.
    for cache in workers:
        text, _, _ = cluster_pages.summary_page(
            scope='project-a', fields=views.CLUSTER_SUMMARY,
            base_url='http://x', limit=1000, cache=cache)
        assert _node_count(text, uuid) == 119


def _each_worker_sees_each_write(uuid, workers, count):
    """Each worker answers twice (the second from memory), a write of the
    cluster's node count commits, and each answers with it at once."""
    for value in (2, 3, 4):
        assert [count(w) for w in workers for _ in range(2)] == \
            [value - 1] * 4
        with engine.session_scope() as session:
            session.execute(sa.update(models.Cluster).where(
                models.Cluster.uuid == uuid).values(node_count=value))
        assert [count(w) for w in workers] == [value] * 2
    assert [(w.hits, w.misses) for w in workers] == [(5, 4)] * 2


def test_a_page_remembered_before_a_write_is_not_served_after_it(
        api, make_cluster):
    """Each of two workers remembers the page, a write commits, and each
    lists the write at its next request."""
    uuid = make_cluster('c0')
    settle(uuid)
    workers = [cluster_pages.PageCache(), cluster_pages.PageCache()]

    def count(cache):
        text, _, _ = cluster_pages.summary_page(
            scope='project-a', fields=views.CLUSTER_SUMMARY,
            base_url='http://x', limit=1000, cache=cache)
        return _node_count(text, uuid)

    _each_worker_sees_each_write(uuid, workers, count)


def test_a_page_statement_is_prepared_once_per_connection(
        api, make_cluster, cache):
    make_cluster('c0')
    with test_statements.wire() as log:
        first = _list(api)
    # PREPARE and EXECUTE in one round trip.
    assert len(log) == 1 and log[0].startswith('PREPARE'), log
    assert '; EXECUTE caas_cluster_page_' in log[0]
    make_cluster('c1')
    with test_statements.wire() as log:
        second = _list(api)
    assert [s.split('(')[0] for s in log] == [
        log[0].split('(')[0]] and log[0].startswith('EXECUTE'), log
    assert set(second) > set(first)


def test_a_statement_the_connection_kept_from_a_failed_run_is_used(
        api, make_cluster, cache):
    """PREPARE outlives an EXECUTE that failed after it in the same round
    trip: the next list on that connection finds it prepared already."""
    uuid = make_cluster('c0')
    _list(api)
    with engine.get_autocommit_engine().connect() as conn:
        conn.connection.info[cluster_pages._PREPARED_KEY].clear()
    settle(uuid)
    with test_statements.wire() as log:
        assert _list(api)[uuid]['status'] == 'CREATE_COMPLETE'
    assert log[0].startswith('PREPARE') and log[1].startswith('EXECUTE')
    assert len(log) == 2, log
    with test_statements.wire() as log:
        assert _list(api)[uuid]['status'] == 'CREATE_COMPLETE'
    assert len(log) == 1 and log[0].startswith('EXECUTE'), log


def test_shapes_beyond_the_bound_run_unprepared(api, make_cluster, cache,
                                                monkeypatch):
    monkeypatch.setattr(cluster_pages, 'MAX_PREPARED', 1)
    uuid = make_cluster('c0')
    _list(api)
    latest = dict(PROJECT_A, **LATEST)
    for _ in range(2):
        with test_statements.wire() as log:
            assert 'cluster_id' in _list(api, latest)[uuid]
        assert len(log) == 1 and log[0].startswith('SELECT'), log


def test_links_with_quotes_and_percent_signs_come_back_as_written(
        api, make_cluster, cache, conf):
    """Values are written into the prepared SQL by the driver's quoting:
    an endpoint with quotes, percent signs and placeholders in it is text."""
    endpoint = "http://h/o'k%(known)s%%s$1"
    conf('public_endpoint', endpoint, group='api')
    uuid = make_cluster('c0')
    for _ in range(2):
        links = _list(api)[uuid]['links']
        assert links[0]['href'] == '%s/v1/clusters/%s' % (endpoint, uuid)


def test_a_remembered_body_is_its_own_request_shapes(api, make_cluster,
                                                     cache, conf):
    """The body (with its next link) is made once per page and served from
    memory after: each scope and base URL still gets its own."""
    for i in range(3):
        make_cluster('c%d' % i)
    mine, every = '/v1/clusters?limit=1', '/v1/clusters?limit=1&all_projects=1'
    for _ in range(2):
        own = api.get(mine, headers=PROJECT_A).json_body
        assert own['next'].startswith('http://localhost/v1/clusters?')
        assert 'all_projects' not in own['next']
        admin = api.get(every, headers=ADMIN).json_body
        assert 'all_projects=true' in admin['next']
    assert cache.hits == 2
    conf('public_endpoint', 'https://api.example', group='api')
    for _ in range(2):
        moved = api.get(mine, headers=PROJECT_A).json_body
        assert moved['next'].startswith('https://api.example/v1/clusters?')
        assert moved['clusters'][0]['links'][0]['href'].startswith(
            'https://api.example/v1/clusters/')
    assert cache.hits == 3


def test_the_cache_is_bounded_by_bytes():
    cache = cluster_pages.PageCache(max_bytes=10)
    page = cluster_pages.Page(b'12345', 1, 'u', 1)
    cache.put('a', page)
    cache.put('b', page)
    cache.get('a')
    cache.put('c', page)
    # The least recently used went first; a page larger than all is kept
    # nowhere.
    assert cache.get('b') is None and cache.get('a') and cache.get('c')
    cache.put('big', cluster_pages.Page(b'x' * 11, 1, 'u', 1))
    assert cache.get('big') is None and cache.get('a') and cache.get('c')


def test_other_databases_keep_the_row_path(db):
    """SQLite has no counter triggers; its lists are never remembered."""
    assert not cluster_pages.supported()
    assert db_api.list_clusters(scope='p', summary=True) == []


# -- GET /v1/clusters/<ident>: the remembered show ---------------------------

@pytest.fixture
def shown(monkeypatch):
    """A show cache of this test's own, its hits and misses counted."""
    fresh = cluster_pages.ShowCache()
    monkeypatch.setattr(cluster_pages, 'SHOWN', fresh)
    return fresh


def _show(api, ident, headers=PROJECT_A, status=200):
    resp = api.get('/v1/clusters/%s' % ident, headers=headers)
    assert resp.status_code == status, resp.json_body
    return resp


def test_a_current_show_is_remembered_in_one_statement(api, make_cluster,
                                                       shown):
    uuid = make_cluster('c0')
    first = _show(api, uuid)
    assert (shown.hits, shown.misses) == (0, 1)
    for _ in range(3):
        with test_statements.wire() as log:
            again = _show(api, uuid)
        assert again.data == first.data
        assert again.headers['Content-Type'] == 'application/json'
        # The counters only, outside a transaction: no BEGIN, no COMMIT.
        assert len(log) == 1 and 'cluster_changes' in log[0], log
    assert (shown.hits, shown.misses) == (3, 1)
    # By name too (its own entry), the same body.
    assert _show(api, 'c0').data == first.data
    assert _show(api, 'c0').data == first.data
    assert (shown.hits, shown.misses) == (4, 2)


def test_the_show_is_the_row_paths(api, make_cluster, shown, monkeypatch):
    """Same bodies as without the memory, at every microversion and
    base URL, for a UUID and a name, and the same errors."""
    uuid = make_cluster('c0')
    make_cluster('twin')
    make_cluster('twin')
    requests = [(uuid, PROJECT_A), ('c0', PROJECT_A), (uuid, ADMIN),
                (uuid, dict(PROJECT_A, **{'OpenStack-API-Version':
                                          'container-infra 1.1'})),
                (uuid, dict(PROJECT_A, Host='other.example.com:9511')),
                ('twin', PROJECT_A), ('nothing', PROJECT_A),
                (uuid, PROJECT_B), (uuid, dict(PROJECT_A, **LATEST))]

    def answers():
        out = []
        for ident, headers in requests * 2:
            resp = api.get('/v1/clusters/%s' % ident, headers=headers)
            body = resp.json_body
            if resp.status_code >= 400:
                body = body['errors'][0]['detail']
            out.append((resp.status_code, body))
        return out

    remembered = answers()
    assert [s for s, _ in remembered[:9]] == \
        [200, 200, 200, 200, 200, 409, 404, 404, 200]
    assert shown.hits >= 9
    monkeypatch.setattr(cluster_pages, 'supported', lambda: False)
    assert answers() == remembered
    assert remembered[4][1]['links'][0]['href'].startswith(
        'http://other.example.com:9511/')
    assert 'cluster_id' in remembered[8][1]
    assert 'cluster_id' not in remembered[3][1]


def test_no_show_is_served_stale_after_a_write(api, make_cluster, shown):
    """The API's writes, a conductor's, a template's labels, a delete:
    each is shown by the next GET, by UUID and by name."""
    uuid = make_cluster('c0', labels={'a': '1'})
    for ident in (uuid, 'c0'):
        assert _show(api, ident).json_body['status'] == 'CREATE_IN_PROGRESS'
    settle(uuid)
    for ident in (uuid, 'c0'):
        assert _show(api, ident).json_body['status'] == 'CREATE_COMPLETE'
        _show(api, ident)
    resp = api.patch('/v1/clusters/%s' % uuid,
                     [{'op': 'replace', 'path': '/health_status',
                       'value': 'UNHEALTHY'}], headers=PROJECT_A)
    assert resp.status_code == 202, resp.json_body
    for ident in (uuid, 'c0'):
        assert _show(api, ident).json_body['health_status'] == 'UNHEALTHY'
    assert db_ops.record_health_many([(uuid, 'HEALTHY', {})]) == 1
    for ident in (uuid, 'c0'):
        assert _show(api, ident).json_body['health_status'] == 'HEALTHY'
    # The template's labels (the full view compares the cluster's with
    # them), written behind the API's back.
    before = _show(api, uuid).json_body
    with engine.session_scope() as session:
        session.execute(sa.update(models.ClusterTemplate).values(
            labels={'a': '2', 'b': '3'}))
    after = _show(api, uuid).json_body
    assert after['labels_overridden'] != before['labels_overridden']
    assert after['labels_overridden'] == {'a': '2'}
    # Renamed: the old name is gone, the new one found.
    with engine.session_scope() as session:
        session.execute(sa.update(models.Cluster).where(
            models.Cluster.uuid == uuid).values(name='c9'))
    _show(api, 'c0', status=404)
    assert _show(api, 'c9').json_body['uuid'] == uuid
    # Deleted through the API, then gone from the database.
    assert api.delete('/v1/clusters/%s' % uuid,
                      headers=PROJECT_A).status_code == 204
    for ident in (uuid, 'c9'):
        assert _show(api, ident).json_body['status'] == 'DELETE_IN_PROGRESS'
    with engine.session_scope() as session:
        session.execute(sa.delete(models.NodeGroup).where(
            models.NodeGroup.cluster_id == uuid))
        session.execute(sa.delete(models.Cluster).where(
            models.Cluster.uuid == uuid))
    for ident in (uuid, 'c9'):
        _show(api, ident, status=404)
    assert shown.hits == 3


def test_a_show_is_never_served_across_projects(api, make_cluster, shown):
    """A show remembered for one project is not another's: a cluster of A
    is 404 to B before and after A's show is remembered; each project's
    cluster of the same name is its own; an administrator reaches both by
    UUID."""
    mine = make_cluster('same')
    other_template = api.post('/v1/clustertemplates', template_body(),
                              headers=PROJECT_B).json_body['uuid']
    theirs = make_cluster('same', headers=PROJECT_B,
                          cluster_template_id=other_template)
    for _ in range(2):
        assert _show(api, 'same').json_body['uuid'] == mine
        assert _show(api, 'same', PROJECT_B).json_body['uuid'] == theirs
        _show(api, mine, PROJECT_B, status=404)
        _show(api, theirs, PROJECT_A, status=404)
        assert _show(api, theirs, ADMIN).json_body['uuid'] == theirs
        assert _show(api, mine, ADMIN).json_body['uuid'] == mine
    # B's write changes nothing A may see, and is seen by B and the
    # administrator at once.
    hits = shown.hits
    settle(theirs)
    _show(api, 'same')
    assert shown.hits == hits + 1
    assert _show(api, 'same', PROJECT_B).json_body['status'] == \
        'CREATE_COMPLETE'
    assert _show(api, theirs, ADMIN).json_body['status'] == \
        'CREATE_COMPLETE'


def test_two_workers_never_show_a_write_committed_before_the_show(
        api, make_cluster):
    """Each of two workers remembers the show, another writes, and each
    shows the write at its next request."""
    uuid = make_cluster('c0')
    workers = [cluster_pages.ShowCache(), cluster_pages.ShowCache()]

    def count(cache):
        return cluster_pages.get_cluster(uuid, scope='project-a',
                                         cache=cache).row.node_count

    _each_worker_sees_each_write(uuid, workers, count)
