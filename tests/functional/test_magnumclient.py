"""The README's scenario through the real python-magnumclient, embedded mode."""

import pytest
from magnumclient import exceptions as mc_exc

from tests.integration.helpers import make_template
from tests.integration.helpers import wait_status


def test_create_scale_delete_with_magnumclient(aio, mc):
    tmpl = make_template(mc)
    assert tmpl.coe == 'kubernetes'
    assert tmpl.cluster_distro == 'ubuntu'
    cluster = mc.clusters.create(name='demo', cluster_template_id='k8s',
                                 master_count=1, node_count=2)
    assert mc.clusters.get('demo').status == 'CREATE_IN_PROGRESS'
    done = wait_status(mc, cluster.uuid, 'CREATE_COMPLETE', timeout=60,
                       poll=0.1)
    assert done.api_address.startswith('https://')
    assert len(done.master_addresses) == 1
    assert len(done.node_addresses) == 2
    assert [c.uuid for c in mc.clusters.list()] == [cluster.uuid]

    mc.clusters.update('demo', [{'op': 'replace', 'path': '/node_count',
                                 'value': 3}])
    assert mc.clusters.get('demo').status == 'UPDATE_IN_PROGRESS'
    done = wait_status(mc, cluster.uuid, 'UPDATE_COMPLETE', timeout=60,
                       poll=0.1)
    assert done.node_count == 3 and len(done.node_addresses) == 3

    with pytest.raises(mc_exc.BadRequest) as err:
        mc.clusters.update('demo', [{'op': 'replace', 'path': '/node_count',
                                     'value': -1}])
    assert 'node_count' in str(err.value)
    mc.clusters.delete('demo')
    wait_status(mc, cluster.uuid, 'gone', timeout=60, poll=0.1)
    assert aio.sim.cloud.summary()['counts']['stacks'] == 0
    mc.cluster_templates.delete('k8s')
    assert mc.cluster_templates.list() == []


def test_second_mutation_while_one_runs_is_a_conflict(aio, mc):
    aio.sim.cloud.knobs['server_boot_delay'] = 2
    make_template(mc)
    cluster = mc.clusters.create(name='busy', cluster_template_id='k8s',
                                 node_count=1)
    with pytest.raises(mc_exc.Conflict) as err:
        mc.clusters.update(cluster.uuid, [{'op': 'replace',
                                           'path': '/node_count',
                                           'value': 2}])
    assert 'in progress' in str(err.value)
    with pytest.raises(mc_exc.Conflict):
        mc.cluster_templates.delete('k8s')
    wait_status(mc, cluster.uuid, 'CREATE_COMPLETE', timeout=60, poll=0.1)


@pytest.mark.parametrize('fields,named', [
    ({'coe': 'nomad', 'image_id': 'ubuntu-jammy'}, 'coe'),
    ({'coe': 'kubernetes', 'image_id': 'no-such-image'}, 'no-such-image'),
    ({'coe': 'kubernetes'}, 'image_id'),
    ({'coe': 'kubernetes', 'image_id': 'ubuntu-jammy',
      'flavor_id': 'm9.huge'}, 'm9.huge'),
    ({'coe': 'swarm', 'image_id': 'ubuntu-jammy'}, 'swarm'),
    ({'coe': 'swarm-mode', 'image_id': 'ubuntu-jammy',
      'network_driver': 'flannel'}, 'flannel'),
])
def test_bad_template_is_a_400_naming_what_was_wrong(aio, mc, fields, named):
    with pytest.raises(mc_exc.BadRequest) as err:
        mc.cluster_templates.create(name='bad', **fields)
    assert named in str(err.value)
    assert mc.cluster_templates.list() == []


def test_template_keypair_is_checked_when_a_cluster_is_created(aio, mc):
    # Magnum's rule: the keypair is the cluster creator's concern.
    mc.cluster_templates.create(
        name='nokey', coe='kubernetes', image_id='ubuntu-jammy',
        flavor_id='m1.small', keypair_id='nokey',
        external_network_id='public')
    with pytest.raises(mc_exc.BadRequest) as err:
        mc.clusters.create(name='c', cluster_template_id='nokey')
    assert 'nokey' in str(err.value) and 'keypair' in str(err.value)
    assert mc.clusters.list() == []


@pytest.mark.parametrize('fields,named', [
    ({'node_count': 'abc'}, 'node_count'),
    ({'node_count': -2}, 'node_count'),
    ({'master_count': 'x'}, 'master_count'),
    ({'cluster_template_id': 'nope'}, 'nope'),
])
def test_bad_cluster_is_a_400_naming_the_field(aio, mc, fields, named):
    make_template(mc)
    body = {'name': 'c', 'cluster_template_id': 'k8s'}
    body.update(fields)
    with pytest.raises(mc_exc.BadRequest) as err:
        mc.clusters.create(**body)
    assert named in str(err.value)
    assert mc.clusters.list() == []


def test_unknown_cluster_is_a_404(aio, mc):
    with pytest.raises(mc_exc.NotFound) as err:
        mc.clusters.get('ghost')
    assert 'ghost' in str(err.value)


def test_update_with_rollback_through_magnumclient(aio, mc):
    make_template(mc)
    cluster = mc.clusters.create(name='rb', cluster_template_id='k8s',
                                 node_count=1)
    wait_status(mc, cluster.uuid, 'CREATE_COMPLETE', timeout=60, poll=0.1)
    aio.sim.cloud.knobs['server_failure_rate'] = 1.0
    mc.clusters.update(cluster.uuid, [{'op': 'replace', 'path': '/node_count',
                                       'value': 2}], rollback=True)
    done = wait_status(mc, cluster.uuid, 'ROLLBACK_COMPLETE', timeout=60,
                       poll=0.1)
    assert done.node_count == 1
    assert 'rolled back' in done.status_reason


def test_unknown_labels_are_stored_known_ones_checked(aio, mc):
    # As in Magnum, a label no driver knows is stored (and not used).
    tmpl = mc.cluster_templates.create(
        name='odd', coe='kubernetes', image_id='ubuntu-jammy',
        flavor_id='m1.small', keypair_id='default',
        external_network_id='public', labels={'kube_tagg': 'v1.30.1'})
    assert tmpl.labels == {'kube_tagg': 'v1.30.1'}
    mc.cluster_templates.delete('odd')
    make_template(mc)
    with pytest.raises(mc_exc.BadRequest) as err:
        mc.clusters.create(name='c', cluster_template_id='k8s',
                           labels={'kube_tag': 'latest'})
    assert 'kube_tag' in str(err.value)
    assert mc.clusters.list() == []
    # A label the driver knows, with a value it accepts, is fine.
    cluster = mc.clusters.create(name='c', cluster_template_id='k8s',
                                 labels={'kube_tag': 'v1.30.1'})
    wait_status(mc, cluster.uuid, 'CREATE_COMPLETE', timeout=60, poll=0.1)
