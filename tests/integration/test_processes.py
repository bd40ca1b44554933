"""caas-api, two caas-conductors and caas-cloudsim over RabbitMQ + PostgreSQL."""

import time

import pytest
import requests

from tests.integration import conftest
from tests.integration import helpers

pytestmark = pytest.mark.integration


def test_cluster_lifecycle_across_processes(deploy):
    dep = deploy(conductors=2, boot_delay=0.5)
    mc = helpers.magnum(dep.api_url)
    tmpl = helpers.make_template(mc)
    cluster = mc.clusters.create(name='c1', cluster_template_id=tmpl.uuid,
                                 master_count=1, node_count=2)
    # Commit before cast: the cluster is there as soon as the 202 is.
    assert mc.clusters.get(cluster.uuid).status == 'CREATE_IN_PROGRESS'
    done = helpers.wait_status(mc, cluster.uuid, 'CREATE_COMPLETE')
    assert len(done.master_addresses) == 1
    assert len(done.node_addresses) == 2
    assert done.api_address.startswith('https://')

    services = mc.mservices.list()
    assert sorted(s.host for s in services) == ['conductor-0', 'conductor-1']
    assert {s.state for s in services} == {'up'}
    # As Magnum lists its own, with small ids given at first registration.
    assert {s.binary for s in services} == {'magnum-conductor'}
    assert sorted(s.id for s in services) == [1, 2]

    mc.clusters.update(cluster.uuid, [{'op': 'replace', 'path': '/node_count',
                                       'value': 3}])
    done = helpers.wait_status(mc, cluster.uuid, 'UPDATE_COMPLETE')
    assert done.node_count == 3
    assert len(done.node_addresses) == 3

    mc.clusters.delete(cluster.uuid)
    helpers.wait_status(mc, cluster.uuid, 'gone')
    assert dep.sim_state()['counts']['stacks'] == 0
    mc.cluster_templates.delete(tmpl.uuid)


def test_killed_conductor_is_taken_over(deploy):
    dep = deploy(conductors=2, boot_delay=5)
    mc = helpers.magnum(dep.api_url)
    tmpl = helpers.make_template(mc)
    cluster = mc.clusters.create(name='c1', cluster_template_id=tmpl.uuid,
                                 node_count=1)
    owner = helpers.wait_owner(dep.db_url)
    killed_at = time.monotonic()
    dep.kill(owner)
    new_owner = owner
    while new_owner == owner and time.monotonic() < killed_at + 30:
        time.sleep(0.1)
        new_owner = helpers.operations(dep.db_url)[0]['owner']
    takeover = time.monotonic() - killed_at
    print('takeover after kill -9: %.1fs (%s -> %s)' % (takeover, owner,
                                                        new_owner))
    assert new_owner != owner
    helpers.wait_status(mc, cluster.uuid, 'CREATE_COMPLETE', timeout=60)
    state = dep.sim_state()
    assert state['counts']['stacks'] == 1


def test_requests_are_kept_while_the_broker_is_down(deploy):
    dep = deploy(conductors=2, boot_delay=0.2)
    mc = helpers.magnum(dep.api_url)
    tmpl = helpers.make_template(mc)
    conftest.rabbit('stop-rabbit')
    try:
        started = time.monotonic()
        cluster = mc.clusters.create(name='offline',
                                     cluster_template_id=tmpl.uuid,
                                     node_count=1)
        print('POST with the broker down answered in %.1fs' % (
            time.monotonic() - started))
        assert mc.clusters.get(cluster.uuid).status == 'CREATE_IN_PROGRESS'
    finally:
        conftest.rabbit('start-rabbit')
    helpers.wait_status(mc, cluster.uuid, 'CREATE_COMPLETE', timeout=90)


def test_api_answers_with_magnum_errors(deploy):
    dep = deploy(conductors=1)
    resp = requests.get(dep.api_url + '/v1/clusters/nope', timeout=10)
    assert resp.status_code == 404
    assert 'nope' in resp.json()['errors'][0]['detail']


def test_a_stopped_conductor_hands_its_work_over_at_once(deploy):
    # A heartbeat timeout far longer than the test: only the release on
    # SIGTERM can explain a takeover.
    dep = deploy(conductors=2, boot_delay=4,
                 conductor_opts={'heartbeat_timeout': 300})
    mc = helpers.magnum(dep.api_url)
    tmpl = helpers.make_template(mc)
    cluster = mc.clusters.create(name='c1', cluster_template_id=tmpl.uuid,
                                 node_count=1)
    owner = helpers.wait_owner(dep.db_url)
    dep.stop(owner)        # SIGTERM: a graceful stop
    assert helpers.operations(dep.db_url)[0]['owner'] != owner
    done = helpers.wait_status(mc, cluster.uuid, 'CREATE_COMPLETE',
                               timeout=60)
    ops = helpers.operations(dep.db_url)
    assert ops[0]['owner'] not in (owner, None)
    assert dep.sim_state()['counts']['stacks'] == 1
    assert done.status == 'CREATE_COMPLETE'
