"""/v1/clusters: create (commit then cast), show, list, PATCH, resize, delete."""

from caas.db import api as db
from tests.unit.api.conftest import ADMIN
from tests.unit.api.conftest import LATEST
from tests.unit.api.conftest import PROJECT_A
from tests.unit.api.conftest import PROJECT_B
from tests.unit.api.conftest import settle


def _title(resp):
    return resp.json_body['errors'][0]['title']


def test_create_is_202_with_uuid_and_casts_after_commit(api, rpc,
                                                        make_cluster):
    uuid = make_cluster()
    # FakeRpc read the cluster and its operation through a new session.
    assert [c['method'] for c in rpc.casts] == ['cluster_create']
    assert rpc.casts[0]['cluster_uuid'] == uuid
    assert rpc.casts[0]['kind'] == 'cluster_create'
    assert rpc.casts[0]['request_id'].startswith('req-')


def test_get_right_after_202_finds_the_cluster(api, make_cluster, template):
    uuid = make_cluster(node_count=3)
    resp = api.get('/v1/clusters/%s' % uuid, headers=PROJECT_A)
    assert resp.status_code == 200
    body = resp.json_body
    assert body['status'] == 'CREATE_IN_PROGRESS'
    assert body['node_count'] == 3
    assert body['master_count'] == 1
    assert body['create_timeout'] == 60
    assert body['cluster_template_id'] == template['uuid']
    assert body['keypair'] == 'default'
    assert body['flavor_id'] == 'm1.small'
    assert body['master_flavor_id'] == 'm1.large'
    assert body['floating_ip_enabled'] is True
    assert body['project_id'] == 'project-a'
    assert 'operation_id' not in body and 'id' not in body


def test_create_writes_default_nodegroups(api, make_cluster):
    uuid = make_cluster(node_count=2)
    groups = {ng.role: ng for ng in db.list_nodegroups(uuid)}
    assert groups['master'].name == 'default-master'
    assert groups['master'].node_count == 1
    assert groups['master'].flavor_id == 'm1.large'
    assert groups['worker'].name == 'default-worker'
    assert groups['worker'].node_count == 2
    assert groups['worker'].flavor_id == 'm1.small'


def test_template_by_name_and_body_overrides(api, make_cluster):
    uuid = make_cluster(cluster_template_id='k8s', flavor_id='m1.large',
                        labels={'kube_tag': 'v1.30'}, create_timeout=15)
    body = api.get('/v1/clusters/%s' % uuid, headers=PROJECT_A).json_body
    assert body['flavor_id'] == 'm1.large'
    assert body['labels'] == {'kube_tag': 'v1.30'}
    assert body['create_timeout'] == 15


def test_cast_failure_still_202_and_operation_kept(api, rpc, make_cluster):
    rpc.fail = True
    uuid = make_cluster()
    ops = db.list_operations(uuid)
    assert [op.kind for op in ops] == ['cluster_create']
    assert ops[0].state == 'PENDING'


def test_bad_bodies_are_400_naming_the_field(api, template):
    cases = [
        ({'node_count': 'abc'}, 'node_count'),
        ({'node_count': -1}, 'node_count'),
        ({'master_count': 0}, 'master_count'),
        ({'colour': 'blue'}, 'colour'),
        ({'name': '1bad name'}, 'name'),
        ({'cluster_template_id': 'ghost'}, 'cluster_template_id'),
        ({'keypair': 'ghost'}, 'keypair'),
        ({'flavor_id': 'ghost'}, 'flavor_id'),
    ]
    for extra, field in cases:
        body = {'name': 'c1', 'cluster_template_id': template['uuid']}
        body.update(extra)
        resp = api.post('/v1/clusters', body, headers=PROJECT_A)
        assert resp.status_code == 400, (extra, resp.json_body)
        assert field in _title(resp), (extra, _title(resp))


def test_the_create_schema_built_once_stays_as_built(api, template):
    """The create's body schema is built once per process: no request,
    good or bad, changes it for the next one."""
    import copy

    from caas.api.controllers.v1 import clusters
    from caas.api.schemas import cluster as schema
    before = copy.deepcopy(clusters._CREATE_SCHEMA)
    assert before == schema.create(0)
    for body in ({'cluster_template_id': template['uuid'], 'node_count': 0,
                  'labels': "{'a': 'b'}", 'master_count': '1'},
                 {'cluster_template_id': template['uuid'], 'node_count': -1},
                 {'cluster_template_id': template['uuid'], 'colour': 'x',
                  'labels': 'a=b,c=d', 'name': None}):
        api.post('/v1/clusters', body, headers=PROJECT_A)
    assert clusters._CREATE_SCHEMA == before == schema.create(0)


def test_node_count_abc_message_names_field_and_value(api, template):
    resp = api.post('/v1/clusters', {'cluster_template_id': template['uuid'],
                                     'node_count': 'abc'}, headers=PROJECT_A)
    assert _title(resp).startswith(
        'Invalid input for field/attribute node_count. Value: "abc".')


def test_missing_template_field_is_400(api, template):
    resp = api.post('/v1/clusters', {'name': 'c1'}, headers=PROJECT_A)
    assert resp.status_code == 400
    assert 'cluster_template_id' in _title(resp)


def test_zero_nodes_at_every_version(api, template):
    body = {'cluster_template_id': template['uuid'], 'node_count': 0}
    assert api.post('/v1/clusters', body,
                    headers=PROJECT_A).status_code == 202
    hdrs = dict(PROJECT_A, **LATEST)
    assert api.post('/v1/clusters', body, headers=hdrs).status_code == 202
    assert api.post('/v1/clusters', dict(body, node_count=-1),
                    headers=PROJECT_A).status_code == 400


def test_several_masters_need_a_load_balancer(api, template):
    resp = api.post('/v1/clusters', {'cluster_template_id': template['uuid'],
                                     'master_count': 3}, headers=PROJECT_A)
    assert resp.status_code == 400
    assert 'master_count' in _title(resp)


def test_unknown_cluster_is_404(api):
    resp = api.get('/v1/clusters/ghost', headers=PROJECT_A)
    assert resp.status_code == 404
    assert 'ghost' in _title(resp)


def test_ambiguous_name_is_409(api, make_cluster):
    make_cluster('twin')
    make_cluster('twin')
    resp = api.get('/v1/clusters/twin', headers=PROJECT_A)
    assert resp.status_code == 409


def test_list_summary_and_detail(api, make_cluster):
    make_cluster()
    items = api.get('/v1/clusters', headers=PROJECT_A).json_body['clusters']
    assert set(items[0]) >= {'uuid', 'name', 'node_count', 'master_count',
                             'status', 'health_status', 'create_timeout',
                             'stack_id', 'keypair', 'links'}
    assert 'api_address' not in items[0]
    items = api.get('/v1/clusters/detail',
                    headers=PROJECT_A).json_body['clusters']
    assert 'api_address' in items[0] and 'status_reason' in items[0]


def test_pagination_has_next_link_when_page_is_full(api, make_cluster):
    uuids = [make_cluster('c%d' % i) for i in range(3)]
    body = api.get('/v1/clusters?limit=2', headers=PROJECT_A).json_body
    assert [c['uuid'] for c in body['clusters']] == uuids[:2]
    assert body['next'] == ('http://localhost/v1/clusters?limit=2&marker=%s'
                            % uuids[1])
    body = api.get(body['next'].replace('http://localhost', ''),
                   headers=PROJECT_A).json_body
    assert [c['uuid'] for c in body['clusters']] == uuids[2:]
    assert 'next' not in body


def test_next_links_walk_every_row_when_sort_values_are_null(api,
                                                            make_cluster):
    """A marker on or before a NULL sort value used to skip the NULL rows
    (SQLite sorts NULL first, PostgreSQL last; both now sort it last)."""
    import sqlalchemy as sa
    from caas.db.sqlalchemy import engine
    from caas.db.sqlalchemy import models
    uuids = [make_cluster('c%d' % i) for i in range(5)]
    with engine.session_scope() as session:
        for i, uuid in enumerate(uuids):
            session.execute(sa.update(models.Cluster).where(
                models.Cluster.uuid == uuid).values(
                    stack_id=None if i % 2 else 'stack-%d' % i))
    for direction in ('asc', 'desc'):
        seen, values = [], []
        url = '/v1/clusters?limit=2&sort_key=stack_id&sort_dir=' + direction
        while url:
            body = api.get(url, headers=PROJECT_A).json_body
            seen += [c['uuid'] for c in body['clusters']]
            values += [c['stack_id'] for c in body['clusters']]
            url = body.get('next', '').replace('http://localhost', '')
        assert sorted(seen) == sorted(uuids), direction
        nulls = [v is None for v in values]
        assert nulls == sorted(nulls, reverse=direction == 'desc'), values


def test_limit_is_capped_by_max_limit(api, conf, make_cluster):
    conf('max_limit', 1, group='api')
    make_cluster('a')
    make_cluster('b')
    body = api.get('/v1/clusters?limit=50', headers=PROJECT_A).json_body
    assert len(body['clusters']) == 1
    assert 'limit=1' in body['next']


def test_bad_list_parameters_are_400(api):
    for query in ('limit=abc', 'limit=0', 'sort_key=bogus', 'sort_dir=up',
                  'marker=ghost'):
        resp = api.get('/v1/clusters?' + query, headers=PROJECT_A)
        assert resp.status_code == 400, query


def test_sort_desc(api, make_cluster):
    uuids = [make_cluster('c%d' % i) for i in range(3)]
    body = api.get('/v1/clusters?sort_key=name&sort_dir=desc',
                   headers=PROJECT_A).json_body
    assert [c['uuid'] for c in body['clusters']] == uuids[::-1]


def test_projects_are_isolated_and_admin_sees_all(api, make_cluster):
    uuid = make_cluster()
    assert api.get('/v1/clusters/%s' % uuid,
                   headers=PROJECT_B).status_code == 404
    assert api.get('/v1/clusters',
                   headers=PROJECT_B).json_body['clusters'] == []
    assert api.delete('/v1/clusters/%s' % uuid,
                      headers=PROJECT_B).status_code == 404
    assert api.get('/v1/clusters/%s' % uuid,
                   headers=ADMIN).status_code == 200
    # An administrator's list is its own project unless it asks for all.
    assert api.get('/v1/clusters', headers=ADMIN).json_body['clusters'] == []
    assert len(api.get('/v1/clusters?all_projects=true',
                       headers=ADMIN).json_body['clusters']) == 1


def test_other_project_cannot_use_private_template(api, template):
    resp = api.post('/v1/clusters', {'cluster_template_id': template['uuid']},
                    headers=PROJECT_B)
    assert resp.status_code == 400


def test_patch_node_count_is_202_and_records_operation(api, rpc,
                                                       make_cluster):
    uuid = make_cluster()
    settle(uuid)
    resp = api.patch('/v1/clusters/%s' % uuid, [
        {'op': 'replace', 'path': '/node_count', 'value': 4}],
        headers=PROJECT_A)
    assert resp.status_code == 202, resp.json_body
    assert resp.json_body == {'uuid': uuid}
    assert rpc.casts[-1]['method'] == 'cluster_update'
    assert rpc.casts[-1]['params']['node_count'] == 4
    body = api.get('/v1/clusters/%s' % uuid, headers=PROJECT_A).json_body
    assert body['status'] == 'UPDATE_IN_PROGRESS'


def test_second_mutation_is_409(api, make_cluster):
    uuid = make_cluster()
    # Still CREATE_IN_PROGRESS: an update is refused.
    resp = api.patch('/v1/clusters/%s' % uuid, [
        {'op': 'replace', 'path': '/node_count', 'value': 2}],
        headers=PROJECT_A)
    assert resp.status_code == 409
    assert 'in progress' in _title(resp)


def test_delete_during_create_wins(api, rpc, make_cluster):
    uuid = make_cluster()
    create_op = rpc.casts[-1]['operation_id']
    resp = api.delete('/v1/clusters/%s' % uuid, headers=PROJECT_A)
    assert resp.status_code == 204
    assert rpc.casts[-1]['method'] == 'cluster_delete'
    assert db.get_operation(create_op).state == 'SUPERSEDED'
    body = api.get('/v1/clusters/%s' % uuid, headers=PROJECT_A).json_body
    assert body['status'] == 'DELETE_IN_PROGRESS'
    # An update after the delete is refused.
    assert api.patch('/v1/clusters/%s' % uuid, [
        {'op': 'replace', 'path': '/node_count', 'value': 2}],
        headers=PROJECT_A).status_code == 409


def test_second_delete_is_204_and_records_nothing(api, rpc, make_cluster):
    uuid = make_cluster()
    settle(uuid)
    assert api.delete('/v1/clusters/%s' % uuid,
                      headers=PROJECT_A).status_code == 204
    casts = len(rpc.casts)
    ops = len(db.list_operations(cluster_uuid=uuid))
    assert api.delete('/v1/clusters/%s' % uuid,
                      headers=PROJECT_A).status_code == 204
    assert len(rpc.casts) == casts
    assert len(db.list_operations(cluster_uuid=uuid)) == ops


def test_patch_other_paths_are_400(api, make_cluster):
    uuid = make_cluster()
    settle(uuid)
    for path in ('/name', '/master_count', '/api_address'):
        resp = api.patch('/v1/clusters/%s' % uuid, [
            {'op': 'replace', 'path': path, 'value': 'x'}], headers=PROJECT_A)
        assert resp.status_code == 400, path
        assert path in _title(resp)


def test_patch_node_count_validation(api, make_cluster):
    uuid = make_cluster()
    settle(uuid)
    # 0 is a valid node count at every version (Magnum's cluster type).
    for value in ('abc', -1):
        resp = api.patch('/v1/clusters/%s' % uuid, [
            {'op': 'replace', 'path': '/node_count', 'value': value}],
            headers=PROJECT_A)
        assert resp.status_code == 400, value
        assert 'node_count' in _title(resp)


def test_patch_node_count_string_as_magnumclient_sends(api, make_cluster):
    uuid = make_cluster()
    settle(uuid)
    resp = api.patch('/v1/clusters/%s' % uuid, [
        {'op': 'replace', 'path': '/node_count', 'value': '3'}],
        headers=PROJECT_A)
    assert resp.status_code == 202


def test_resize_needs_1_7(api, make_cluster):
    uuid = make_cluster()
    settle(uuid)
    resp = api.post('/v1/clusters/%s/actions/resize' % uuid,
                    {'node_count': 3}, headers=PROJECT_A)
    assert resp.status_code == 406


def test_resize_maps_to_update_operation(api, rpc, make_cluster):
    uuid = make_cluster()
    settle(uuid)
    hdrs = dict(PROJECT_A, **{'OpenStack-API-Version': 'container-infra 1.7'})
    resp = api.post('/v1/clusters/%s/actions/resize' % uuid,
                    {'node_count': 5, 'nodes_to_remove': ['srv-1'],
                     'nodegroup': 'default-worker'}, headers=hdrs)
    assert resp.status_code == 202, resp.json_body
    assert rpc.casts[-1]['params']['node_count'] == 5
    assert rpc.casts[-1]['params']['nodes_to_remove'] == ['srv-1']


def test_resize_master_nodegroup_is_400(api, make_cluster):
    uuid = make_cluster()
    settle(uuid)
    resp = api.post('/v1/clusters/%s/actions/resize' % uuid,
                    {'node_count': 3, 'nodegroup': 'default-master'},
                    headers=dict(PROJECT_A, **LATEST))
    assert resp.status_code == 400


def test_delete_is_204_and_casts(api, rpc, make_cluster):
    uuid = make_cluster()
    settle(uuid)
    resp = api.delete('/v1/clusters/%s' % uuid, headers=PROJECT_A)
    assert resp.status_code == 204
    assert rpc.casts[-1]['method'] == 'cluster_delete'
    body = api.get('/v1/clusters/%s' % uuid, headers=PROJECT_A).json_body
    assert body['status'] == 'DELETE_IN_PROGRESS'


def test_failed_cluster_can_be_deleted(api, make_cluster):
    uuid = make_cluster()
    settle(uuid, 'CREATE_FAILED')
    assert api.delete('/v1/clusters/%s' % uuid,
                      headers=PROJECT_A).status_code == 204
