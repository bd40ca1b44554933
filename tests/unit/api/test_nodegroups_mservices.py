"""Read-only nodegroups (1.9+) and /v1/mservices."""

import datetime

from caas.db.sqlalchemy import engine
from caas.db.sqlalchemy import models
from tests.unit.api.conftest import ADMIN
from tests.unit.api.conftest import LATEST
from tests.unit.api.conftest import PROJECT_A
from tests.unit.api.conftest import PROJECT_B


def test_nodegroups_list_and_show(api, make_cluster):
    uuid = make_cluster(node_count=2)
    hdrs = dict(PROJECT_A, **LATEST)
    body = api.get('/v1/clusters/%s/nodegroups' % uuid, headers=hdrs).json_body
    assert sorted(ng['name'] for ng in body['nodegroups']) == [
        'default-master', 'default-worker']
    resp = api.get('/v1/clusters/%s/nodegroups/default-worker' % uuid,
                   headers=hdrs)
    assert resp.status_code == 200
    assert resp.json_body['node_count'] == 2
    assert resp.json_body['role'] == 'worker'


def test_nodegroups_need_1_9(api, make_cluster):
    uuid = make_cluster()
    resp = api.get('/v1/clusters/%s/nodegroups' % uuid, headers=PROJECT_A)
    assert resp.status_code == 406


def test_nodegroups_unknown_and_other_project_are_404(api, make_cluster):
    uuid = make_cluster()
    assert api.get('/v1/clusters/%s/nodegroups/ghost' % uuid,
                   headers=dict(PROJECT_A, **LATEST)).status_code == 404
    assert api.get('/v1/clusters/%s/nodegroups' % uuid,
                   headers=dict(PROJECT_B, **LATEST)).status_code == 404


def _conductor(host, age_seconds, **kw):
    now = models.utcnow()
    with engine.session_scope() as session:
        session.add(models.Conductor(
            host=host, binary='caas-conductor', report_count=7,
            heartbeat_at=now - datetime.timedelta(seconds=age_seconds), **kw))


def test_mservices_up_and_down(api, conf):
    conf('heartbeat_timeout', 10.0, group='conductor')
    _conductor('fresh', 1)
    _conductor('stale', 60, disabled=True, disabled_reason='maintenance')
    body = api.get('/v1/mservices', headers=ADMIN).json_body
    services = {s['host']: s for s in body['mservices']}
    assert services['fresh']['state'] == 'up'
    assert services['stale']['state'] == 'down'
    assert services['stale']['disabled'] is True
    assert services['stale']['disabled_reason'] == 'maintenance'
    assert set(services['fresh']) == {
        'id', 'host', 'binary', 'state', 'report_count', 'disabled',
        'disabled_reason', 'created_at', 'updated_at'}


def test_mservices_admin_only(api):
    assert api.get('/v1/mservices', headers=PROJECT_A).status_code == 403
