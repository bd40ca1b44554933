"""Nodegroup create, PATCH, delete and the role filter (1.9 on), node_labels
and node_taints (1.14): codes, bounds, version gates, one operation."""

import microversion_parse
import pytest

from caas.api import microversions
from caas.common import states
from caas.db import api as db
from tests.unit.api.conftest import LATEST
from tests.unit.api.conftest import PROJECT_A
from tests.unit.api.conftest import PROJECT_B
from tests.unit.api.conftest import settle

HDRS = dict(PROJECT_A, **LATEST)


def _at(version):
    return dict(PROJECT_A, **{'OpenStack-API-Version':
                              'container-infra %s' % version})


@pytest.fixture
def v114(monkeypatch):
    """Serve 1.14 whatever the branch's maximum is."""
    monkeypatch.setattr(microversions, 'MAX_VERSION',
                        microversion_parse.parse_version_string('1.14'))
    return _at('1.14')


@pytest.fixture
def cluster(api, rpc, make_cluster):
    uuid = make_cluster(node_count=2, labels={'a': '1', 'b': '2'})
    settle(uuid)
    return uuid


def _url(cluster, *rest):
    return '/'.join(('/v1/clusters/%s/nodegroups' % cluster,) + rest)


def _create(api, cluster, headers=HDRS, **body):
    body.setdefault('name', 'ng1')
    return api.post(_url(cluster), body, headers=headers)


def test_create_is_202_with_the_view_and_casts_after_commit(api, rpc,
                                                            cluster):
    resp = _create(api, cluster, node_count=3, max_node_count=5)
    assert resp.status_code == 202, resp.json_body
    view = resp.json_body
    assert (view['name'], view['role'], view['is_default'], view['status'],
            view['node_count'], view['min_node_count'],
            view['max_node_count']) == ('ng1', 'worker', False,
                                        states.CREATE_IN_PROGRESS, 3, 0, 5)
    # Defaults: the cluster's flavor and labels, the template's image.
    assert view['flavor_id'] == 'm1.small'
    assert view['image_id'] == 'fedora-coreos'
    assert view['labels'] == {'a': '1', 'b': '2'}
    assert view['links'][0]['href'].endswith(
        '/v1/clusters/%s/nodegroups/%s' % (cluster, view['uuid']))
    cast = rpc.casts[-1]
    assert len(rpc.casts) == 2      # the cluster create, then this
    assert cast['method'] == cast['kind'] == 'nodegroup_create'
    assert cast['params'] == {'nodegroup': view['uuid']}
    row = db.get_cluster(cluster, scope=db.ALL_PROJECTS)
    assert row.status == states.UPDATE_IN_PROGRESS


def test_below_1_9_every_nodegroup_write_is_406(api, rpc, cluster):
    old = _at('1.8')
    assert _create(api, cluster, headers=old).status_code == 406
    assert api.patch(_url(cluster, 'default-worker'),
                     [{'op': 'replace', 'path': '/max_node_count',
                       'value': 3}], headers=old).status_code == 406
    assert api.delete(_url(cluster, 'default-worker'),
                      headers=old).status_code == 406
    assert [c['method'] for c in rpc.casts] == ['cluster_create']


def test_a_name_the_cluster_has_is_409(api, rpc, cluster):
    assert _create(api, cluster).status_code == 202
    settle(cluster)
    resp = _create(api, cluster)
    assert resp.status_code == 409
    assert 'ng1' in resp.json_body['errors'][0]['detail']
    assert _create(api, cluster, name='default-worker').status_code == 409
    assert len(rpc.casts) == 2


def test_another_operation_in_progress_is_409(api, rpc, cluster):
    assert _create(api, cluster).status_code == 202
    resp = _create(api, cluster, name='ng2')
    assert resp.status_code == 409
    assert 'in progress' in resp.json_body['errors'][0]['detail']
    # Nothing of the refused request was written.
    assert [ng.name for ng in db.list_nodegroups(cluster)] == [
        'default-master', 'default-worker', 'ng1']


def test_master_role_is_refused_with_the_reason(api, rpc, cluster):
    resp = _create(api, cluster, role='master')
    assert resp.status_code == 400
    assert 'cannot add masters' in resp.json_body['errors'][0]['detail']
    assert [c['method'] for c in rpc.casts] == ['cluster_create']


@pytest.mark.parametrize('body,named', [
    ({'node_count': 1, 'min_node_count': 3, 'max_node_count': 2},
     'max_node_count (2)'),
    ({'node_count': 6, 'max_node_count': 5}, 'max_node_count (5)'),
    ({'node_count': 1, 'min_node_count': 2}, 'min_node_count (2)'),
])
def test_create_outside_the_bounds_is_400_naming_them(api, rpc, cluster,
                                                      body, named):
    resp = _create(api, cluster, **body)
    assert resp.status_code == 400
    assert named in resp.json_body['errors'][0]['detail']
    assert [c['method'] for c in rpc.casts] == ['cluster_create']


def test_missing_name_and_bad_fields_are_400(api, cluster):
    assert api.post(_url(cluster), {'node_count': 1},
                    headers=HDRS).status_code == 400
    assert _create(api, cluster, node_count=-1).status_code == 400
    assert _create(api, cluster, colour='red').status_code == 400


def test_zero_nodes_only_from_1_10(api, cluster):
    assert _create(api, cluster, headers=_at('1.9'),
                   node_count=0).status_code == 400
    resp = _create(api, cluster, headers=_at('1.9'))
    assert resp.json_body['min_node_count'] == 1
    settle(cluster)
    assert _create(api, cluster, name='ng2', headers=_at('1.10'),
                   node_count=0).status_code == 202


def test_labels_replace_or_merge_the_clusters(api, cluster):
    resp = _create(api, cluster, labels={'b': '3'})
    assert resp.json_body['labels'] == {'b': '3'}
    settle(cluster)
    resp = _create(api, cluster, name='ng2', labels={'b': '3', 'c': '4'},
                   merge_labels=True)
    assert resp.json_body['labels'] == {'a': '1', 'b': '3', 'c': '4'}


def test_role_filter(api, cluster):
    _create(api, cluster)
    settle(cluster)
    names = lambda role: sorted(ng['name'] for ng in api.get(  # noqa: E731
        _url(cluster) + '?role=' + role, headers=HDRS).json_body[
            'nodegroups'])
    assert names('worker') == ['default-worker', 'ng1']
    assert names('master') == ['default-master']
    assert names('nothing') == []


def test_patch_bounds_casts_a_nodegroup_update(api, rpc, cluster):
    ng = _create(api, cluster, node_count=2).json_body
    settle(cluster)
    resp = api.patch(_url(cluster, 'ng1'), [
        {'op': 'replace', 'path': '/max_node_count', 'value': 4},
        {'op': 'replace', 'path': '/min_node_count', 'value': 1}],
        headers=HDRS)
    assert resp.status_code == 202, resp.json_body
    assert (resp.json_body['min_node_count'],
            resp.json_body['max_node_count']) == (1, 4)
    cast = rpc.casts[-1]
    assert cast['method'] == 'nodegroup_update'
    assert cast['params'] == {'nodegroup': ng['uuid'], 'node_count': 2,
                              'min_node_count': 1, 'max_node_count': 4}
    row = [g for g in db.list_nodegroups(cluster) if g.name == 'ng1'][0]
    assert row.status == states.UPDATE_IN_PROGRESS


def test_patch_outside_the_bounds_or_other_paths_is_400(api, rpc, cluster):
    _create(api, cluster, node_count=2, max_node_count=3)
    settle(cluster)
    casts = len(rpc.casts)
    resp = api.patch(_url(cluster, 'ng1'), [
        {'op': 'replace', 'path': '/node_count', 'value': 4}], headers=HDRS)
    assert resp.status_code == 400
    assert 'max_node_count (3)' in resp.json_body['errors'][0]['detail']
    resp = api.patch(_url(cluster, 'ng1'), [
        {'op': 'replace', 'path': '/max_node_count', 'value': 1}],
        headers=HDRS)
    assert resp.status_code == 400
    for path in ('/name', '/flavor_id', '/role', '/labels'):
        resp = api.patch(_url(cluster, 'ng1'), [
            {'op': 'replace', 'path': path, 'value': 'x'}], headers=HDRS)
        assert resp.status_code == 400, path
        assert path.strip('/') in resp.json_body['errors'][0]['detail']
    assert len(rpc.casts) == casts


def test_patch_of_the_default_worker_is_a_cluster_update(api, rpc, cluster):
    resp = api.patch(_url(cluster, 'default-worker'), [
        {'op': 'replace', 'path': '/node_count', 'value': 3}], headers=HDRS)
    assert resp.status_code == 202
    assert rpc.casts[-1]['method'] == 'cluster_update'
    assert rpc.casts[-1]['params']['node_count'] == 3


def test_resize_of_a_nodegroup_is_its_own_update_within_bounds(api, rpc,
                                                               cluster):
    ng = _create(api, cluster, node_count=1, max_node_count=3).json_body
    settle(cluster)
    url = '/v1/clusters/%s/actions/resize' % cluster
    resp = api.post(url, {'node_count': 4, 'nodegroup': 'ng1'}, headers=HDRS)
    assert resp.status_code == 400
    assert 'max_node_count (3)' in resp.json_body['errors'][0]['detail']
    resp = api.post(url, {'node_count': 3, 'nodegroup': 'ng1'}, headers=HDRS)
    assert resp.status_code == 202
    assert rpc.casts[-1]['method'] == 'nodegroup_update'
    assert rpc.casts[-1]['params'] == {'nodegroup': ng['uuid'],
                                       'node_count': 3}


def test_cluster_resize_respects_the_default_workers_bounds(api, cluster):
    # default-worker has min_node_count 0 and no max: only the schema's.
    url = '/v1/clusters/%s/actions/resize' % cluster
    assert api.post(url, {'node_count': 0},
                    headers=HDRS).status_code == 202


def test_delete_a_default_nodegroup_is_400_naming_it(api, rpc, cluster):
    resp = api.delete(_url(cluster, 'default-worker'), headers=HDRS)
    assert resp.status_code == 400
    assert 'default-worker' in resp.json_body['errors'][0]['detail']
    assert [c['method'] for c in rpc.casts] == ['cluster_create']


def test_delete_is_204_and_casts(api, rpc, cluster):
    ng = _create(api, cluster).json_body
    settle(cluster)
    resp = api.delete(_url(cluster, 'ng1'), headers=HDRS)
    assert resp.status_code == 204
    assert rpc.casts[-1]['method'] == 'nodegroup_delete'
    assert rpc.casts[-1]['params'] == {'nodegroup': ng['uuid']}
    row = [g for g in db.list_nodegroups(cluster) if g.name == 'ng1'][0]
    assert row.status == states.DELETE_IN_PROGRESS


def test_another_projects_cluster_is_404(api, rpc, cluster):
    resp = _create(api, cluster, headers=dict(PROJECT_B, **LATEST))
    assert resp.status_code == 404
    assert [c['method'] for c in rpc.casts] == ['cluster_create']


def test_node_labels_and_taints_at_1_14(api, v114, cluster):
    resp = _create(api, cluster, headers=v114,
                   node_labels={'example.com/gpu': 'a100', 'tier': ''},
                   node_taints=['gpu=yes:NoSchedule', 'spot:PreferNoSchedule',
                                {'key': 'example.com/x', 'value': 'y',
                                 'effect': 'NoExecute'}])
    assert resp.status_code == 202, resp.json_body
    assert resp.json_body['node_labels'] == {'example.com/gpu': 'a100',
                                             'tier': ''}
    # One canonical form, whatever form was sent.
    assert resp.json_body['node_taints'] == [
        {'key': 'gpu', 'value': 'yes', 'effect': 'NoSchedule'},
        {'key': 'spot', 'value': '', 'effect': 'PreferNoSchedule'},
        {'key': 'example.com/x', 'value': 'y', 'effect': 'NoExecute'}]
    shown = api.get(_url(cluster, 'ng1'), headers=v114).json_body
    assert shown['node_taints'] == resp.json_body['node_taints']
    # An older client does not see the 1.14 fields.
    older = api.get(_url(cluster, 'ng1'), headers=_at('1.10')).json_body
    assert 'node_labels' not in older and 'node_taints' not in older


@pytest.mark.parametrize('field,value,named', [
    ('node_labels', {'-bad': 'x'}, '-bad'),
    ('node_labels', {'ok': 'not ok'}, 'not ok'),
    ('node_labels', {'a' * 64: 'x'}, 'a' * 64),
    ('node_labels', {'kubernetes.io/role': 'x'}, 'kubernetes.io'),
    ('node_labels', {'UPPER.Example/x': 'y'}, 'UPPER.Example/x'),
    ('node_taints', ['gpu=yes:Sometimes'], 'Sometimes'),
    ('node_taints', ['no-effect'], 'no-effect'),
    ('node_taints', [{'key': 'k', 'effect': 'NoSchedule', 'x': 1}], 'key'),
    ('node_taints', ['k:NoSchedule', 'k=v:NoSchedule'], 'twice'),
    ('node_taints', 'k:NoSchedule', 'node_taints'),
])
def test_bad_node_labels_and_taints_are_400(api, rpc, v114, cluster, field,
                                            value, named):
    resp = _create(api, cluster, headers=v114, **{field: value})
    assert resp.status_code == 400, resp.json_body
    assert named in resp.json_body['errors'][0]['detail']
    assert [c['method'] for c in rpc.casts] == ['cluster_create']


def test_node_labels_below_1_14_are_400_naming_the_version(api, rpc,
                                                           cluster):
    resp = _create(api, cluster, headers=_at('1.10'),
                   node_labels={'a': 'b'})
    assert resp.status_code == 400
    assert '1.14' in resp.json_body['errors'][0]['detail']
    assert [c['method'] for c in rpc.casts] == ['cluster_create']


def test_patch_node_labels_and_taints_at_1_14(api, rpc, v114, cluster):
    _create(api, cluster, headers=v114, node_labels={'a': 'b'})
    settle(cluster)
    # python-magnumclient sends dicts and lists as their Python repr.
    resp = api.patch(_url(cluster, 'ng1'), [
        {'op': 'replace', 'path': '/node_labels',
         'value': str({'tier': 'gpu'})},
        {'op': 'replace', 'path': '/node_taints',
         'value': str([{'key': 'gpu', 'value': '', 'effect': 'NoSchedule'}])}],
        headers=v114)
    assert resp.status_code == 202, resp.json_body
    params = rpc.casts[-1]['params']
    assert params['node_labels'] == {'tier': 'gpu'}
    assert params['node_taints'] == [
        {'key': 'gpu', 'value': '', 'effect': 'NoSchedule'}]
    settle(cluster)
    bad = api.patch(_url(cluster, 'ng1'), [
        {'op': 'replace', 'path': '/node_taints', 'value': "['x:Never']"}],
        headers=v114)
    assert bad.status_code == 400
    # Below 1.14 the path is not one a PATCH may change.
    old = api.patch(_url(cluster, 'ng1'), [
        {'op': 'replace', 'path': '/node_labels', 'value': '{}'}],
        headers=_at('1.10'))
    assert old.status_code == 400


def test_node_fields_of_a_default_nodegroup_are_not_patched(api, rpc, v114,
                                                            cluster):
    resp = api.patch(_url(cluster, 'default-worker'), [
        {'op': 'replace', 'path': '/node_labels', 'value': {'a': 'b'}}],
        headers=v114)
    assert resp.status_code == 400
    assert 'default-worker' in resp.json_body['errors'][0]['detail']
    assert [c['method'] for c in rpc.casts] == ['cluster_create']


def test_patch_remove_unsets_a_bound_and_node_count_cannot_go(api, rpc,
                                                             cluster):
    _create(api, cluster, node_count=2, max_node_count=3)
    settle(cluster)
    resp = api.patch(_url(cluster, 'ng1'), [
        {'op': 'remove', 'path': '/max_node_count'}], headers=HDRS)
    assert resp.status_code == 202
    assert rpc.casts[-1]['params']['max_node_count'] is None
    settle(cluster)
    resp = api.patch(_url(cluster, 'ng1'), [
        {'op': 'remove', 'path': '/node_count'}], headers=HDRS)
    assert resp.status_code == 400
    assert 'node_count' in resp.json_body['errors'][0]['detail']


def test_patch_of_the_masters_bounds_leaves_node_counts_alone(api, rpc,
                                                             cluster):
    resp = api.patch(_url(cluster, 'default-master'), [
        {'op': 'replace', 'path': '/max_node_count', 'value': 3}],
        headers=HDRS)
    assert resp.status_code == 202, resp.json_body
    params = rpc.casts[-1]['params']
    assert rpc.casts[-1]['method'] == 'cluster_update'
    assert 'node_count' not in params and params['max_node_count'] == 3


@pytest.mark.parametrize('body', [5, 'x', [1], None])
def test_a_body_that_is_no_object_is_400(api, cluster, body):
    resp = api.post(_url(cluster), body, headers=HDRS)
    assert resp.status_code == 400
