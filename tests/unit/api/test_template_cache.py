"""The template list and show, remembered per process (SQLite and
PostgreSQL): a current answer costs one statement of one row outside any
transaction, and no answer is ever served stale after a committed write
of a template - the API's, another connection's or another process's."""

import json
import subprocess
import sys
import threading

import pytest
import sqlalchemy as sa

from caas.db import api as db_api
from caas.db import template_pages
from caas.db.sqlalchemy import engine
from caas.db.sqlalchemy import models
from tests.unit.api import test_statements
from tests.unit.api.conftest import ADMIN
from tests.unit.api.conftest import PROJECT_A
from tests.unit.api.conftest import PROJECT_B
from tests.unit.api.conftest import race
from tests.unit.api.conftest import template_body

# Every test runs on SQLite and on PostgreSQL, statements counted.
backend = test_statements.backend
database = test_statements.database
wire = test_statements.wire


@pytest.fixture
def cache(monkeypatch):
    """A cache of this test's own, its hits and misses counted."""
    fresh = template_pages.Cache()
    monkeypatch.setattr(template_pages, 'CACHE', fresh)
    return fresh


def _names(api, headers=PROJECT_A, query=''):
    resp = api.get('/v1/clustertemplates' + query, headers=headers)
    assert resp.status_code == 200, resp.json_body
    return {t['uuid']: t['name'] for t in resp.json_body['clustertemplates']}


def _create(api, name, headers=PROJECT_A, **kw):
    resp = api.post('/v1/clustertemplates', template_body(name=name, **kw),
                    headers=headers)
    assert resp.status_code == 201, resp.json_body
    return resp.json_body['uuid']


def _rename_elsewhere(uuid, name):
    """A write by another process: a plain driver connection of its own
    in a Python process of its own, no caas code."""
    url = engine.get_engine().url
    if url.get_backend_name() == 'sqlite':
        code = ('import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); '
                'c.execute("UPDATE cluster_templates SET name = ? '
                'WHERE uuid = ?", (sys.argv[2], sys.argv[3])); c.commit()')
        target = url.database
    else:
        code = ('import psycopg2, sys; c = psycopg2.connect(sys.argv[1]); '
                'c.cursor().execute("UPDATE cluster_templates SET name = %s '
                'WHERE uuid = %s", (sys.argv[2], sys.argv[3])); c.commit()')
        target = url.set(drivername='postgresql').render_as_string(
            hide_password=False)
    subprocess.run([sys.executable, '-c', code, target, name, uuid],
                   check=True, timeout=120)


def test_a_current_list_is_one_statement_of_one_row(api, cache, backend):
    uuids = {_create(api, 't%d' % i) for i in range(3)}
    first = api.get('/v1/clustertemplates', headers=PROJECT_A)
    assert (cache.hits, cache.misses) == (0, 1)
    for _ in range(3):
        with wire() as log:
            again = api.get('/v1/clustertemplates', headers=PROJECT_A)
        assert again.data == first.data
        # One SELECT, outside a transaction: no BEGIN, no COMMIT.
        assert len(log) == 1 and log[0].startswith('SELECT'), log
    assert (cache.hits, cache.misses) == (3, 1)
    assert set(_names(api)) == uuids


def test_a_changed_list_is_read_with_its_counter_in_one_more_statement(
        api, cache, backend):
    uuid = _create(api, 'old')
    _names(api)
    assert api.patch('/v1/clustertemplates/%s' % uuid, [
        {'op': 'replace', 'path': '/name', 'value': 'new'}],
        headers=PROJECT_A).status_code == 200
    with wire() as log:
        assert _names(api) == {uuid: 'new'}
    # The counter, then the page with its counter; still no transaction.
    assert len(log) == 2 and all(s.startswith('SELECT') for s in log), log
    assert (cache.hits, cache.misses) == (0, 2)


def test_every_api_write_is_listed_at_once(api, cache, backend):
    first = _create(api, 'first')
    assert _names(api) == {first: 'first'}
    second = _create(api, 'second')
    assert _names(api) == {first: 'first', second: 'second'}
    assert api.patch('/v1/clustertemplates/%s' % first, [
        {'op': 'add', 'path': '/labels', 'value': {'a': 'b'}}],
        headers=PROJECT_A).status_code == 200
    listed = api.get('/v1/clustertemplates', headers=PROJECT_A).json_body
    assert {t['uuid']: t['labels'] for t in listed['clustertemplates']}[
        first] == {'a': 'b'}
    assert api.delete('/v1/clustertemplates/%s' % second,
                      headers=PROJECT_A).status_code == 204
    assert _names(api) == {first: 'first'}
    assert cache.hits == 0


def test_writes_outside_the_api_are_listed_at_once(api, cache, backend):
    uuid = _create(api, 'api')
    assert _names(api) == {uuid: 'api'}
    # caas's database functions (caas-manage, scripts) ...
    db_api.update_cluster_template(uuid, {'name': 'db'})
    assert _names(api) == {uuid: 'db'}
    made = db_api.create_cluster_template(dict(
        template_body(name='made'), project_id='project-a'))
    assert _names(api) == {uuid: 'db', made.uuid: 'made'}
    db_api.destroy_cluster_template(made.uuid)
    assert _names(api) == {uuid: 'db'}
    # ... a statement of the ORM's or of plain SQL ...
    with engine.session_scope() as session:
        session.execute(sa.update(models.ClusterTemplate).values(
            name='orm'))
    assert _names(api) == {uuid: 'orm'}
    # ... another process, with nothing of caas ...
    _rename_elsewhere(uuid, 'elsewhere')
    assert _names(api) == {uuid: 'elsewhere'}
    assert api.get('/v1/clustertemplates/elsewhere',
                   headers=PROJECT_A).json_body['uuid'] == uuid
    # ... and a delete of every row (SQLite's DELETE without WHERE,
    # PostgreSQL's TRUNCATE).
    with engine.session_scope() as session:
        if backend == 'sqlite':
            session.execute(sa.text('DELETE FROM cluster_templates'))
        else:
            session.execute(sa.text('TRUNCATE cluster_templates'))
    assert _names(api) == {}
    assert api.get('/v1/clustertemplates/%s' % uuid,
                   headers=PROJECT_A).status_code == 404
    assert cache.hits == 0


def test_a_rolled_back_write_keeps_the_page(api, cache, backend):
    uuid = _create(api, 'kept')
    _names(api)
    with pytest.raises(RuntimeError):
        with engine.session_scope() as session:
            session.execute(sa.update(models.ClusterTemplate).values(
                name='rolled back'))
            raise RuntimeError('abandoned')
    assert _names(api) == {uuid: 'kept'}
    assert cache.hits == 1


def test_each_caller_gets_its_own_view(api, cache, backend):
    """Proxy credentials are the owner's to see, hidden templates the
    administrator's to list: answers are remembered per caller's view."""
    secret = 'http://user:pw@proxy:3128'
    public = _create(api, 'public', http_proxy=secret)
    # Publishing is an administrator's (policy): done here in the database.
    db_api.update_cluster_template(public, {'public': True})
    hidden = _create(api, 'hidden', headers=ADMIN, hidden=True)

    def proxies(headers):
        body = api.get('/v1/clustertemplates', headers=headers).json_body
        return {t['uuid']: t['http_proxy'] for t in body['clustertemplates']}
    for _ in range(2):
        assert proxies(PROJECT_A) == {public: secret}
        other = proxies(PROJECT_B)
        assert set(other) == {public} and 'pw' not in other[public]
        admin = proxies(ADMIN)
        assert set(admin) == {public, hidden} and admin[public] == secret
        assert set(_names(api, ADMIN, '?all_projects=true')) == {
            public, hidden}
    assert (cache.hits, cache.misses) == (4, 4)


def test_a_list_with_a_marker_is_read_as_before(api, cache, backend):
    uuids = sorted((_create(api, 't%d' % i) for i in range(3)))
    first = api.get('/v1/clustertemplates?limit=1',
                    headers=PROJECT_A).json_body
    assert 'next' in first
    marker = first['clustertemplates'][0]['uuid']
    assert set(_names(api, query='?marker=%s' % marker)) == \
        set(uuids) - {marker}
    assert (cache.hits, cache.misses) == (0, 1)


def test_a_bad_sort_key_is_still_refused(api, cache, backend):
    resp = api.get('/v1/clustertemplates?sort_key=labels',
                   headers=PROJECT_A)
    assert resp.status_code == 400
    assert len(cache) == 0


def test_a_current_show_is_one_statement(api, cache, backend):
    uuid = _create(api, 'shown')
    first = api.get('/v1/clustertemplates/%s' % uuid, headers=PROJECT_A)
    assert first.status_code == 200
    for ident in (uuid, 'shown'):
        api.get('/v1/clustertemplates/%s' % ident, headers=PROJECT_A)
        with wire() as log:
            again = api.get('/v1/clustertemplates/%s' % ident,
                            headers=PROJECT_A)
        assert again.data == first.data
        assert len(log) == 1 and log[0].startswith('SELECT'), log
    assert (cache.hits, cache.misses) == (3, 2)


def test_show_follows_renames_deletes_and_publishing(api, cache, backend):
    uuid = _create(api, 'one')
    assert api.get('/v1/clustertemplates/one',
                   headers=PROJECT_A).status_code == 200
    assert api.get('/v1/clustertemplates/%s' % uuid,
                   headers=PROJECT_B).status_code == 404
    db_api.update_cluster_template(uuid, {'name': 'two'})
    assert api.get('/v1/clustertemplates/one',
                   headers=PROJECT_A).status_code == 404
    assert api.get('/v1/clustertemplates/two',
                   headers=PROJECT_A).json_body['uuid'] == uuid
    # Another project sees it once it is public.
    db_api.update_cluster_template(uuid, {'public': True})
    assert api.get('/v1/clustertemplates/%s' % uuid,
                   headers=PROJECT_B).status_code == 200
    # A second template of that name makes the name ambiguous.
    _create(api, 'two')
    assert api.get('/v1/clustertemplates/two',
                   headers=PROJECT_A).status_code == 409
    assert api.get('/v1/clustertemplates/%s' % uuid,
                   headers=PROJECT_A).status_code == 200
    assert api.delete('/v1/clustertemplates/%s' % uuid,
                      headers=PROJECT_A).status_code == 204
    assert api.get('/v1/clustertemplates/%s' % uuid,
                   headers=PROJECT_A).status_code == 404


def test_a_remembered_miss_is_not_served_after_the_create(api, cache,
                                                          backend):
    for _ in range(2):
        assert api.get('/v1/clustertemplates/later',
                       headers=PROJECT_A).status_code == 404
    assert cache.hits == 1
    uuid = _create(api, 'later')
    assert api.get('/v1/clustertemplates/later',
                   headers=PROJECT_A).json_body['uuid'] == uuid


def _listed_name(cache):
    rows = template_pages.template_list(scope='project-a', limit=1000,
                                        cache=cache)
    return rows[0].name


def test_workers_never_list_a_write_committed_before_the_list(api,
                                                              backend):
    """Two processes' worth of caches list while another connection
    commits renames: a list that starts after a rename committed shows it
    (or a later one), whichever cache answers."""
    uuid = _create(api, 'n0')
    caches = [template_pages.Cache(), template_pages.Cache()]
    committed = [0]
    stop = threading.Event()
    failures = []

    def writer():
        try:
            for value in range(1, 80):
                db_api.update_cluster_template(uuid, {'name': 'n%d' % value})
                committed[0] = value
        finally:
            stop.set()

    def reader(cache):
        while not stop.is_set():
            floor = committed[0]
            seen = int(_listed_name(cache)[1:])
            if seen < floor:
                failures.append((floor, seen))

    race(writer, reader, caches)
    assert not failures, failures[:10]
    assert sum(c.hits for c in caches) > 0
    assert sum(c.misses for c in caches) > 10
    assert [_listed_name(c) for c in caches] == ['n79'] * 2


def test_the_cache_is_bounded():
    cache = template_pages.Cache(max_entries=2)
    cache.put('a', template_pages.Entry(1, 'A'))
    cache.put('b', template_pages.Entry(1, 'B'))
    cache.get('a')
    cache.put('c', template_pages.Entry(1, 'C'))
    assert cache.get('b') is None and cache.get('a') and cache.get('c')
    assert len(cache) == 2


def test_the_counter_has_one_row_after_the_migration(backend):
    with engine.session_scope(readonly=True) as session:
        rows = session.execute(sa.select(
            models.ClusterTemplateChange.id)).all()
    assert [r.id for r in rows] == [1]
    assert template_pages.supported()


def test_the_cached_body_is_the_uncached_one(api, cache, backend,
                                             monkeypatch):
    _create(api, 'a', labels={'x': '1'})
    db_api.update_cluster_template(
        _create(api, 'b', headers=PROJECT_B, http_proxy='http://u:p@x:1'),
        {'public': True})
    remembered = api.get('/v1/clustertemplates', headers=PROJECT_A)
    monkeypatch.setattr(template_pages, 'supported', lambda: False)
    plain = api.get('/v1/clustertemplates', headers=PROJECT_A)
    assert json.loads(remembered.data) == json.loads(plain.data)
    assert remembered.data == plain.data
