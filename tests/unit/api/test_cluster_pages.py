"""The summary list whose JSON PostgreSQL builds must be the very page the
row path builds: same clusters, order, fields, values and next link, for
every sort key and direction, markers, NULL sort values, labels, another
project's rows, all_projects and microversion 1.13's cluster_id."""

import pytest
import sqlalchemy as sa

from caas.conf import CONF
from caas.db import cluster_pages
from caas.db import migration
from caas.db.sqlalchemy import engine
from caas.db.sqlalchemy import models
from tests.unit.api.conftest import ADMIN
from tests.unit.api.conftest import LATEST
from tests.unit.api.conftest import PROJECT_A
from tests.unit.api.conftest import PROJECT_B
from tests.unit.api.conftest import template_body


@pytest.fixture
def database(services):
    """PostgreSQL instead of the api fixture's SQLite."""
    admin = services['db_url']
    from tests.integration import deployment
    CONF.set_override('connection', deployment.create_database(admin),
                      group='database')
    engine.dispose()
    migration.upgrade()
    yield
    engine.dispose()
    CONF.clear_override('connection', group='database')


@pytest.fixture
def clusters(api, make_cluster):
    uuids = [make_cluster('c%d' % i, labels={'k': 'v%d' % i, 'n': 'x"y'})
             for i in range(7)]
    other = api.post('/v1/clustertemplates', template_body(),
                     headers=PROJECT_B).json_body['uuid']
    uuids.append(make_cluster('other', headers=PROJECT_B,
                              cluster_template_id=other))
    # Sort values with NULLs and ties, and one stack id (cluster_id).
    with engine.session_scope() as session:
        for i, uuid in enumerate(uuids):
            session.execute(sa.update(models.Cluster).where(
                models.Cluster.uuid == uuid).values(
                    stack_id=None if i % 3 else 'stack-%d' % i,
                    keypair=None if i == 2 else 'kp%d' % (i % 2),
                    create_timeout=None if i % 2 else 60))
    return uuids


def _both(api, monkeypatch, path, headers):
    fast = api.get(path, headers=headers)
    with monkeypatch.context() as m:
        m.setattr(cluster_pages, 'supported', lambda: False)
        rows = api.get(path, headers=headers)
    return fast, rows


QUERIES = ['', '?limit=3', '?sort_key=keypair', '?sort_key=keypair&'
           'sort_dir=desc&limit=2', '?sort_key=stack_id&limit=4',
           '?sort_key=create_timeout&sort_dir=desc', '?sort_key=name&'
           'sort_dir=desc&limit=7', '?limit=1000']


@pytest.mark.parametrize('query', QUERIES)
def test_prebuilt_page_is_the_row_page(api, clusters, monkeypatch, query):
    assert cluster_pages.supported()
    fast, rows = _both(api, monkeypatch, '/v1/clusters' + query, PROJECT_A)
    assert fast.status_code == rows.status_code == 200
    assert fast.json_body == rows.json_body
    assert len(fast.json_body['clusters']) >= 1
    assert all(c['uuid'] != clusters[-1] for c in fast.json_body['clusters'])


def test_following_next_links_walks_every_row_once(api, clusters,
                                                   monkeypatch):
    for sort in ('keypair', 'stack_id', 'create_timeout'):
        for direction in ('asc', 'desc'):
            seen = []
            url = '/v1/clusters?limit=2&sort_key=%s&sort_dir=%s' % (
                sort, direction)
            while url:
                fast, rows = _both(api, monkeypatch, url, PROJECT_A)
                assert fast.json_body == rows.json_body, url
                seen += [c['uuid'] for c in fast.json_body['clusters']]
                url = fast.json_body.get('next')
                if url:
                    url = url.split('localhost', 1)[-1]
            assert sorted(seen) == sorted(clusters[:-1]), (sort, direction)


def test_latest_microversion_and_all_projects(api, clusters, monkeypatch):
    hdrs = dict(ADMIN, **LATEST)
    fast, rows = _both(api, monkeypatch,
                       '/v1/clusters?all_projects=true&limit=5', hdrs)
    assert fast.status_code == 200, fast.json_body
    assert fast.json_body == rows.json_body
    assert 'cluster_id' in fast.json_body['clusters'][0]
    assert 'all_projects=true' in fast.json_body['next']
    fast, rows = _both(api, monkeypatch, '/v1/clusters', dict(PROJECT_B,
                                                              **LATEST))
    assert fast.json_body == rows.json_body
    assert [c['uuid'] for c in fast.json_body['clusters']] == [clusters[-1]]


def test_bad_marker_is_the_same_400(api, clusters, monkeypatch):
    fast, rows = _both(api, monkeypatch, '/v1/clusters?marker=%s' %
                       clusters[-1], PROJECT_A)
    assert fast.status_code == rows.status_code == 400
    errors = [r.json_body['errors'][0] for r in (fast, rows)]
    assert errors[0]['title'] == errors[1]['title']
    assert 'marker' in errors[0]['title']


def test_empty_list(api, monkeypatch):
    fast, rows = _both(api, monkeypatch, '/v1/clusters', PROJECT_A)
    assert fast.json_body == rows.json_body == {'clusters': []}
