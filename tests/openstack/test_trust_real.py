"""A cluster's trust against the real Keystone and Heat.

caas makes, in the trustee domain register.py made (as Magnum's devstack
plugin does), one trustee user per cluster and a trust from the cluster's
owner to it; the stack lives in the owner's project; every later operation
of the cluster acts through the trust, so it works after the owner's token
is revoked; a rotation replaces trustee and trust and removes the old ones
from Keystone; a cluster whose owner lost their role is still deleted by an
admin, and nothing of it is left in Keystone or Heat.
"""

import time
import uuid

import pytest
import requests
import sqlalchemy as sa
from heatclient import client as heat_client
from heatclient import exc as heat_exc
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3
from keystoneclient.v3 import client as ks_client
from novaclient import client as nova_client

pytestmark = pytest.mark.openstack

API = {'OpenStack-API-Version': 'container-infra latest'}


def _public_key():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(serialization.Encoding.OpenSSH,
                            serialization.PublicFormat.OpenSSH).decode()


def _session(env, user, project=None, domain='Default'):
    kwargs = {'project_name': project, 'project_domain_name': 'Default'} \
        if project else {}
    return ks_session.Session(auth=v3.Password(
        auth_url=env['CAAS_OSTACK_AUTH_URL'], username=user,
        password=env['CAAS_OSTACK_PASSWORD'], user_domain_name=domain,
        **kwargs))


def _call(dep, method, path, token, json=None, expect=None):
    resp = requests.request(method, dep.api_url + path, json=json,
                            headers=dict(API, **{'X-Auth-Token': token}),
                            timeout=60)
    if expect is not None:
        assert resp.status_code == expect, (method, path, resp.text)
    return resp


def _revoke(admin, token):
    admin.delete('/auth/tokens', endpoint_filter={
        'service_type': 'identity', 'interface': 'public'},
        headers={'X-Subject-Token': token})


def _wait_status(dep, admin, cluster_uuid, want, timeout=300):
    deadline = time.monotonic() + timeout
    while True:
        resp = _call(dep, 'GET', '/v1/clusters/%s' % cluster_uuid,
                     admin.get_token())
        status = resp.json().get('status') if resp.ok else resp.status_code
        if status == want or (status != 404 and isinstance(status, str) and
                              status.endswith('_FAILED')):
            break
        assert time.monotonic() < deadline, (cluster_uuid, status)
        time.sleep(1)
    assert status == want, resp.json()
    return resp.json() if resp.ok else None


def _trustees(ks, domain, cluster_uuid):
    return {u.id: u.name for u in ks.users.list(domain=domain)
            if u.name.startswith('caas-%s-' % cluster_uuid)}


def _owner_trusts(ks, owner_id, project_id):
    return {t.id: t for t in ks.trusts.list(trustor_user=owner_id)
            if t.project_id == project_id}


def _heat(session, project_id=None):
    kwargs = {}
    if project_id:
        url = session.get_endpoint(service_type='orchestration',
                                   interface='public')
        kwargs['endpoint_override'] = '%s/%s' % (url.rsplit('/', 1)[0],
                                                 project_id)
    return heat_client.Client('1', session=session, **kwargs)


def _op_params(dep, cluster_uuid):
    eng = sa.create_engine(dep.db_url, poolclass=sa.pool.NullPool)
    try:
        with eng.connect() as conn:
            return [dict(kind=k, params=p) for k, p in conn.execute(sa.text(
                'SELECT kind, params FROM operations WHERE cluster_id = :c'),
                {'c': cluster_uuid})]
    finally:
        eng.dispose()


def test_trust_acts_for_the_owner_until_an_admin_deletes(real_deploy,
                                                         openstack):
    env = openstack
    dep = real_deploy(conductors=1)
    admin = _session(env, 'admin', 'admin')
    ks = ks_client.Client(session=admin)
    [alpha] = ks.projects.list(name='alpha')
    [domain] = ks.domains.list(name='caas')
    # An owner of our own: this test takes their role away at the end.
    name = 'trust-owner-%s' % uuid.uuid4().hex[:8]
    owner_user = ks.users.create(name=name, domain='default',
                                 password=env['CAAS_OSTACK_PASSWORD'])
    roles = [r for r in ks.roles.list()
             if r.name in ('member', 'heat_stack_owner')]
    for role in roles:
        ks.roles.grant(role, user=owner_user, project=alpha)
    owner = _session(env, name, 'alpha')
    token = owner.get_token()
    # Keypairs are per user: the owner's own, checked in the real Nova.
    nova_client.Client('2.1', session=owner).keypairs.create(
        'default', public_key=_public_key())

    tmpl = _call(dep, 'POST', '/v1/clustertemplates', token, json={
        'name': 'trusted', 'coe': 'kubernetes', 'driver': 'fake',
        'image_id': 'ubuntu-jammy', 'flavor_id': 'm1.small',
        'master_flavor_id': 'm1.small', 'keypair_id': 'default',
        'external_network_id': 'public'}, expect=201).json()
    cluster_uuid = _call(dep, 'POST', '/v1/clusters', token, json={
        'name': 'trusted', 'cluster_template_id': tmpl['uuid'],
        'node_count': 1, 'master_count': 1}, expect=202).json()['uuid']
    shown = _wait_status(dep, admin, cluster_uuid, 'CREATE_COMPLETE')

    # One trustee in the trustee domain, one trust from the owner to it on
    # the owner's project, with impersonation.
    first = _trustees(ks, domain.id, cluster_uuid)
    assert len(first) == 1, first
    [trustee_id] = first
    ours = [t for t in _owner_trusts(ks, owner_user.id, alpha.id).values()
            if t.trustee_user_id == trustee_id]
    assert len(ours) == 1 and ours[0].impersonation
    # The stack is in the owner's project, and the owner's: they list it.
    # (caas's service user, role `service`, may not even list stacks.)
    listed = {s.id: s for s in _heat(owner).stacks.list()}
    stack = _heat(owner).stacks.get(shown['stack_id'])
    assert shown['stack_id'] in listed
    assert '/%s/stacks/' % alpha.id in stack.links[0]['href']
    assert stack.to_dict()['parameters']['trustee_user_id'] == trustee_id
    # The owner's token was used to create the stack and is gone from the
    # operation once the create finished.
    assert all('trustor_token' not in op['params']
               for op in _op_params(dep, cluster_uuid))

    # Every token of the owner revoked as soon as caas accepted: the resize
    # is done through the trust.
    _revoke(admin, token)
    token = _session(env, name, 'alpha').get_token()
    _call(dep, 'POST', '/v1/clusters/%s/actions/resize' % cluster_uuid,
          token, json={'node_count': 2}, expect=202)
    _revoke(admin, token)
    _wait_status(dep, admin, cluster_uuid, 'UPDATE_COMPLETE')
    stack = _heat(_session(env, name, 'alpha')).stacks.get(shown['stack_id'])
    assert str(stack.to_dict()['parameters']['number_of_minions']) == '2'

    # Rotation: a new trustee and trust; the old ones are gone from
    # Keystone; the stack carries the new one.
    token = _session(env, name, 'alpha').get_token()
    _call(dep, 'PATCH', '/v1/credentials/%s' % cluster_uuid, token,
          expect=202)
    _wait_status(dep, admin, cluster_uuid, 'UPDATE_COMPLETE')
    second = _trustees(ks, domain.id, cluster_uuid)
    assert len(second) == 1 and set(second) != set(first), (first, second)
    [new_trustee] = second
    with pytest.raises(ks_exc.NotFound):
        ks.users.get(trustee_id)
    trusts = _owner_trusts(ks, owner_user.id, alpha.id)
    assert ours[0].id not in trusts
    assert [t.trustee_user_id for t in trusts.values()
            if t.trustee_user_id in (trustee_id, new_trustee)] == [
                new_trustee]
    stack = _heat(_session(env, name, 'alpha')).stacks.get(shown['stack_id'])
    assert stack.to_dict()['parameters']['trustee_user_id'] == new_trustee

    # The owner loses every role on the project: the trust gives no token
    # any more, and the owner can neither see nor delete the cluster.
    for role in roles:
        ks.roles.revoke(role, user=owner_user, project=alpha)
    with pytest.raises(ks_exc.Unauthorized):
        _session(env, name, 'alpha').get_token()
    # The cloud's admin deletes it, from the admin project.
    _call(dep, 'DELETE', '/v1/clusters/%s' % cluster_uuid,
          admin.get_token(), expect=204)
    _wait_status(dep, admin, cluster_uuid, 404)
    # Nothing is left: no stack, no trustee, no trust of caas's.
    with pytest.raises(heat_exc.HTTPNotFound):
        got = _heat(admin, alpha.id).stacks.get(shown['stack_id'])
        if got.stack_status == 'DELETE_COMPLETE':
            raise heat_exc.HTTPNotFound()
    assert _trustees(ks, domain.id, cluster_uuid) == {}
    assert [t for t in _owner_trusts(ks, owner_user.id, alpha.id).values()
            if t.trustee_user_id in (trustee_id, new_trustee)] == []
    assert all('trustor_token' not in op['params']
               for op in _op_params(dep, cluster_uuid))
    ks.users.delete(owner_user)
