"""Steady-state health checks: each cluster is watched by exactly one
live conductor, and a check reports what Heat says."""

import time
import uuid

import sqlalchemy as sa

from caas.clients import cloud
from caas.common import states
from caas.conductor import health
from caas.db import api as db_api
from caas.db import operations as db_ops
from caas.db.sqlalchemy import engine
from caas.db.sqlalchemy import models
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



STACK = {'heat_template_version': '2018-08-31',
         'resources': {'v': {'type': 'OS::Heat::Value',
                             'properties': {'value': 'x'}}}}


def settled_clusters(clients, count):
    """``count`` clusters in CREATE_COMPLETE, each with its own stack, put
    straight into the database (no flow runs)."""
    made = []
    for i in range(count):
        cluster, _op = make_cluster()
        stack = clients.heat.stacks.create(stack_name='caas-%s' % cluster.uuid,
                                           template=STACK)
        made.append((cluster.uuid, stack['stack']['id']))
    with engine.session_scope() as session:
        for cluster_uuid, stack_id in made:
            session.execute(sa.update(models.Cluster).where(
                models.Cluster.uuid == cluster_uuid).values(
                    status=states.CREATE_COMPLETE, operation_id=None,
                    stack_id=stack_id))
    return made


class Updates:
    """UPDATE statements on the clusters table, counted at the engine."""

    def __init__(self, engines):
        self.engines, self.count = engines, 0

    def _on(self, _conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith('UPDATE CLUSTERS'):
            self.count += 1

    def __enter__(self):
        for e in self.engines:
            sa.event.listen(e, 'before_cursor_execute', self._on)
        return self

    def __exit__(self, *exc):
        for e in self.engines:
            sa.event.remove(e, 'before_cursor_execute', self._on)


def _delta(after, before):
    return {k: v - before.get(k, 0) for k, v in after.items()
            if v != before.get(k, 0)}


def test_fifty_settled_clusters_cost_one_listing_and_no_writes(db, sim):
    clients = cloud.CloudClients()
    made = settled_clusters(clients, 50)
    engines = [engine.get_engine(), engine.get_engine(readonly=True)]
    with Updates(engines) as first:
        assert health.run_once('c1', clients, 30, ['c1']) == 50
    # The first pass records HEALTHY for each (it was unknown).
    assert first.count == 50
    before = sim.app.request_counts()
    with Updates(engines) as calm:
        assert health.run_once('c1', clients, 30, ['c1']) == 50
    # One request to Heat for the 50 clusters, and nothing written.
    assert _delta(sim.app.request_counts(), before) == {'GET /heat': 1}
    assert calm.count == 0
    # A change is written, for that cluster only.
    clients.heat.stacks.delete(made[7][1])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with Updates(engines) as changed:
            health.run_once('c1', clients, 30, ['c1'])
        if changed.count:
            break
        time.sleep(0.05)
    assert changed.count == 1
    assert db_api.get_cluster(made[7][0], scope=db_api.ALL_PROJECTS).health_status == states.UNHEALTHY
    assert db_api.get_cluster(made[8][0], scope=db_api.ALL_PROJECTS).health_status == states.HEALTHY


def test_two_conductors_list_once_each_and_split_the_checks(db, sim):
    clients = cloud.CloudClients()
    settled_clusters(clients, 50)
    before = sim.app.request_counts()
    checked = [health.run_once(h, clients, 30, ['h1', 'h2'])
               for h in ('h1', 'h2')]
    assert sum(checked) == 50 and all(checked)
    assert _delta(sim.app.request_counts(), before) == {'GET /heat': 2}


def test_a_stack_beyond_the_first_page_is_found(db, sim, monkeypatch):
    """Heat caps a page: the listing follows the marker while a cluster's
    stack is still unseen, instead of calling it missing."""
    from caas.sim import heat as sim_heat
    monkeypatch.setattr(sim_heat, 'MAX_STACKS_PER_PAGE', 4)
    clients = cloud.CloudClients()
    made = settled_clusters(clients, 10)
    before = sim.app.request_counts()
    assert health.run_once('c1', clients, 30, ['c1']) == 10
    assert all(db_api.get_cluster(u, scope=db_api.ALL_PROJECTS).health_status == states.HEALTHY
               for u, _ in made)
    # Pages of 4, 4 and 2 stacks.
    assert _delta(sim.app.request_counts(), before) == {'GET /heat': 3}
