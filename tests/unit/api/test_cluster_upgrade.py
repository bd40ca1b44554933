"""``POST /v1/clusters/{ident}/actions/upgrade``: gate, validation, codes,
and the operation it records (committed before its cast)."""

import pytest

from caas.api import app as api_app
from caas.common import exceptions
from caas.conf import CONF
from caas.db import api as db
from caas.drivers.fake import driver as fake_driver
from caas.drivers.kubernetes import driver as k8s

from . import conftest
from .conftest import ADMIN
from .conftest import Api
from .conftest import PROJECT_A
from .conftest import PROJECT_B
from .conftest import settle
from .conftest import template_body

V18 = {'OpenStack-API-Version': 'container-infra 1.8'}
V17 = {'OpenStack-API-Version': 'container-infra 1.7'}


def _h(*dicts):
    out = {}
    for d in dicts:
        out.update(d)
    return out


def _upgrade(api, ident, body, headers=PROJECT_A, version=V18):
    return api.post('/v1/clusters/%s/actions/upgrade' % ident, body,
                    headers=_h(headers, version))


def _error(resp):
    return resp.json_body['errors'][0]['detail']


@pytest.fixture
def k8s_api(database, cloud, rpc):
    """The app with the real (pure) Kubernetes drivers: kube_tag counts."""
    def find_driver(server_type, os_distro, coe, explicit=None):
        if coe == 'swarm-mode':
            return fake_driver.FakeDriver()   # a stand-in Swarm driver
        if coe != 'kubernetes':
            raise exceptions.DriverNotFound(server_type=server_type,
                                            os=os_distro, coe=coe)
        if os_distro == 'ubuntu':
            return k8s.UbuntuKubernetesDriver()
        return k8s.FedoraCoreOSKubernetesDriver()
    CONF.set_override('auth_strategy', 'noauth')
    CONF.set_override('encryption_keys', [conftest.PKI_KEY], group='pki')
    yield Api(api_app.build_app(CONF, rpcapi=rpc, cloud=cloud,
                                find_driver=find_driver))
    CONF.clear_override('auth_strategy')
    CONF.clear_override('encryption_keys', group='pki')


def _template(api, name, **kw):
    resp = api.post('/v1/clustertemplates', template_body(name=name, **kw),
                    headers=PROJECT_A)
    assert resp.status_code == 201, resp.json_body
    return resp.json_body['uuid']


def _cluster(api, template, name='c1', **kw):
    body = dict({'name': name, 'cluster_template_id': template,
                 'node_count': 3}, **kw)
    resp = api.post('/v1/clusters', body, headers=PROJECT_A)
    assert resp.status_code == 202, resp.json_body
    settle(resp.json_body['uuid'])
    return resp.json_body['uuid']


@pytest.fixture
def k8s_world(k8s_api, rpc):
    old = _template(k8s_api, 'k129', labels={'kube_tag': 'v1.29.6'})
    new = _template(k8s_api, 'k130', labels={'kube_tag': 'v1.30.2'})
    cluster = _cluster(k8s_api, old)
    rpc.casts.clear()
    return {'old': old, 'new': new, 'cluster': cluster}


def test_below_1_8_it_is_magnums_406(api, make_cluster, rpc):
    uuid = make_cluster()
    settle(uuid)
    rpc.casts.clear()
    resp = _upgrade(api, uuid, {'cluster_template': 'k8s'}, version=V17)
    assert resp.status_code == 406
    assert '1.8' in _error(resp)
    resp = _upgrade(api, uuid, {'cluster_template': 'k8s'}, version={})
    assert resp.status_code == 406
    assert rpc.casts == []


def test_an_upgrade_records_the_operation_and_casts_after_commit(
        k8s_api, k8s_world, rpc):
    resp = _upgrade(k8s_api, k8s_world['cluster'], {
        'cluster_template': 'k130', 'max_batch_size': 2})
    assert resp.status_code == 202, resp.json_body
    assert resp.json_body == {'uuid': k8s_world['cluster']}
    [cast] = rpc.casts       # FakeRpc checked the rows were committed
    assert cast['method'] == cast['kind'] == 'cluster_upgrade'
    groups = db.list_nodegroups(k8s_world['cluster'])
    assert cast['params'] == {
        'cluster_template': k8s_world['new'],
        'previous_template': k8s_world['old'], 'max_batch_size': 2,
        'nodegroups': [ng.uuid for ng in groups]}
    row = db.get_cluster(k8s_world['cluster'], scope=db.ALL_PROJECTS)
    assert row.status == 'UPDATE_IN_PROGRESS'
    # The template changes only when the conductor succeeded.
    assert row.cluster_template_id == k8s_world['old']


def test_max_batch_size_defaults_to_one_and_a_nodegroup_narrows_it(
        k8s_api, k8s_world, rpc):
    resp = _upgrade(k8s_api, k8s_world['cluster'], {
        'cluster_template': k8s_world['new'], 'nodegroup': 'default-worker'})
    assert resp.status_code == 202, resp.json_body
    worker = [ng for ng in db.list_nodegroups(k8s_world['cluster'])
              if ng.name == 'default-worker'][0]
    assert rpc.casts[0]['params']['max_batch_size'] == 1
    assert rpc.casts[0]['params']['nodegroups'] == [worker.uuid]


@pytest.mark.parametrize('body,field', [
    ({}, 'cluster_template'),
    ({'cluster_template': 'k130', 'max_batch_size': 0}, 'max_batch_size'),
    ({'cluster_template': 'k130', 'max_batch_size': 'two'},
     'max_batch_size'),
    ({'cluster_template': 'k130', 'surge': 1}, 'surge'),
    ({'cluster_template': 'no-such-template'}, 'cluster_template'),
])
def test_bad_bodies_are_a_400_naming_the_field(k8s_api, k8s_world, rpc,
                                               body, field):
    resp = _upgrade(k8s_api, k8s_world['cluster'], body)
    assert resp.status_code == 400, resp.json_body
    assert field in _error(resp)
    assert rpc.casts == []
    row = db.get_cluster(k8s_world['cluster'], scope=db.ALL_PROJECTS)
    assert row.status == 'CREATE_COMPLETE' and row.operation_id is None


def test_a_template_that_installs_the_same_is_a_400(k8s_api, k8s_world,
                                                    rpc):
    _template(k8s_api, 'k129-again', labels={'kube_tag': 'v1.29.6'},
              dns_nameserver='127.0.0.53')
    resp = _upgrade(k8s_api, k8s_world['cluster'],
                    {'cluster_template': 'k129-again'})
    assert resp.status_code == 400
    assert 'nothing to upgrade' in _error(resp)
    assert rpc.casts == []


def test_a_new_image_alone_is_an_upgrade(k8s_api, k8s_world):
    _template(k8s_api, 'k129-newer-image', image_id='img-1',
              labels={'kube_tag': 'v1.29.6'})
    resp = _upgrade(k8s_api, k8s_world['cluster'],
                    {'cluster_template': 'k129-newer-image'})
    assert resp.status_code == 202, resp.json_body


def test_a_downgrade_is_a_400(k8s_api, k8s_world, rpc):
    _template(k8s_api, 'k128', labels={'kube_tag': 'v1.28.9'})
    resp = _upgrade(k8s_api, k8s_world['cluster'], {'cluster_template':
                                                    'k128'})
    assert resp.status_code == 400
    assert 'downgraded' in _error(resp) and 'kube_tag' in _error(resp)
    assert rpc.casts == []


def test_another_coe_is_a_400(k8s_api, k8s_world, rpc):
    _template(k8s_api, 'swarm', coe='swarm-mode')
    resp = _upgrade(k8s_api, k8s_world['cluster'], {'cluster_template':
                                                    'swarm'})
    assert resp.status_code == 400
    assert 'swarm' in _error(resp)
    assert rpc.casts == []


def test_another_os_driver_is_a_400(k8s_api, k8s_world, rpc):
    _template(k8s_api, 'ubuntu', image_id='ubuntu',
              labels={'kube_tag': 'v1.30.2'})
    resp = _upgrade(k8s_api, k8s_world['cluster'], {'cluster_template':
                                                    'ubuntu'})
    assert resp.status_code == 400
    assert 'driver' in _error(resp)
    assert rpc.casts == []


def test_another_projects_private_template_is_not_there(k8s_api, k8s_world,
                                                        rpc):
    resp = k8s_api.post('/v1/clustertemplates',
                        template_body(name='b-only',
                                      labels={'kube_tag': 'v1.30.2'}),
                        headers=PROJECT_B)
    assert resp.status_code == 201
    resp = _upgrade(k8s_api, k8s_world['cluster'],
                    {'cluster_template': resp.json_body['uuid']})
    assert resp.status_code == 400
    assert 'cluster_template' in _error(resp)
    assert rpc.casts == []


def test_an_unknown_nodegroup_is_a_404(k8s_api, k8s_world, rpc):
    resp = _upgrade(k8s_api, k8s_world['cluster'], {
        'cluster_template': 'k130', 'nodegroup': 'gpu-workers'})
    assert resp.status_code == 404
    assert 'gpu-workers' in _error(resp)
    assert rpc.casts == []


@pytest.mark.parametrize('status', ['CREATE_IN_PROGRESS', 'CREATE_FAILED',
                                    'UPDATE_FAILED'])
def test_a_cluster_not_in_a_complete_state_is_a_409(k8s_api, k8s_world,
                                                    rpc, status):
    settle(k8s_world['cluster'], status=status)
    resp = _upgrade(k8s_api, k8s_world['cluster'],
                    {'cluster_template': 'k130'})
    assert resp.status_code == 409, resp.json_body
    assert status in _error(resp)
    assert rpc.casts == []
    row = db.get_cluster(k8s_world['cluster'], scope=db.ALL_PROJECTS)
    assert row.status == status and row.cluster_template_id == \
        k8s_world['old']


def test_a_second_upgrade_while_one_runs_is_a_409(k8s_api, k8s_world, rpc):
    assert _upgrade(k8s_api, k8s_world['cluster'],
                    {'cluster_template': 'k130'}).status_code == 202
    resp = _upgrade(k8s_api, k8s_world['cluster'],
                    {'cluster_template': 'k130'})
    assert resp.status_code == 409
    assert len(rpc.casts) == 1


def test_an_administrator_may_name_the_clusters_projects_template(
        k8s_api, k8s_world, rpc):
    resp = _upgrade(k8s_api, k8s_world['cluster'],
                    {'cluster_template': k8s_world['new']}, headers=ADMIN)
    assert resp.status_code == 202, resp.json_body


def test_a_lost_cast_still_answers_202(k8s_api, k8s_world, rpc):
    rpc.fail = True
    resp = _upgrade(k8s_api, k8s_world['cluster'],
                    {'cluster_template': 'k130'})
    assert resp.status_code == 202
    ops = db.list_operations(k8s_world['cluster'], states_in=('PENDING',))
    # Recorded: the sweeper casts it again.
    assert [op.kind for op in ops if op.kind == 'cluster_upgrade'] == [
        'cluster_upgrade']
    row = db.get_cluster(k8s_world['cluster'], scope=db.ALL_PROJECTS)
    assert row.operation_id == [op.id for op in ops
                                if op.kind == 'cluster_upgrade'][0]


# -- a nodegroup users added (its own stack) ---------------------------------
@pytest.fixture
def with_ng(k8s_api, k8s_world, rpc):
    """k8s_world's cluster with a nodegroup ``gpu`` added on k129."""
    resp = k8s_api.post('/v1/clusters/%s/nodegroups' % k8s_world['cluster'],
                        {'name': 'gpu', 'node_count': 2},
                        headers=_h(PROJECT_A, conftest.LATEST))
    assert resp.status_code == 202, resp.json_body
    settle(k8s_world['cluster'])
    rpc.casts.clear()
    return dict(k8s_world, ng=resp.json_body['uuid'])


def _after_cluster_upgrade(world, template):
    """Play a cluster upgrade that completed: the cluster and its default
    groups on ``template``, the added nodegroup pinned to what it runs."""
    from caas.db.sqlalchemy import models
    from caas.db.sqlalchemy.engine import session_scope
    import sqlalchemy as sa
    with session_scope() as session:
        session.execute(sa.update(models.Cluster).where(
            models.Cluster.uuid == world['cluster']).values(
                cluster_template_id=template,
                labels={'kube_tag': 'v1.30.2'}))
        session.execute(sa.update(models.NodeGroup).where(
            models.NodeGroup.uuid == world['ng']).values(
                labels={'kube_tag': 'v1.29.6'}))


def test_an_added_nodegroup_is_upgraded_alone_with_its_own_status(
        k8s_api, with_ng, rpc):
    _after_cluster_upgrade(with_ng, with_ng['new'])
    resp = _upgrade(k8s_api, with_ng['cluster'], {
        'cluster_template': 'k130', 'nodegroup': 'gpu', 'max_batch_size': 2})
    assert resp.status_code == 202, resp.json_body
    [cast] = rpc.casts
    assert cast['method'] == cast['kind'] == 'cluster_upgrade'
    assert cast['params'] == {
        'cluster_template': with_ng['new'],
        'previous_template': with_ng['new'], 'max_batch_size': 2,
        'nodegroups': [with_ng['ng']], 'nodegroup': with_ng['ng']}
    groups = {ng.name: ng for ng in db.list_nodegroups(with_ng['cluster'])}
    assert groups['gpu'].status == 'UPDATE_IN_PROGRESS'
    # The default groups are not part of it.
    assert groups['default-worker'].status != 'UPDATE_IN_PROGRESS'
    row = db.get_cluster(with_ng['cluster'], scope=db.ALL_PROJECTS)
    assert row.status == 'UPDATE_IN_PROGRESS'


def test_an_added_nodegroup_follows_the_cluster_never_leads_it(
        k8s_api, with_ng, rpc):
    """Magnum's rule: a nodegroup users added is upgraded only to the
    cluster's own template."""
    resp = _upgrade(k8s_api, with_ng['cluster'], {
        'cluster_template': 'k130', 'nodegroup': 'gpu'})
    assert resp.status_code == 400
    assert "only to the cluster's template (k129)" in _error(resp)
    assert 'cluster_template' in _error(resp)
    assert rpc.casts == []
    groups = {ng.name: ng for ng in db.list_nodegroups(with_ng['cluster'])}
    assert groups['gpu'].status != 'UPDATE_IN_PROGRESS'


def test_an_added_nodegroup_on_the_clusters_versions_has_nothing_to_upgrade(
        k8s_api, with_ng, rpc):
    # Created on k129, the cluster still on k129.
    resp = _upgrade(k8s_api, with_ng['cluster'], {
        'cluster_template': 'k129', 'nodegroup': 'gpu'})
    assert resp.status_code == 400
    assert 'nothing to upgrade' in _error(resp) and 'gpu' in _error(resp)
    assert rpc.casts == []


def test_an_added_nodegroup_is_not_downgraded(k8s_api, with_ng, rpc):
    # The nodegroup runs a newer kube_tag than the cluster's template.
    from caas.db.sqlalchemy import models
    from caas.db.sqlalchemy.engine import session_scope
    import sqlalchemy as sa
    with session_scope() as session:
        session.execute(sa.update(models.NodeGroup).where(
            models.NodeGroup.uuid == with_ng['ng']).values(
                labels={'kube_tag': 'v1.31.0'}))
    resp = _upgrade(k8s_api, with_ng['cluster'], {
        'cluster_template': 'k129', 'nodegroup': 'gpu'})
    assert resp.status_code == 400
    assert 'downgraded' in _error(resp) and 'gpu' in _error(resp)
    assert rpc.casts == []


def test_without_a_nodegroup_only_the_default_groups_are_upgraded(
        k8s_api, with_ng, rpc):
    resp = _upgrade(k8s_api, with_ng['cluster'], {'cluster_template': 'k130'})
    assert resp.status_code == 202, resp.json_body
    groups = {ng.name: ng for ng in db.list_nodegroups(with_ng['cluster'])}
    assert sorted(rpc.casts[0]['params']['nodegroups']) == sorted(
        [groups['default-master'].uuid, groups['default-worker'].uuid])
    assert 'nodegroup' not in rpc.casts[0]['params']
