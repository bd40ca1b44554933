"""A user deleted, or a token revoked, after caas's API accepted the token
(keystonemiddleware caches validated tokens): the reference check that
asks the simulated Nova as that user gets a 401 from it, and caas answers
401 saying the token is no longer valid, not 503 as if the cloud were
down. caas's own credentials refused stay a 503 for the operator."""

import functools

import pytest
import requests
from keystoneauth1 import identity
from keystoneauth1 import session as ks_session
from keystoneclient.v3 import client as ks_client
from keystonemiddleware import auth_token
from keystonemiddleware.auth_token import _user_plugin
from novaclient import client as nova_client

from caas.api import app as api_app
from caas.api import refcache
from caas.api import references
from caas.clients import cloud as cloud_mod
from caas.common import exceptions
from caas.conf import CONF
from caas.sim import server as sim_server

from .conftest import Api
from .conftest import LATEST
from .conftest import template_body


@pytest.fixture
def sim(tmp_path, conf):
    srv = sim_server.SimServer(port=0, state_dir=str(tmp_path / 'sim'))
    srv.start()
    conf('auth_url', srv.auth_url, group='cloud')
    conf('username', 'caas', group='cloud')
    conf('password', 'caas', group='cloud')
    conf('project_name', 'service', group='cloud')
    yield srv
    srv.stop()


def _session(srv, user, project, password):
    return ks_session.Session(auth=identity.v3.Password(
        auth_url=srv.auth_url, username=user, password=password,
        project_name=project, user_domain_name='Default',
        project_domain_name='Default'))


@pytest.fixture
def alice(sim):
    """A member of a project of her own, with her own keypair in Nova."""
    admin = ks_client.Client(session=_session(sim, 'admin', 'admin', 'caas'))
    domain = admin.domains.list(name='Default')[0]
    project = admin.projects.create('alices', domain=domain.id)
    user = admin.users.create('alice', domain=domain.id, password='pw-a',
                              default_project=project.id)
    member = [r for r in admin.roles.list() if r.name == 'member'][0]
    admin.roles.grant(member, user=user, project=project)
    sess = _session(sim, 'alice', 'alices', 'pw-a')
    access = sess.auth.get_access(sess)
    nova_client.Client('2.1', session=sess).keypairs.create(
        'alice-key', public_key='ssh-ed25519 AAAAC3Nz alice')
    return {'admin': admin, 'user': user, 'project': project,
            'access': access, 'token': access.auth_token}


def cached_auth_token(alice):
    """keystonemiddleware as it behaves while it holds Alice's token in its
    cache: the identity headers and, as ``keystone.token_auth``, its real
    user plugin, which later requests to the cloud are made with."""
    class CachedAuthToken:
        def __init__(self, app, conf):
            self.app = app

        def __call__(self, environ, start_response):
            if environ.get('HTTP_X_AUTH_TOKEN') != alice['token']:
                start_response('401 Unauthorized',
                               [('Content-Type', 'application/json')])
                return [b'{"error": "unauthorized"}']
            environ.update({
                'HTTP_X_IDENTITY_STATUS': 'Confirmed',
                'HTTP_X_USER_ID': alice['user'].id,
                'HTTP_X_PROJECT_ID': alice['project'].id,
                'HTTP_X_ROLES': 'member'})
            environ['keystone.token_auth'] = _user_plugin.UserAuthPlugin(
                alice['access'], None)
            return self.app(environ, start_response)
    return CachedAuthToken


@pytest.fixture
def clock(monkeypatch):
    """The clock of the API's memory of found references."""
    now = [1000.0]
    monkeypatch.setattr(api_app.refcache, 'ReferenceCache', functools.partial(
        refcache.ReferenceCache, timer=lambda: now[0]))
    return now


@pytest.fixture
def kapi(database, rpc, drivers, sim, alice, monkeypatch, conf, clock):
    monkeypatch.setattr(auth_token, 'AuthProtocol', cached_auth_token(alice))
    conf('auth_strategy', 'keystone')
    conf('validate_references', True, group='cloud')
    conf('reference_retry_timeout', 0.5, group='cloud')
    from tests.unit.api.conftest import PKI_KEY
    conf('encryption_keys', [PKI_KEY], group='pki')
    api = Api(api_app.build_app(CONF, rpcapi=rpc,
                                cloud=cloud_mod.CloudClients(),
                                find_driver=drivers))
    api.headers = dict(LATEST, **{'X-Auth-Token': alice['token']})
    tpl = api.post('/v1/clustertemplates', template_body(
        keypair_id='alice-key'))
    assert tpl.status_code == 201, tpl.json_body
    api.template = tpl.json_body['uuid']
    return api


def _create(api, name):
    return api.post('/v1/clusters', {'name': name,
                                     'cluster_template_id': api.template})


def _revoke(sim, alice):
    resp = requests.delete(sim.auth_url + '/auth/tokens', timeout=10,
                           headers={'X-Auth-Token': alice['token'],
                                    'X-Subject-Token': alice['token']})
    assert resp.status_code == 204, resp.text


@pytest.mark.parametrize('how', ['user deleted', 'token revoked'])
def test_a_token_the_cloud_no_longer_accepts_is_a_401(kapi, sim, alice,
                                                       rpc, clock, conf,
                                                       how):
    # While Nova accepts her token, Alice's keypair is found.
    assert _create(kapi, 'first').status_code == 202
    casts = len(rpc.casts)
    if how == 'user deleted':
        alice['admin'].users.delete(alice['user'])
    else:
        _revoke(sim, alice)
    # Nova's own cache of the token has expired too (it had validated it
    # for the first create), and so has the API's memory of her keypair
    # (caas.api.refcache: within it, the create is let through, as
    # keystonemiddleware's own cache lets her other requests through).
    sim.cloud.knobs['token_cache_time'] = 0.0
    clock[0] += CONF.cloud.reference_cache_time + 0.1
    resp = _create(kapi, 'second')
    assert resp.status_code == 401, resp.json_body
    detail = resp.json_body['errors'][0]['detail']
    assert 'keypair alice-key' in detail
    assert 'no longer accepts your token' in detail
    assert 'compute service (Nova)' in detail
    assert len(rpc.casts) == casts     # nothing recorded, nothing cast


def test_caas_own_credentials_refused_stay_a_503(sim, conf):
    conf('password', 'wrong', group='cloud')
    with pytest.raises(exceptions.CloudError) as info:
        references.check(cloud_mod.CloudClients(), {'keypair': 'default'},
                         ['keypair'], retry_timeout=0)
    assert info.value.code == 503
    assert not isinstance(info.value, exceptions.UserTokenRejected)


def test_a_keypair_is_found_as_its_user_only(sim, alice):
    """``find_keypair``: the user's own keypair is found; the same name as
    caas's own user is not (keypairs are per user), nor a missing name, nor
    a name that is another path to the keypair."""
    mine = cloud_mod.CloudClients.for_user(
        _session(sim, 'alice', 'alices', 'pw-a').auth)
    assert mine.find_keypair('alice-key') == {'name': 'alice-key'}
    for name in ('missing', 'alice-key/../alice-key', 'a b?c'):
        with pytest.raises(exceptions.NotFound) as raised:
            mine.find_keypair(name)
        assert 'Keypair %s was not found.' % name in str(raised.value)
    with pytest.raises(exceptions.NotFound):
        cloud_mod.CloudClients().find_keypair('alice-key')
