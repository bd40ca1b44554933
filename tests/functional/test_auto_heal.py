"""Auto-healing in the embedded mode (caas-all, simulated cloud): a worker
whose server is switched off is replaced by the conductor that watches the
cluster, the cluster going UPDATE_IN_PROGRESS then UPDATE_COMPLETE, and is
HEALTHY again afterwards; the other nodes are untouched."""

import time

import pytest
import sqlalchemy as sa

from caas.db.sqlalchemy import engine
from caas.db.sqlalchemy import models
from tests.integration.helpers import make_template
from tests.integration.helpers import wait_status


@pytest.fixture
def healing_aio(conf, request):
    conf('health_check_interval', 1.0, group='conductor')
    conf('auto_heal_after', 2.0, group='health')
    return request.getfixturevalue('aio')


def _workers(aio, cluster_uuid):
    return {s['id']: s['status'] for s in aio.sim.cloud.summary()['servers']
            if cluster_uuid in s['name'] and '-minion-' in s['name']}


def test_a_switched_off_worker_is_replaced(healing_aio, mc):
    aio = healing_aio
    make_template(mc)
    cluster = mc.clusters.create(name='demo', cluster_template_id='k8s',
                                 master_count=1, node_count=3)
    wait_status(mc, cluster.uuid, 'CREATE_COMPLETE', timeout=90, poll=0.2)
    with engine.session_scope() as session:
        session.execute(sa.update(models.Cluster).where(
            models.Cluster.uuid == cluster.uuid).values(
                labels={'auto_healing_enabled': 'true'}))
    before = _workers(aio, cluster.uuid)
    doomed = sorted(before)[0]
    with aio.sim.cloud.lock:
        aio.sim.cloud.set_server_status(aio.sim.cloud.server(doomed),
                                        'SHUTOFF')
        aio.sim.cloud.save()
    seen, health, deadline = set(), set(), time.monotonic() + 90
    while time.monotonic() < deadline:
        shown = mc.clusters.get(cluster.uuid)
        seen.add(shown.status)
        health.add(shown.health_status)
        after = _workers(aio, cluster.uuid)
        if shown.status == 'UPDATE_COMPLETE' and doomed not in after and \
                set(after.values()) == {'ACTIVE'} and \
                shown.health_status == 'HEALTHY':
            break
        assert not shown.status.endswith('FAILED'), shown.status_reason
        time.sleep(0.2)
    assert 'UPDATE_IN_PROGRESS' in seen and 'UNHEALTHY' in health
    assert shown.status == 'UPDATE_COMPLETE'
    assert shown.health_status == 'HEALTHY'
    # Exactly the switched-off worker was replaced.
    assert set(before) - set(after) == {doomed}
    assert len(set(after) - set(before)) == 1
