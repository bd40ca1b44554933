"""Nodegroups across processes: caas-api, two caas-conductors and
caas-cloudsim over RabbitMQ + PostgreSQL. A conductor killed (kill -9) in
the middle of a nodegroup create is taken over; the nodegroup's stack is
made once; deleting the nodegroup removes only its servers."""

import time

import pytest

from tests.integration import helpers

pytestmark = pytest.mark.integration


def _op(db_url, kind):
    ops = [op for op in helpers.operations(db_url) if op['kind'] == kind]
    return ops[0] if ops else None


def _wait(predicate, timeout=90, what='condition'):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError('%s not met in %ss' % (what, timeout))


def _group_status(mc, cluster, name):
    return mc.nodegroups.get(cluster, name).status


def test_killed_conductor_nodegroup_create_is_taken_over(deploy):
    dep = deploy(conductors=2, boot_delay=3)
    mc = helpers.magnum(dep.api_url)
    tmpl = helpers.make_template(mc)
    cluster = mc.clusters.create(name='c1', cluster_template_id=tmpl.uuid,
                                 node_count=1)
    helpers.wait_status(mc, cluster.uuid, 'CREATE_COMPLETE', timeout=90)
    before = {s['id'] for s in dep.sim_state()['servers']}
    assert len(before) == 2

    mc.nodegroups.create(cluster.uuid, name='extra', node_count=2)
    # Kill the owner once the nodegroup's stack exists (its servers boot).
    _wait(lambda: dep.sim_state()['counts']['stacks'] == 2,
          what='nodegroup stack created')
    owner = _op(dep.db_url, 'nodegroup_create')['owner']
    assert owner
    dep.kill(owner)
    _wait(lambda: _op(dep.db_url, 'nodegroup_create')['owner'] not in
          (None, owner), timeout=60, what='takeover')
    _wait(lambda: _group_status(mc, cluster.uuid, 'extra') ==
          'CREATE_COMPLETE', what='nodegroup CREATE_COMPLETE')
    op = _op(dep.db_url, 'nodegroup_create')
    assert op['state'] == 'SUCCEEDED' and op['claims'] >= 2
    state = dep.sim_state()
    # The stack the killed conductor made was found again, not made twice.
    assert state['counts']['stacks'] == 2
    with_group = {s['id'] for s in state['servers']}
    assert before < with_group and len(with_group) == 4
    done = helpers.wait_status(mc, cluster.uuid, 'UPDATE_COMPLETE')
    assert len(done.node_addresses) == 3

    mc.nodegroups.delete(cluster.uuid, 'extra')
    _wait(lambda: [ng.name for ng in mc.nodegroups.list(cluster.uuid)] ==
          ['default-master', 'default-worker'], what='nodegroup gone')
    _wait(lambda: {s['id'] for s in dep.sim_state()['servers']} == before,
          timeout=30, what='only the nodegroup servers gone')
    assert dep.sim_state()['counts']['stacks'] == 1

    helpers.wait_status(mc, cluster.uuid, 'UPDATE_COMPLETE')
    mc.clusters.delete(cluster.uuid)
    helpers.wait_status(mc, cluster.uuid, 'gone')
    assert dep.sim_state()['counts']['stacks'] == 0
