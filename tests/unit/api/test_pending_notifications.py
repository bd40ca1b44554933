"""The API's pending notifications (Magnum's event types, CADF payloads)."""

from oslo_messaging.notify import _impl_test

from caas.common import notifications
from tests.unit.api.conftest import PROJECT_A
from tests.unit.api.conftest import settle
from tests.unit.notify_fixture import notified  # noqa: F401 (fixture)


def _outcomes(sent, event_type):
    return [(prio, p['outcome']) for _t, prio, p, _pub in sent(event_type)]


def test_off_unless_a_driver_is_configured(api, make_cluster):
    notifications.reset()
    _impl_test.reset()
    make_cluster()
    assert not notifications.enabled()
    assert _impl_test.NOTIFICATIONS == []


def test_create_sends_one_pending_cadf_event(api, notified, make_cluster,
                                             template):
    uuid = make_cluster()
    sent = notified()
    assert len(sent) == 1
    event_type, priority, payload, publisher = sent[0]
    assert event_type == 'magnum.cluster.create'
    assert priority == 'INFO'
    assert publisher.startswith('container-infra.')
    assert payload['typeURI'] == 'http://schemas.dmtf.org/cloud/audit/1.0/event'
    assert payload['eventType'] == 'activity'
    assert payload['action'] == 'create'
    assert payload['outcome'] == 'pending'
    assert payload['initiator']['typeURI'] == 'service/security/account/user'
    assert payload['initiator']['project_id'] == 'project-a'
    assert payload['initiator']['user_id'] == 'alice'
    assert payload['observer']['typeURI'] == 'service/magnum/cluster'
    target = payload['target']
    assert target['id'] == uuid
    assert target['name'] == 'c1'
    assert target['typeURI'] == 'service/magnum/cluster'
    data = target['attachments'][0]
    assert data['name'] == 'cluster_data'
    assert data['content']['status'] == 'CREATE_IN_PROGRESS'
    assert data['content']['cluster_template_id'] == template['uuid']
    assert data['content']['project_id'] == 'project-a'


def test_update_and_delete_send_pending(api, notified, make_cluster):
    uuid = make_cluster()
    settle(uuid)
    assert api.patch('/v1/clusters/%s' % uuid, [
        {'op': 'replace', 'path': '/node_count', 'value': 2}],
        headers=PROJECT_A).status_code == 202
    settle(uuid, 'UPDATE_COMPLETE')
    assert api.delete('/v1/clusters/%s' % uuid,
                      headers=PROJECT_A).status_code == 204
    assert _outcomes(notified, 'magnum.cluster.update') == [('INFO',
                                                             'pending')]
    assert _outcomes(notified, 'magnum.cluster.delete') == [('INFO',
                                                             'pending')]


def test_a_refused_request_sends_nothing(api, notified, make_cluster):
    uuid = make_cluster()
    resp = api.patch('/v1/clusters/%s' % uuid, [
        {'op': 'replace', 'path': '/node_count', 'value': 2}],
        headers=PROJECT_A)
    assert resp.status_code == 409
    assert notified('magnum.cluster.update') == []


def test_delete_that_supersedes_a_create_ends_the_create_as_failed(
        api, notified, make_cluster):
    uuid = make_cluster()
    assert api.delete('/v1/clusters/%s' % uuid,
                      headers=PROJECT_A).status_code == 204
    assert _outcomes(notified, 'magnum.cluster.create') == [
        ('INFO', 'pending'), ('ERROR', 'failure')]
    assert _outcomes(notified, 'magnum.cluster.delete') == [
        ('INFO', 'pending')]
    # A second delete is a no-op: nothing more is sent.
    assert api.delete('/v1/clusters/%s' % uuid,
                      headers=PROJECT_A).status_code == 204
    assert len(notified()) == 3
