"""COE probes are spread evenly over the interval (counts per slot, not
times), each cluster once per interval, none skipped when the scheduling
thread is late; the watcher's steady state stays O(1) cloud requests with
no writes, auto-healing clusters included."""

import types
import uuid

from caas.clients import cloud
from caas.conductor import health
from caas.conductor.monitors import schedule
from tests.unit.conductor.test_health import Updates
from tests.unit.conductor.test_health import _delta
from tests.unit.conductor.test_health import settled_clusters


def _targets(n):
    return [types.SimpleNamespace(uuid=str(uuid.uuid5(uuid.NAMESPACE_OID,
                                                      'cluster-%d' % i)))
            for i in range(n)]


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_slots_are_filled_evenly():
    slots = 30
    counts = [0] * slots
    for t in _targets(10000):
        counts[schedule.slot_of(t.uuid, slots)] += 1
    mean = 10000 / slots
    assert min(counts) >= 0.8 * mean and max(counts) <= 1.2 * mean


def test_one_interval_probes_every_cluster_once_spread_over_its_slots():
    probed = []
    clock = Clock()
    probes = schedule.ProbeScheduler(30, 4, probed.append, clock=clock)
    targets = _targets(1000)
    probes.set_targets(targets)
    per_second = []
    run_slot = probes.run_slot
    probes.run_slot = lambda slot: per_second.append(len(run_slot(slot)))
    for _second in range(30):
        clock.now += 1
        probes.step()
    probes._pool.shutdown(wait=True)
    assert sorted(t.uuid for t in probed) == sorted(t.uuid for t in targets)
    assert len(per_second) == 30 and sum(per_second) == 1000
    # About 1000 / 30 = 33 a second; never a burst of the whole share.
    assert max(per_second) <= 50 and min(per_second) >= 18


def test_a_late_scheduler_runs_the_slots_it_missed():
    probed = []
    clock = Clock()
    probes = schedule.ProbeScheduler(10, 2, probed.append, clock=clock)
    probes.set_targets(_targets(200))
    clock.now += 1
    probes.step()
    clock.now += 7          # the thread slept through six slots
    assert probes.step() == 7
    clock.now += 2
    assert probes.step() == 2
    probes._pool.shutdown(wait=True)
    assert len(probed) == 200


def test_a_cluster_whose_probe_is_still_running_is_not_queued_again():
    probes = schedule.ProbeScheduler(1, 1, lambda t: None)
    targets = _targets(3)
    probes.set_targets(targets)
    with probes._lock:
        probes._inflight.add(targets[0].uuid)
    started = probes.run_slot(0)
    assert targets[0].uuid not in started and len(started) == 2
    probes.stop()


def test_auto_healing_clusters_cost_one_more_listing_and_no_writes(db, sim):
    """50 settled clusters with auto_healing_enabled: after the first pass,
    a calm interval costs one stack listing and one server listing, and
    writes nothing."""
    import sqlalchemy as sa
    from caas.db.sqlalchemy import engine
    from caas.db.sqlalchemy import models
    clients = cloud.CloudClients()
    made = settled_clusters(clients, 50)
    with engine.session_scope() as session:
        session.execute(sa.update(models.Cluster).values(
            labels={'auto_healing_enabled': 'true'}))
    watcher = health.Watcher(30)
    engines = [engine.get_engine(), engine.get_engine(readonly=True)]
    assert health.run_once('c1', clients, 30, ['c1'], watcher=watcher) == 50
    before = sim.app.request_counts()
    with Updates(engines) as calm:
        assert health.run_once('c1', clients, 30, ['c1'],
                               watcher=watcher) == 50
    assert _delta(sim.app.request_counts(), before) == {
        'GET /heat': 1, 'GET /compute': 1}
    assert calm.count == 0
    assert len(made) == 50
