"""/v1/stats and /v1/quotas: Magnum's URLs, bodies and codes, and the
cluster quota enforced on create."""

import pytest

from caas.db import quotas as db_quotas
from tests.unit.api.conftest import ADMIN
from tests.unit.api.conftest import LATEST
from tests.unit.api.conftest import PROJECT_A
from tests.unit.api.conftest import PROJECT_B
from tests.unit.api.conftest import settle
from tests.unit.api.conftest import template_body

#: The quota enforced on SQLite (in the create's transaction) and on
#: PostgreSQL (the quota trigger, at the create's commit).
BOTH_BACKENDS = pytest.mark.parametrize('database', ['sqlite', 'postgresql'],
                                        indirect=True)

READER_A = {'X-Project-Id': 'project-a', 'X-User-Id': 'rita',
            'X-Roles': 'reader'}


@pytest.fixture
def database(request, tmp_path):
    """The api fixture's database: SQLite, or PostgreSQL for tests that
    say so (``BOTH_BACKENDS``)."""
    from caas.conf import CONF
    from caas.db import migration
    from caas.db.sqlalchemy import engine
    if getattr(request, 'param', 'sqlite') == 'sqlite':
        url = 'sqlite:///%s/t.sqlite' % tmp_path
    else:
        from tests.integration import deployment
        url = deployment.create_database(
            request.getfixturevalue('services')['db_url'])
    CONF.set_override('connection', url, group='database')
    engine.dispose()
    migration.upgrade()
    yield
    engine.dispose()
    CONF.clear_override('connection', group='database')


def _h(headers, version=None):
    out = dict(headers)
    out.update(LATEST if version is None else
               {'OpenStack-API-Version': 'container-infra %s' % version})
    return out


def _title(resp):
    return resp.json_body['errors'][0]['title']


def _cluster_of_b(api, name, node_count):
    tpl = api.post('/v1/clustertemplates', template_body(name='k8s-b'),
                   headers=PROJECT_B).json_body
    resp = api.post('/v1/clusters', {'name': name, 'node_count': node_count,
                                     'cluster_template_id': tpl['uuid']},
                    headers=PROJECT_B)
    assert resp.status_code == 202, resp.json_body


# -- stats --------------------------------------------------------------------

def test_stats_below_1_4_is_406(api):
    resp = api.get('/v1/stats', headers=_h(PROJECT_A, '1.3'))
    assert resp.status_code == 406
    assert '1.4' in _title(resp)


def test_stats_count_clusters_and_every_node_of_the_project(api,
                                                            make_cluster):
    make_cluster('a1', node_count=2)               # 1 master + 2 workers
    make_cluster('a2', node_count=1)               # 1 master + 1 worker
    _cluster_of_b(api, 'b1', 3)
    body = api.get('/v1/stats', headers=_h(PROJECT_A)).json_body
    assert body == {'clusters': 2, 'nodes': 5}
    assert api.get('/v1/stats', headers=_h(READER_A)).json_body == body
    # Naming one's own project is the same question.
    assert api.get('/v1/stats?project_id=project-a',
                   headers=_h(PROJECT_A)).json_body == body


def test_stats_of_another_project_is_403_for_a_member(api, make_cluster):
    make_cluster('a1')
    resp = api.get('/v1/stats?project_id=project-a', headers=_h(PROJECT_B))
    assert resp.status_code == 403
    assert 'stats:get_all' in _title(resp)


def test_admin_stats_cover_every_project_or_the_one_named(api, make_cluster):
    make_cluster('a1', node_count=2)
    _cluster_of_b(api, 'b1', 1)
    assert api.get('/v1/stats', headers=_h(ADMIN)).json_body == {
        'clusters': 2, 'nodes': 5}
    assert api.get('/v1/stats?project_id=project-b',
                   headers=_h(ADMIN)).json_body == {'clusters': 1, 'nodes': 2}
    assert api.get('/v1/stats?project_id=nobody',
                   headers=_h(ADMIN)).json_body == {'clusters': 0, 'nodes': 0}


def test_stats_type_other_than_cluster_is_400(api):
    resp = api.get('/v1/stats?type=pod', headers=_h(PROJECT_A))
    assert resp.status_code == 400
    assert 'cluster' in _title(resp)


# -- quotas CRUD --------------------------------------------------------------

def _quota(api, project='project-a', limit=2, headers=ADMIN):
    return api.post('/v1/quotas', {'project_id': project,
                                   'resource': 'Cluster',
                                   'hard_limit': limit}, headers=headers)


def test_quota_create_show_update_delete(api):
    resp = _quota(api, limit=5)
    assert resp.status_code == 201, resp.json_body
    created = resp.json_body
    assert created['project_id'] == 'project-a'
    assert created['resource'] == 'Cluster'
    assert created['hard_limit'] == 5
    assert isinstance(created['id'], int)
    shown = api.get('/v1/quotas/project-a/Cluster', headers=ADMIN).json_body
    assert shown == created
    resp = api.patch('/v1/quotas/project-a/Cluster',
                     {'project_id': 'project-a', 'resource': 'Cluster',
                      'hard_limit': 7}, headers=ADMIN)
    assert resp.status_code == 202
    assert resp.json_body['hard_limit'] == 7
    assert api.delete('/v1/quotas/project-a/Cluster',
                      headers=ADMIN).status_code == 204
    # Gone: the default applies again, and a second delete is a 404.
    shown = api.get('/v1/quotas/project-a/Cluster', headers=ADMIN).json_body
    assert shown == {'project_id': 'project-a', 'resource': 'Cluster',
                     'hard_limit': 20}
    assert api.delete('/v1/quotas/project-a/Cluster',
                      headers=ADMIN).status_code == 404


def test_quota_defaults_resource_and_hard_limit_as_magnum(api):
    resp = api.post('/v1/quotas', {'project_id': 'p'}, headers=ADMIN)
    assert resp.status_code == 201
    assert resp.json_body['resource'] == 'Cluster'
    assert resp.json_body['hard_limit'] == 1


def test_quota_of_zero_is_allowed(api):
    assert _quota(api, limit=0).status_code == 201


@pytest.mark.parametrize('body,field', [
    ({'resource': 'Cluster', 'hard_limit': 1}, 'project_id'),
    ({'project_id': '', 'hard_limit': 1}, 'project_id'),
    ({'project_id': 'p', 'resource': 'Pod'}, 'resource'),
    ({'project_id': 'p', 'hard_limit': -10}, 'hard_limit'),
    ({'project_id': 'p', 'hard_limit': 'many'}, 'hard_limit'),
    ({'project_id': 'p', 'colour': 'blue'}, 'colour'),
])
def test_bad_quota_body_is_400_naming_the_field(api, body, field):
    resp = api.post('/v1/quotas', body, headers=ADMIN)
    assert resp.status_code == 400
    assert field in _title(resp)


@pytest.mark.parametrize('raw', ['[]', '"x"', '17', 'null', '[{"op": 1}]'])
def test_quota_body_that_is_not_an_object_is_400(api, raw):
    resp = api.request('POST', '/v1/quotas', raw=raw,
                       headers=dict(ADMIN, **{'Content-Type':
                                              'application/json'}))
    assert resp.status_code == 400
    # Checked before the quota is looked up: a missing quota is a 400 too.
    resp = api.request('PATCH', '/v1/quotas/ghost/Cluster', raw=raw,
                       headers=dict(ADMIN, **{'Content-Type':
                                              'application/json'}))
    assert resp.status_code == 400


def test_duplicate_quota_is_409(api):
    assert _quota(api).status_code == 201
    resp = _quota(api)
    assert resp.status_code == 409
    assert 'project-a' in _title(resp)


def test_patch_or_delete_of_a_missing_quota_is_404(api):
    resp = api.patch('/v1/quotas/ghost/Cluster', {'hard_limit': 3},
                     headers=ADMIN)
    assert resp.status_code == 404
    assert api.delete('/v1/quotas/ghost/Cluster',
                      headers=ADMIN).status_code == 404


def test_quota_of_an_unknown_resource_is_404(api):
    assert api.get('/v1/quotas/project-a/Pod',
                   headers=ADMIN).status_code == 404


def test_member_reads_its_own_quota_only_and_writes_none(api):
    _quota(api, limit=4)
    assert api.get('/v1/quotas/project-a/Cluster',
                   headers=PROJECT_A).json_body['hard_limit'] == 4
    assert api.get('/v1/quotas/project-a/Cluster',
                   headers=READER_A).status_code == 200
    assert api.get('/v1/quotas/project-a/Cluster',
                   headers=PROJECT_B).status_code == 403
    assert _quota(api, 'project-a', 9, headers=PROJECT_A).status_code == 403
    assert api.patch('/v1/quotas/project-a/Cluster', {'hard_limit': 9},
                     headers=PROJECT_A).status_code == 403
    assert api.delete('/v1/quotas/project-a/Cluster',
                      headers=PROJECT_A).status_code == 403
    assert api.get('/v1/quotas', headers=PROJECT_A).status_code == 403
    assert api.get('/v1/quotas/project-a/Cluster',
                   headers=ADMIN).json_body['hard_limit'] == 4


def test_quota_list_is_own_project_unless_all_tenants(api):
    for project in ('admin', 'p1', 'p2', 'p3'):
        assert _quota(api, project).status_code == 201
    own = api.get('/v1/quotas', headers=ADMIN).json_body['quotas']
    assert [q['project_id'] for q in own] == ['admin']
    every = api.get('/v1/quotas?all_tenants=True',
                    headers=ADMIN).json_body['quotas']
    assert [q['project_id'] for q in every] == ['admin', 'p1', 'p2', 'p3']
    page = api.get('/v1/quotas?all_tenants=true&limit=2',
                   headers=ADMIN).json_body
    assert [q['project_id'] for q in page['quotas']] == ['admin', 'p1']
    rest = api.get(page['next'].replace('http://localhost', ''),
                   headers=ADMIN).json_body
    assert [q['project_id'] for q in rest['quotas']] == ['p2', 'p3']
    assert api.get('/v1/quotas?all_tenants=maybe',
                   headers=ADMIN).status_code == 400
    for marker in ('x', '0', '-1', '9' * 40, '1e3'):
        assert api.get('/v1/quotas?marker=%s' % marker,
                       headers=ADMIN).status_code == 400, marker
    assert api.get('/v1/quotas?marker=9999',
                   headers=ADMIN).status_code == 400


# -- the quota enforced -------------------------------------------------------

@BOTH_BACKENDS
def test_create_beyond_the_quota_is_403_naming_quota_limit_and_project(
        api, rpc, make_cluster):
    assert _quota(api, limit=2).status_code == 201
    make_cluster('a1')
    make_cluster('a2')
    casts = len(rpc.casts)
    resp = api.post('/v1/clusters', {'name': 'a3', 'cluster_template_id':
                                     'k8s'}, headers=PROJECT_A)
    assert resp.status_code == 403
    title = _title(resp)
    assert 'project-a' in title and 'Cluster' in title and ' 2 ' in title
    assert 'quota' in title.lower()
    assert len(rpc.casts) == casts
    names = [c['name'] for c in api.get(
        '/v1/clusters', headers=PROJECT_A).json_body['clusters']]
    assert sorted(names) == ['a1', 'a2']


@BOTH_BACKENDS
def test_the_403_says_which_quota_its_limit_and_the_count(api, conf,
                                                          make_cluster):
    conf('max_clusters_per_project', 1, group='quotas')
    make_cluster('a1')
    resp = api.post('/v1/clusters', {'name': 'a2', 'cluster_template_id':
                                     'k8s'}, headers=PROJECT_A)
    assert resp.status_code == 403
    assert resp.json_body['errors'][0]['detail'] == (
        'Quota exceeded for project project-a: its Cluster quota (the '
        'default, [quotas] max_clusters_per_project) is 1 and the project '
        'already has 1. Delete a cluster to make room for a new one, or '
        'ask an administrator to raise the quota.')
    _quota(api, limit=0)
    resp = api.post('/v1/clusters', {'name': 'a2', 'cluster_template_id':
                                     'k8s'}, headers=PROJECT_A)
    assert 'quota (set for the project) is 0 and the project already has ' \
        '1.' in resp.json_body['errors'][0]['detail']


@BOTH_BACKENDS
def test_a_quota_of_zero_refuses_the_first_create(api, make_cluster):
    _quota(api, limit=0)
    resp = api.post('/v1/clusters', {'name': 'a1', 'cluster_template_id':
                                     'k8s'}, headers=PROJECT_A)
    assert resp.status_code == 403
    assert 'is 0 and the project already has 0.' in \
        resp.json_body['errors'][0]['detail']
    # Another project keeps the default.
    _cluster_of_b(api, 'b1', 1)


@BOTH_BACKENDS
def test_the_default_quota_comes_from_the_option(api, conf, make_cluster):
    conf('max_clusters_per_project', 1, group='quotas')
    make_cluster('a1')
    resp = api.post('/v1/clusters', {'name': 'a2', 'cluster_template_id':
                                     'k8s'}, headers=PROJECT_A)
    assert resp.status_code == 403
    assert 'max_clusters_per_project' in _title(resp)


@BOTH_BACKENDS
def test_a_quota_row_overrides_the_default_both_ways(api, conf,
                                                     make_cluster):
    conf('max_clusters_per_project', 0, group='quotas')
    _quota(api, limit=1)
    make_cluster('a1')
    assert api.post('/v1/clusters', {'name': 'a2', 'cluster_template_id':
                                     'k8s'}, headers=PROJECT_A
                    ).status_code == 403
    api.patch('/v1/quotas/project-a/Cluster', {'hard_limit': 2},
              headers=ADMIN)
    make_cluster('a2')


@BOTH_BACKENDS
def test_a_deleted_cluster_frees_its_place_once_gone(api, make_cluster):
    from caas.db.sqlalchemy.engine import session_scope
    from caas.db.sqlalchemy import models
    import sqlalchemy as sa
    _quota(api, limit=1)
    uuid = make_cluster('a1')
    settle(uuid)
    with session_scope() as session:
        session.execute(sa.delete(models.Cluster).where(
            models.Cluster.uuid == uuid))
    make_cluster('a2')


@BOTH_BACKENDS
def test_quota_lock_row_is_made_once_per_project(api, make_cluster):
    from caas.db.sqlalchemy.engine import session_scope
    from caas.db.sqlalchemy import models
    import sqlalchemy as sa
    make_cluster('a1')
    make_cluster('a2')
    with session_scope(readonly=True) as session:
        rows = session.execute(sa.select(models.QuotaLock.project_id,
                                         models.QuotaLock.resource)).all()
    assert rows == [('project-a', db_quotas.CLUSTER)]
