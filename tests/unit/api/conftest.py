"""Fixtures: the app on SQLite with noauth, a fake cloud and a fake rpcapi."""

import json
import threading

from cryptography import fernet
import pytest
from werkzeug import test as wz_test

from caas.api import app as api_app
from caas.common import exceptions
from caas.common import policy
from caas.conf import CONF
from caas.db import api as db
from caas.db import migration
from caas.db.sqlalchemy import engine
from caas.db.sqlalchemy import models
from caas.drivers.fake import driver as fake_driver


# One key for the whole run: generating it is cheap, but a fixed one keeps
# the fixtures simple.
PKI_KEY = fernet.Fernet.generate_key().decode()


class FakeCloud:
    """In-memory cloud with the CloudClients lookup interface."""

    def __init__(self):
        self.images = {'fedora-coreos': {'id': 'img-1', 'name': 'fedora-coreos',
                                         'os_distro': 'fedora-coreos'},
                       'ubuntu': {'id': 'img-2', 'name': 'ubuntu',
                                  'os_distro': 'ubuntu'}}
        self.flavors = {'m1.small': {'id': 'fl-1', 'name': 'm1.small'},
                        'm1.large': {'id': 'fl-2', 'name': 'm1.large'}}
        self.keypairs = {'default': {'name': 'default'}}
        self.networks = {'public': {'id': 'net-1', 'name': 'public'}}
        self.fail = False
        self.lookups = []

    def _find(self, table, key):
        self.lookups.append(key)
        if self.fail:
            raise exceptions.CloudError(err='connection refused')
        for item in table.values():
            if key in (item.get('id'), item.get('name')):
                return dict(item)
        raise exceptions.NotFound()

    def find_image(self, name_or_id):
        return self._find(self.images, name_or_id)

    def find_flavor(self, name_or_id):
        return self._find(self.flavors, name_or_id)

    def find_keypair(self, name):
        return self._find(self.keypairs, name)

    def find_network(self, name_or_id):
        return self._find(self.networks, name_or_id)


class FakeRpc:
    """Records casts; checks the work was committed before the cast."""

    def __init__(self):
        self.casts = []
        self.fail = False

    def _record(self, method, context, cluster_uuid, operation_id,
                request_id=None):
        # Read through a new session: only committed rows are visible.
        cluster = db.get_cluster_by_uuid(cluster_uuid, scope=db.ALL_PROJECTS)
        operation = db.get_operation(operation_id)
        assert cluster.operation_id == operation_id
        self.casts.append({'method': method, 'cluster_uuid': cluster_uuid,
                           'operation_id': operation_id,
                           'request_id': request_id,
                           'kind': operation.kind,
                           'params': operation.params})
        if self.fail:
            raise RuntimeError('broker down')

    def cluster_create(self, context, **kwargs):
        self._record('cluster_create', context, **kwargs)

    def cluster_update(self, context, **kwargs):
        self._record('cluster_update', context, **kwargs)

    def cluster_delete(self, context, **kwargs):
        self._record('cluster_delete', context, **kwargs)

    def nodegroup_create(self, context, **kwargs):
        self._record('nodegroup_create', context, **kwargs)

    def nodegroup_update(self, context, **kwargs):
        self._record('nodegroup_update', context, **kwargs)

    def nodegroup_delete(self, context, **kwargs):
        self._record('nodegroup_delete', context, **kwargs)

    def cluster_upgrade(self, context, **kwargs):
        self._record('cluster_upgrade', context, **kwargs)

    def cluster_ca_rotate(self, context, **kwargs):
        self._record('cluster_ca_rotate', context, **kwargs)

    def cluster_credential_rotate(self, context, **kwargs):
        self._record('cluster_credential_rotate', context, **kwargs)


_IDENTITY_HEADERS = ('HTTP_X_PROJECT_ID', 'HTTP_X_PROJECT_NAME',
                     'HTTP_X_USER_ID', 'HTTP_X_ROLES', 'HTTP_X_DOMAIN_ID',
                     'HTTP_X_IDENTITY_STATUS', 'HTTP_X_IS_ADMIN_PROJECT',
                     'HTTP_OPENSTACK_SYSTEM_SCOPE', 'HTTP_X_TENANT_ID')


def fake_auth_token(tokens):
    """A stand-in for keystonemiddleware's ``auth_token.AuthProtocol``.

    Like the real one it drops the identity headers a client sent, answers
    401 for an unknown token, and sets the headers of a known one: with
    ``tokens = {'tok': {'project': 'p' or None, 'user': 'u', 'roles':
    'member,reader', 'system': 'all' (optional)}}``, a token whose project
    is None arrives without ``X-Project-Id`` at all.
    """
    class FakeAuthToken:
        def __init__(self, app, conf):
            self.app = app

        def __call__(self, environ, start_response):
            for key in _IDENTITY_HEADERS:
                environ.pop(key, None)
            ident = tokens.get(environ.get('HTTP_X_AUTH_TOKEN'))
            if ident is None:
                start_response('401 Unauthorized',
                               [('Content-Type', 'application/json')])
                return [b'{"error": "unauthorized"}']
            environ['HTTP_X_IDENTITY_STATUS'] = 'Confirmed'
            environ['HTTP_X_USER_ID'] = ident['user']
            environ['HTTP_X_ROLES'] = ident['roles']
            if ident['project']:
                environ['HTTP_X_PROJECT_ID'] = ident['project']
            if ident.get('system'):
                environ['HTTP_OPENSTACK_SYSTEM_SCOPE'] = ident['system']
            return self.app(environ, start_response)
    return FakeAuthToken


class Api:
    """A small JSON client over the WSGI app."""

    def __init__(self, wsgi_app):
        self.client = wz_test.Client(wsgi_app)
        self.headers = {}

    def request(self, method, path, body=None, headers=None, raw=None):
        hdrs = dict(self.headers)
        hdrs.update(headers or {})
        data = raw
        if body is not None:
            data = json.dumps(body)
            hdrs.setdefault('Content-Type', 'application/json')
        resp = self.client.open(path, method=method, data=data, headers=hdrs)
        resp.json_body = None
        if resp.data and resp.mimetype == 'application/json':
            resp.json_body = json.loads(resp.data)
        # The body is read: let a streamed one free what it holds.
        resp.close()
        return resp

    def get(self, path, **kw):
        return self.request('GET', path, **kw)

    def post(self, path, body=None, **kw):
        return self.request('POST', path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.request('PATCH', path, body, **kw)

    def delete(self, path, **kw):
        return self.request('DELETE', path, **kw)


@pytest.fixture
def database(tmp_path):
    CONF.set_override('connection', 'sqlite:///%s/t.sqlite' % tmp_path,
                      group='database')
    engine.dispose()
    migration.upgrade()
    yield
    engine.dispose()
    CONF.clear_override('connection', group='database')


@pytest.fixture
def cloud():
    return FakeCloud()


@pytest.fixture
def rpc():
    return FakeRpc()


@pytest.fixture
def drivers():
    """Records driver look-ups; serves kubernetes on fedora-coreos/ubuntu."""
    calls = []

    def find_driver(server_type, os_distro, coe, explicit=None):
        calls.append((server_type, os_distro, coe, explicit))
        if coe != 'kubernetes' or os_distro not in ('fedora-coreos',
                                                    'ubuntu'):
            raise exceptions.DriverNotFound(server_type=server_type,
                                            os=os_distro, coe=coe)
        return fake_driver.FakeDriver()
    find_driver.calls = calls
    return find_driver


@pytest.fixture
def api(database, cloud, rpc, drivers):
    CONF.set_override('auth_strategy', 'noauth')
    CONF.set_override('validate_references', True, group='cloud')
    CONF.set_override('encryption_keys', [PKI_KEY], group='pki')
    policy.reset()
    yield Api(api_app.build_app(CONF, rpcapi=rpc, cloud=cloud,
                                find_driver=drivers))
    CONF.clear_override('auth_strategy')
    CONF.clear_override('validate_references', group='cloud')
    CONF.clear_override('encryption_keys', group='pki')
    policy.reset()


PROJECT_A = {'X-Project-Id': 'project-a', 'X-User-Id': 'alice',
             'X-Roles': 'member'}
PROJECT_B = {'X-Project-Id': 'project-b', 'X-User-Id': 'bob',
             'X-Roles': 'member'}
ADMIN = {'X-Project-Id': 'admin', 'X-User-Id': 'admin', 'X-Roles': 'admin'}
LATEST = {'OpenStack-API-Version': 'container-infra latest'}


def template_body(**kw):
    body = {'name': 'k8s', 'coe': 'kubernetes', 'image_id': 'fedora-coreos',
            'flavor_id': 'm1.small', 'master_flavor_id': 'm1.large',
            'keypair_id': 'default', 'external_network_id': 'public'}
    body.update(kw)
    return body


@pytest.fixture
def template(api):
    resp = api.post('/v1/clustertemplates', template_body(),
                    headers=PROJECT_A)
    assert resp.status_code == 201, resp.json_body
    return resp.json_body


@pytest.fixture
def make_cluster(api, template):
    def make(name='c1', headers=PROJECT_A, **kw):
        body = {'name': name, 'cluster_template_id': template['uuid']}
        body.update(kw)
        resp = api.post('/v1/clusters', body, headers=headers)
        assert resp.status_code == 202, resp.json_body
        return resp.json_body['uuid']
    return make


def settle(cluster_uuid, status='CREATE_COMPLETE'):
    """Play the conductor: finish the cluster's current operation."""
    from caas.db.sqlalchemy.engine import session_scope
    import sqlalchemy as sa
    with session_scope() as session:
        session.execute(sa.update(models.Cluster).where(
            models.Cluster.uuid == cluster_uuid).values(
                status=status, operation_id=None))


def race(writer, reader, caches, readers_per_cache=2):
    """Run ``writer()`` and, for each cache, ``readers_per_cache`` threads
    of ``reader(cache)`` at once; return when all have ended (the readers
    stop when the writer tells them)."""
    threads = [threading.Thread(target=writer)] + [
        threading.Thread(target=reader, args=(cache,))
        for cache in caches for _ in range(readers_per_cache)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
