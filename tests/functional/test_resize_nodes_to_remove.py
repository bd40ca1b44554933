"""``resize`` with ``nodes_to_remove`` through the API (python-magnumclient)
on the embedded caas-all and its simulated cloud: exactly the named servers
go, by UUID in the default worker group and by name in a nodegroup users
added; naming a node of another group removes nothing."""

import time

import microversion_parse
import pytest

from caas.api import microversions
from tests.integration.helpers import make_template
from tests.integration.helpers import wait_status


@pytest.fixture
def v114(monkeypatch):
    monkeypatch.setattr(microversions, 'MAX_VERSION',
                        microversion_parse.parse_version_string('1.14'))


def _workers(aio, cluster_uuid, group=None):
    """{server id: name} of the visible worker servers of the cluster's
    own stack (group None) or of a nodegroup's stack."""
    marker = '-ng-' if group else '-minion-'
    return {s['id']: s['name'] for s in aio.sim.cloud.summary()['servers']
            if cluster_uuid in s['name'] and '-minion-' in s['name'] and
            (marker == '-ng-') == ('-ng-' in s['name'])}


def _wait_servers(aio, cluster_uuid, expected, group=None, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = _workers(aio, cluster_uuid, group)
        if set(found) == set(expected):
            return found
        time.sleep(0.1)
    assert set(_workers(aio, cluster_uuid, group)) == set(expected)


def _wait_group(mc, cluster_uuid, name, wanted, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        group = mc.nodegroups.get(cluster_uuid, name)
        if group.status == wanted:
            return group
        assert not group.status.endswith('FAILED'), group.status_reason
        time.sleep(0.2)
    raise AssertionError('nodegroup %s never %s' % (name, wanted))


def test_resize_removes_exactly_the_named_nodes(aio, mc, v114):
    make_template(mc)
    cluster = mc.clusters.create(name='demo', cluster_template_id='k8s',
                                 master_count=1, node_count=3)
    wait_status(mc, cluster.uuid, 'CREATE_COMPLETE', timeout=90, poll=0.2)
    workers = _workers(aio, cluster.uuid)
    assert len(workers) == 3
    doomed = sorted(workers)[1]

    # Default worker group, by server UUID.
    mc.clusters.resize(cluster.uuid, 2, nodes_to_remove=[doomed])
    shown = wait_status(mc, cluster.uuid, 'UPDATE_COMPLETE', timeout=90,
                        poll=0.2)
    assert shown.node_count == 2
    kept = _wait_servers(aio, cluster.uuid, set(workers) - {doomed})
    assert len(shown.node_addresses) == 2

    # A nodegroup users added, by server name.
    mc.nodegroups.create(cluster.uuid, name='gpu', node_count=3,
                         max_node_count=4)
    _wait_group(mc, cluster.uuid, 'gpu', 'CREATE_COMPLETE')
    wait_status(mc, cluster.uuid, 'UPDATE_COMPLETE', poll=0.2)
    gpu = _workers(aio, cluster.uuid, 'gpu')
    assert len(gpu) == 3
    gone_id, gone_name = sorted(gpu.items())[0]
    mc.clusters.resize(cluster.uuid, 2, nodes_to_remove=[gone_name],
                       nodegroup='gpu')
    group = _wait_group(mc, cluster.uuid, 'gpu', 'UPDATE_COMPLETE')
    assert group.node_count == 2 and len(group.node_addresses) == 2
    _wait_servers(aio, cluster.uuid, set(gpu) - {gone_id}, group='gpu')
    # The default group's workers were not touched.
    assert _workers(aio, cluster.uuid) == kept
    wait_status(mc, cluster.uuid, 'UPDATE_COMPLETE', poll=0.2)

    # A server of the nodegroup named in a resize of the default group:
    # the update fails, naming it, and no server goes.
    other = sorted(set(gpu) - {gone_id})[0]
    before = dict(_workers(aio, cluster.uuid)), _workers(aio, cluster.uuid,
                                                         'gpu')
    mc.clusters.resize(cluster.uuid, 1, nodes_to_remove=[other])
    failed = wait_status(mc, cluster.uuid, 'UPDATE_FAILED', timeout=90,
                         poll=0.2)
    assert other in failed.status_reason
    assert 'not a worker' in failed.status_reason
    assert (_workers(aio, cluster.uuid),
            _workers(aio, cluster.uuid, 'gpu')) == before
