"""Reference checks: a transient cloud failure is retried within
``[cloud] reference_retry_timeout``, then a 503 names the service; "not
found" is said only when the cloud said it."""

import functools
import threading

import flask
import pytest
from heatclient import exc as heat_exc
from keystoneauth1 import exceptions as ks_exc
from novaclient import exceptions as nova_exc

from caas.api import app as api_app
from caas.api import middleware
from caas.api import refcache
from caas.api import references
from caas.clients import cloud as cloud_mod
from caas.common import exceptions
from caas.conf import CONF
from tests.unit.api.conftest import Api
from tests.unit.api.conftest import FakeCloud
from tests.unit.api.conftest import LATEST
from tests.unit.api.conftest import PROJECT_A
from tests.unit.api.conftest import template_body

HEADERS = dict(PROJECT_A, **LATEST)


class FlakyCloud(FakeCloud):
    """Fails the first ``failures`` look-ups as an unavailable service."""

    def __init__(self, failures, error=None):
        super().__init__()
        self.failures = failures
        self.error = error or exceptions.CloudUnavailable(
            service=cloud_mod.COMPUTE, err='HTTP 503')
        self.calls = 0

    def _find(self, table, key):
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return super()._find(table, key)


def test_a_transient_failure_is_retried_then_answered():
    cloud = FlakyCloud(failures=2)
    found = references.check(cloud, {'flavor_id': 'm1.small'},
                             ['flavor_id'], retry_timeout=30)
    assert found['flavor_id']['name'] == 'm1.small'
    assert cloud.calls == 3


def test_a_cloud_that_stays_down_is_a_503_naming_service_field_and_value():
    cloud = FlakyCloud(failures=10 ** 6)
    with pytest.raises(exceptions.CloudError) as info:
        references.check(cloud, {'flavor_id': 'm1.small'}, ['flavor_id'],
                         retry_timeout=0.3)
    assert info.value.code == 503
    message = str(info.value)
    assert 'flavor_id m1.small' in message
    assert 'compute service (Nova)' in message and 'unavailable' in message
    assert 'not found' not in message
    assert cloud.calls >= 2


def test_no_retry_timeout_means_one_try():
    cloud = FlakyCloud(failures=1)
    with pytest.raises(exceptions.CloudError):
        references.check(cloud, {'image_id': 'ubuntu'}, ['image_id'],
                         retry_timeout=0)
    assert cloud.calls == 1


@pytest.mark.parametrize('error', [
    exceptions.NotFound(),
    exceptions.CloudError(err='HTTP 403 Forbidden'),
])
def test_answers_that_are_not_transient_are_not_retried(error):
    cloud = FlakyCloud(failures=1, error=error)
    with pytest.raises((exceptions.InvalidParameterValue,
                        exceptions.CloudError)):
        references.check(cloud, {'keypair': 'default'}, ['keypair'],
                         retry_timeout=30)
    assert cloud.calls == 1


@pytest.fixture
def cloud():
    """The ``api`` fixture's cloud: flaky, healthy until told otherwise."""
    return FlakyCloud(failures=0)


def test_the_api_retries_with_the_configured_timeout(api, cloud, conf):
    conf('reference_retry_timeout', 30, group='cloud')
    cloud.failures = 3
    resp = api.post('/v1/clustertemplates', template_body(), headers=HEADERS)
    assert resp.status_code == 201, resp.json_body
    assert cloud.calls > 3


def test_the_api_answers_503_naming_the_service(api, cloud, conf):
    conf('reference_retry_timeout', 0.2, group='cloud')
    cloud.failures = 10 ** 6
    resp = api.post('/v1/clustertemplates', template_body(), headers=HEADERS)
    assert resp.status_code == 503
    title = resp.json_body['errors'][0]['title']
    assert 'image_id fedora-coreos' in title
    assert 'Nova' in title and 'unavailable' in title


# -- the cloud clients --------------------------------------------------------

@pytest.mark.parametrize('exc, expected', [
    (nova_exc.ClientException(503), True),
    (nova_exc.ClientException(500), True),
    (nova_exc.ClientException(403), False),
    (nova_exc.NotFound(404), False),
    (heat_exc.HTTPServiceUnavailable(), True),
    (heat_exc.HTTPBadRequest(), False),
    (ks_exc.ConnectFailure(), True),
    (ks_exc.ConnectTimeout(), True),
    (ks_exc.ServiceUnavailable(), True),
    (ks_exc.Unauthorized(), False),
    (ValueError('bug'), False),
])
def test_transient_failures_are_5xx_and_unreachable_services(exc, expected):
    assert cloud_mod.transient(exc) is expected


def test_translate_names_the_service():
    err = cloud_mod._translate('Flavor x', nova_exc.ClientException(503),
                               cloud_mod.COMPUTE)
    assert isinstance(err, exceptions.CloudUnavailable)
    assert err.service == cloud_mod.COMPUTE
    assert isinstance(cloud_mod._translate('Flavor x', nova_exc.NotFound(404),
                                           cloud_mod.COMPUTE),
                      exceptions.NotFound)


class _Session:
    def get_auth_headers(self):
        return {'X-Auth-Token': 't'}

    def get_endpoint(self, **kwargs):
        return 'http://127.0.0.1:1/compute/v2.1'


def test_every_thread_gets_its_own_nova_client_on_one_session():
    clients = cloud_mod.CloudClients(session=_Session())
    mine = clients.nova
    assert clients.nova is mine
    theirs = []
    thread = threading.Thread(target=lambda: theirs.append(clients.nova))
    thread.start()
    thread.join()
    assert theirs[0] is not mine
    assert theirs[0].client.session is mine.client.session
    # What made the race: an image look-up switches the service type of
    # its thread's client only.
    with mine.glance.alternate_service_type('image'):
        assert theirs[0].client.service_type == 'compute'


# -- the cache of found references -------------------------------------------

def _create(api, name, headers=HEADERS, **kw):
    body = dict({'name': name, 'cluster_template_id': 'k8s',
                 'keypair': 'default', 'node_count': 1}, **kw)
    return api.post('/v1/clusters', body, headers=headers)


def test_a_burst_of_creates_asks_the_cloud_once_per_reference(
        api, cloud, template, conf):
    conf('reference_cache_time', 60, group='cloud')
    del cloud.lookups[:]
    for i in range(5):
        assert _create(api, 'c%d' % i).status_code == 202
    # Each flavor once; the keypair, as the one user, once too.
    assert sorted(cloud.lookups) == ['default', 'm1.large', 'm1.small']
    # A template's check is remembered for the clusters made from it.
    del cloud.lookups[:]
    assert api.post('/v1/clustertemplates', template_body(name='t2'),
                    headers=HEADERS).status_code == 201
    assert 'm1.small' not in cloud.lookups
    assert 'm1.large' not in cloud.lookups


def test_what_was_not_found_is_asked_again_and_usable_at_once(
        api, cloud, template, conf):
    conf('reference_cache_time', 60, group='cloud')
    resp = _create(api, 'early', keypair='later')
    assert resp.status_code == 400 and 'keypair' in resp.json_body[
        'errors'][0]['detail']
    cloud.keypairs['later'] = {'name': 'later'}
    assert _create(api, 'now', keypair='later').status_code == 202
    assert cloud.lookups.count('later') == 2


class PerUserCloud(FakeCloud):
    """Keypairs per (user, project), as Nova keeps them, answered as the
    user whose view this is; every look-up recorded with that user."""

    def __init__(self, keypairs, asked, user, project):
        super().__init__()
        self.as_user = True
        self.keypairs = keypairs.get((user, project), {})
        self.asked = asked
        self.who = (user, project)

    def find_keypair(self, name):
        self.asked.append(self.who + (name,))
        return super().find_keypair(name)


@pytest.fixture
def per_user(api, template, conf, monkeypatch):
    """Alice's and Carol's keypairs as Nova holds them: each user's, in
    one project; the app's view of the user made from the request."""
    keypairs = {('alice', 'project-a'): {'alices': {'name': 'alices'}},
                ('carol', 'project-a'): {'carols': {'name': 'carols'}},
                ('alice', 'project-b'): {}}
    asked = []

    def user_cloud(services):
        ctx = flask.request.environ[middleware.CONTEXT_KEY]
        return PerUserCloud(keypairs, asked, ctx.user_id, ctx.project_id)
    monkeypatch.setattr(api_app.Services, 'user_cloud', user_cloud)
    conf('reference_cache_time', 60, group='cloud')
    return keypairs, asked


ALICE_B = dict(HEADERS, **{'X-Project-Id': 'project-b'})
CAROL = dict(HEADERS, **{'X-User-Id': 'carol'})


def test_a_found_keypair_is_remembered_for_its_user_and_project(
        api, per_user):
    _keypairs, asked = per_user
    for i in range(4):
        assert _create(api, 'a%d' % i, keypair='alices').status_code == 202
    assert asked == [('alice', 'project-a', 'alices')]


def test_one_users_keypair_is_never_anothers(api, per_user):
    _keypairs, asked = per_user
    # Alice's keypair, found and remembered for Alice ...
    assert _create(api, 'a1', keypair='alices').status_code == 202
    # ... is not Carol's, who has none of that name: Nova is asked as
    # Carol, and says not found.
    resp = _create(api, 'c1', headers=CAROL, keypair='alices')
    assert resp.status_code == 400, resp.json_body
    assert 'keypair' in resp.json_body['errors'][0]['detail']
    # Nor Alice's own in another project.
    assert api.post('/v1/clustertemplates', template_body(),
                    headers=ALICE_B).status_code == 201
    resp = _create(api, 'b1', headers=ALICE_B, keypair='alices')
    assert resp.status_code == 400, resp.json_body
    assert 'keypair' in resp.json_body['errors'][0]['detail']
    # Carol's own is remembered for her; Alice's still for Alice.
    assert _create(api, 'c2', headers=CAROL,
                   keypair='carols').status_code == 202
    assert _create(api, 'c3', headers=CAROL,
                   keypair='carols').status_code == 202
    assert _create(api, 'a2', keypair='alices').status_code == 202
    assert asked == [('alice', 'project-a', 'alices'),
                     ('carol', 'project-a', 'alices'),
                     ('alice', 'project-b', 'alices'),
                     ('carol', 'project-a', 'carols')]


def test_a_keypair_not_found_is_never_remembered(api, per_user):
    keypairs, asked = per_user
    for i in range(2):
        resp = _create(api, 'c%d' % i, headers=CAROL, keypair='later')
        assert resp.status_code == 400
    keypairs[('carol', 'project-a')]['later'] = {'name': 'later'}
    assert _create(api, 'now', headers=CAROL,
                   keypair='later').status_code == 202
    assert asked == [('carol', 'project-a', 'later')] * 3


def test_a_remembered_keypair_is_asked_again_once_it_expired(
        api, cloud, rpc, drivers, template, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(api_app.refcache, 'ReferenceCache', functools.partial(
        refcache.ReferenceCache, timer=lambda: clock[0]))
    timed = Api(api_app.build_app(CONF, rpcapi=rpc, cloud=cloud,
                                  find_driver=drivers))
    CONF.set_override('reference_cache_time', 10, group='cloud')
    try:
        del cloud.lookups[:]
        assert _create(timed, 'a1').status_code == 202
        clock[0] += 9.5
        assert _create(timed, 'a2').status_code == 202
        assert cloud.lookups.count('default') == 1
        clock[0] += 1.0
        assert _create(timed, 'a3').status_code == 202
        assert cloud.lookups.count('default') == 2
        # Removed from the cloud: not found once the memory expired.
        del cloud.keypairs['default']
        clock[0] += 10.5
        assert _create(timed, 'a4').status_code == 400
    finally:
        CONF.clear_override('reference_cache_time', group='cloud')


def test_no_cache_time_asks_every_time(api, cloud, template, conf):
    conf('reference_cache_time', 0, group='cloud')
    del cloud.lookups[:]
    for i in range(3):
        assert _create(api, 'c%d' % i).status_code == 202
    assert cloud.lookups.count('default') == 3
