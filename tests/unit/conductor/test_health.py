"""Steady-state health checks: each cluster is watched by exactly one
live conductor, and a check reports what Heat says."""

import time
import uuid

from caas.clients import cloud
from caas.common import states
from caas.conductor import health
from caas.db import api as db_api
from caas.db import operations as db_ops
from tests.unit.conductor.conftest import make_cluster
from tests.unit.conductor.conftest import wait_operation


def test_every_cluster_has_exactly_one_watcher():
    hosts = ['c1', 'c2', 'c3']
    clusters = [str(uuid.uuid4()) for _ in range(300)]
    owners = [health.watcher_of(c, hosts) for c in clusters]
    assert set(owners) == set(hosts)
    # Every conductor computes the same owner from the same live set.
    assert owners == [health.watcher_of(c, list(reversed(hosts)))
                      for c in clusters]


def test_when_a_conductor_dies_only_its_share_moves():
    hosts = ['c1', 'c2', 'c3']
    clusters = [str(uuid.uuid4()) for _ in range(300)]
    before = {c: health.watcher_of(c, hosts) for c in clusters}
    after = {c: health.watcher_of(c, ['c1', 'c3']) for c in clusters}
    moved = [c for c in clusters if before[c] != after[c]]
    assert moved and all(before[c] == 'c2' for c in moved)


def test_the_live_conductors_split_the_settled_clusters(make_runner, sim):
    runner = make_runner()
    made = []
    for _ in range(6):
        cluster, op = make_cluster()
        runner.claim_and_run(op.id)
        made.append((cluster.uuid, op.id))
    for _, op_id in made:
        wait_operation(op_id)
    mine = {h: {r.uuid for r in health.my_clusters(h, ['h1', 'h2'])}
            for h in ('h1', 'h2')}
    assert mine['h1'].isdisjoint(mine['h2'])
    assert mine['h1'] | mine['h2'] == {u for u, _ in made}


def test_a_deleted_stack_makes_the_cluster_unhealthy(make_runner, sim):
    runner = make_runner()
    cluster, op = make_cluster()
    runner.claim_and_run(op.id)
    wait_operation(op.id)
    clients = cloud.CloudClients()
    assert health.run_once('c1', clients, 0, ['c1']) == 1
    assert db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS).health_status == states.HEALTHY
    stack_id = db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS).stack_id
    clients.heat.stacks.delete(stack_id)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        health.run_once('c1', clients, 0, ['c1'])
        row = db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS)
        if row.health_status == states.UNHEALTHY:
            break
        time.sleep(0.1)
    assert row.health_status == states.UNHEALTHY
    assert stack_id in row.health_status_reason['stack']


def test_health_is_not_written_while_an_operation_runs(db, make_runner, sim):
    runner = make_runner()
    cluster, op = make_cluster()
    runner.claim_and_run(op.id)
    wait_operation(op.id)
    db_api.start_operation(cluster.uuid, states.OP_CLUSTER_UPDATE,
                           {'node_count': 1})
    assert not db_ops.record_health(cluster.uuid, states.UNHEALTHY, {})
    assert health.run_once('c1', cloud.CloudClients(), 0, ['c1']) == 0

