"""``openstack coe nodegroup create/list --role/show/update/delete`` and a
resize naming a nodegroup: the real CLI (python-openstackclient +
python-magnumclient, run as a process) against the embedded caas-all and
its simulated cloud, counting the cloud's servers before and after."""

import json
import time

import microversion_parse
import pytest

from caas.api import microversions
from tests.functional.test_cluster_config import cli
from tests.integration.helpers import make_template
from tests.integration.helpers import wait_status


@pytest.fixture
def v114(monkeypatch):
    """The in-process API serves 1.14 whatever this branch's maximum is
    (the CLI asks for "latest")."""
    monkeypatch.setattr(microversions, 'MAX_VERSION',
                        microversion_parse.parse_version_string('1.14'))


def _json(aio, *args):
    return json.loads(cli(aio, *(args + ('-f', 'json'))).stdout)


def _servers(aio):
    return {s['id']: s['name'] for s in aio.sim.cloud.summary()['servers']}


def _wait_group(aio, name, wanted, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        proc = cli(aio, 'nodegroup', 'show', 'demo', name, '-f', 'json',
                   check=False)
        if proc.returncode != 0:
            if wanted == 'gone' and 'not be found' in proc.stderr:
                return None
            raise AssertionError(proc.stderr)
        group = json.loads(proc.stdout)
        if group['status'] == wanted:
            return group
        assert not group['status'].endswith('FAILED'), group
        time.sleep(0.3)
    raise AssertionError('nodegroup %s never %s' % (name, wanted))


def test_nodegroup_life_with_the_cli(aio, mc, v114):
    make_template(mc)
    cluster = mc.clusters.create(name='demo', cluster_template_id='k8s',
                                 master_count=1, node_count=1)
    wait_status(mc, cluster.uuid, 'CREATE_COMPLETE', timeout=90, poll=0.2)
    before = _servers(aio)
    assert len(before) == 2

    out = cli(aio, 'nodegroup', 'create', 'demo', 'gpu', '--node-count', '2',
              '--max-nodes', '3', '--role', 'worker',
              '--node-labels', 'tier=gpu',
              '--node-taints', 'gpu=yes:NoSchedule').stdout
    assert 'Request to create nodegroup' in out
    group = _wait_group(aio, 'gpu', 'CREATE_COMPLETE')
    assert (group['node_count'], group['max_node_count'],
            group['is_default'], group['role']) == (2, 3, False, 'worker')
    assert group['node_labels'] == {'tier': 'gpu'}
    assert group['node_taints'] == [{'key': 'gpu', 'value': 'yes',
                                     'effect': 'NoSchedule'}]
    assert len(group['node_addresses']) == 2
    with_group = _servers(aio)
    assert len(with_group) == 4 and set(before) < set(with_group)
    shown = wait_status(mc, cluster.uuid, 'UPDATE_COMPLETE', poll=0.2)
    assert set(group['node_addresses']) <= set(shown.node_addresses)
    assert len(shown.node_addresses) == 3

    workers = _json(aio, 'nodegroup', 'list', 'demo', '--role', 'worker')
    assert sorted(g['name'] for g in workers) == ['default-worker', 'gpu']
    masters = _json(aio, 'nodegroup', 'list', 'demo', '--role', 'master')
    assert [g['name'] for g in masters] == ['default-master']

    # Above max_node_count: refused, nothing changes.
    refused = cli(aio, 'cluster', 'resize', 'demo', '4', '--nodegroup',
                  'gpu', check=False)
    assert refused.returncode != 0 and 'max_node_count' in refused.stderr
    cli(aio, 'nodegroup', 'update', 'demo', 'gpu', '--max-nodes', '4',
        '--min-nodes', '1')
    group = _wait_group(aio, 'gpu', 'UPDATE_COMPLETE')
    assert (group['min_node_count'], group['max_node_count']) == (1, 4)
    wait_status(mc, cluster.uuid, 'UPDATE_COMPLETE', poll=0.2)
    cli(aio, 'cluster', 'resize', 'demo', '3', '--nodegroup', 'gpu')
    group = _wait_group(aio, 'gpu', 'UPDATE_COMPLETE')
    assert group['node_count'] == 3 and len(group['node_addresses']) == 3
    wait_status(mc, cluster.uuid, 'UPDATE_COMPLETE', poll=0.2)
    grown = _servers(aio)
    assert len(grown) == 5

    refused = cli(aio, 'nodegroup', 'delete', 'demo', 'default-worker',
                  check=False)
    assert 'default-worker' in refused.stdout + refused.stderr
    assert _json(aio, 'nodegroup', 'show', 'demo', 'default-worker')[
        'status'] == 'CREATE_COMPLETE'

    cli(aio, 'nodegroup', 'delete', 'demo', 'gpu')
    _wait_group(aio, 'gpu', 'gone')
    wait_status(mc, cluster.uuid, 'UPDATE_COMPLETE', poll=0.2)
    # Only the nodegroup's servers are gone: the cluster's are the same.
    deadline = time.monotonic() + 30
    while len(_servers(aio)) != 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _servers(aio) == before
    assert len(mc.clusters.get(cluster.uuid).node_addresses) == 1
