"""A DELETE always wins, and Magnum's notifications, on PostgreSQL and
RabbitMQ with two real conductor processes (one of them killed with -9).

The notifications are consumed with an oslo.messaging NotificationListener
on the same broker.
"""

import threading
import time
import uuid

import oslo_messaging as messaging
from oslo_config import cfg
import pytest

from tests.integration import helpers

pytestmark = pytest.mark.integration


class Collector:
    """A notification endpoint that records what it is sent."""

    def __init__(self):
        self.seen = []
        self.lock = threading.Lock()

    def _record(self, priority, publisher_id, event_type, payload):
        with self.lock:
            self.seen.append((event_type, priority, payload['outcome'],
                              payload['target'].get('id'), publisher_id))

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        self._record('INFO', publisher_id, event_type, payload)

    def error(self, ctxt, publisher_id, event_type, payload, metadata):
        self._record('ERROR', publisher_id, event_type, payload)

    def of(self, cluster_uuid):
        with self.lock:
            return [(t, p, o) for t, p, o, target, _pub in self.seen
                    if target == cluster_uuid]


@pytest.fixture
def listener(services):
    topic = 'caas-notifications-%s' % uuid.uuid4().hex[:8]
    conf = cfg.ConfigOpts()
    conf([], project='caas-test')
    transport = messaging.get_notification_transport(
        conf, url=services['transport_url'])
    collector = Collector()
    server = messaging.get_notification_listener(
        transport, [messaging.Target(topic=topic)], [collector],
        executor='threading')
    server.start()
    collector.topic = topic
    yield collector
    server.stop()
    server.wait()
    transport.cleanup()


def _wait_for(predicate, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError('condition not met in %ss' % timeout)


def _cloud_empty(dep):
    counts = dep.sim_state()['counts']
    return counts['stacks'] == 0 and counts['servers'] == 0


def _ops_of(dep, cluster_uuid):
    return {op['kind']: op for op in helpers.operations(dep.db_url)
            if op['cluster_id'] == cluster_uuid}


def test_delete_during_create_on_a_live_conductor(deploy, listener):
    dep = deploy(conductors=2, boot_delay=4,
                 notification_topic=listener.topic)
    mc = helpers.magnum(dep.api_url)
    tmpl = helpers.make_template(mc)
    cluster = mc.clusters.create(name='c1', cluster_template_id=tmpl.uuid,
                                 node_count=2)
    helpers.wait_owner_of(dep.db_url, cluster.uuid)
    _wait_for(lambda: dep.sim_state()['counts']['stacks'] == 1)
    mc.clusters.delete(cluster.uuid)          # 204, not a 409
    mc.clusters.delete(cluster.uuid)          # idempotent
    ops = _ops_of(dep, cluster.uuid)
    assert ops['cluster_create']['state'] == 'SUPERSEDED'
    assert len([op for op in helpers.operations(dep.db_url)
                if op['kind'] == 'cluster_delete']) == 1
    helpers.wait_status(mc, cluster.uuid, 'gone', timeout=120)
    _wait_for(lambda: _cloud_empty(dep), timeout=30)
    # The create's conductor let go of its operation.
    assert _ops_of(dep, cluster.uuid)['cluster_create']['owner'] is None
    expected = [('magnum.cluster.create', 'INFO', 'pending'),
                ('magnum.cluster.create', 'ERROR', 'failure'),
                ('magnum.cluster.delete', 'INFO', 'pending'),
                ('magnum.cluster.delete', 'INFO', 'success')]
    _wait_for(lambda: len(listener.of(cluster.uuid)) >= len(expected))
    time.sleep(1)   # anything sent twice would arrive by now
    assert sorted(listener.of(cluster.uuid)) == sorted(expected)


def test_delete_after_the_creating_conductor_was_killed(deploy, listener):
    dep = deploy(conductors=2, boot_delay=4,
                 notification_topic=listener.topic)
    mc = helpers.magnum(dep.api_url)
    tmpl = helpers.make_template(mc)
    cluster = mc.clusters.create(name='c1', cluster_template_id=tmpl.uuid,
                                 node_count=2)
    owner = helpers.wait_owner_of(dep.db_url, cluster.uuid)
    _wait_for(lambda: dep.sim_state()['counts']['stacks'] == 1)
    dep.kill(owner)
    mc.clusters.delete(cluster.uuid)
    helpers.wait_status(mc, cluster.uuid, 'gone', timeout=120)
    _wait_for(lambda: _cloud_empty(dep), timeout=30)
    ops = _ops_of(dep, cluster.uuid)
    assert ops['cluster_create']['state'] == 'SUPERSEDED'
    # The dead owner never let go; the delete went on after its heartbeat
    # stopped.
    assert ops['cluster_create']['owner'] == owner
    _wait_for(lambda: ('magnum.cluster.delete', 'INFO', 'success') in
              listener.of(cluster.uuid))
    assert ('magnum.cluster.create', 'INFO', 'success') not in \
        listener.of(cluster.uuid)


def test_a_create_resumed_after_kill_notifies_success_once(deploy, listener):
    dep = deploy(conductors=2, boot_delay=4,
                 notification_topic=listener.topic)
    mc = helpers.magnum(dep.api_url)
    tmpl = helpers.make_template(mc)
    cluster = mc.clusters.create(name='c1', cluster_template_id=tmpl.uuid,
                                 node_count=1)
    owner = helpers.wait_owner_of(dep.db_url, cluster.uuid)
    dep.kill(owner)
    helpers.wait_status(mc, cluster.uuid, 'CREATE_COMPLETE', timeout=120)
    assert _ops_of(dep, cluster.uuid)['cluster_create']['owner'] != owner
    mc.clusters.update(cluster.uuid, [{'op': 'replace', 'path': '/node_count',
                                       'value': 2}])
    helpers.wait_status(mc, cluster.uuid, 'UPDATE_COMPLETE', timeout=120)
    mc.clusters.delete(cluster.uuid)
    helpers.wait_status(mc, cluster.uuid, 'gone', timeout=120)
    expected = [(kind, 'INFO', outcome)
                for kind in ('magnum.cluster.create', 'magnum.cluster.update',
                             'magnum.cluster.delete')
                for outcome in ('pending', 'success')]
    _wait_for(lambda: len(listener.of(cluster.uuid)) >= len(expected))
    time.sleep(1)
    assert sorted(listener.of(cluster.uuid)) == sorted(expected)
    assert all(pub.startswith('container-infra.')
               for *_, pub in listener.seen)
