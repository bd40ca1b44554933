"""caas-api with the real keystonemiddleware, against caas-cloudsim: a user
deleted after caas validated (and cached) their token gets a 401 that says
the token is no longer valid when the cloud refuses it, not a 503."""

import pytest
import requests
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3
from keystoneclient.v3 import client as ks_client
from novaclient import client as nova_client

pytestmark = pytest.mark.integration


def _password(dep, user, password, project):
    return v3.Password(auth_url=dep.sim_url + '/identity/v3', username=user,
                       password=password, project_name=project,
                       user_domain_name='Default',
                       project_domain_name='Default')


def _token(dep, user, password, project):
    sess = ks_session.Session(auth=_password(dep, user, password, project))
    return sess.get_token()


def _call(dep, method, path, token, json=None):
    return requests.request(method, dep.api_url + path, json=json, timeout=30,
                            headers={'X-Auth-Token': token,
                                     'OpenStack-API-Version':
                                     'container-infra latest'})


def test_a_deleted_users_cached_token_is_a_401_not_a_503(deploy):
    dep = deploy(conductors=1, boot_delay=0.2, auth_strategy='keystone')
    keystone = ks_client.Client(session=ks_session.Session(
        auth=_password(dep, 'admin', 'caas', 'admin')))
    project = keystone.projects.create('gone', domain='default')
    member = keystone.roles.list(name='member')[0]
    user = keystone.users.create('leaver', domain='default', password='pw')
    keystone.roles.grant(member, user=user, project=project)
    # The keypair is made with one token; caas is called with another,
    # which the simulated Nova has never seen (so has not cached).
    nova_client.Client('2.1', session=ks_session.Session(
        auth=_password(dep, 'leaver', 'pw', 'gone'))).keypairs.create(
        'mine', public_key='ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA leaver')
    token = _token(dep, 'leaver', 'pw', 'gone')
    resp = _call(dep, 'POST', '/v1/clustertemplates', token, json={
        'name': 'k', 'coe': 'kubernetes', 'image_id': 'ubuntu-jammy',
        'flavor_id': 'm1.small', 'master_flavor_id': 'm1.small',
        'keypair_id': 'mine', 'external_network_id': 'public'})
    assert resp.status_code == 201, resp.text
    template = resp.json()['uuid']

    keystone.users.delete(user)
    # keystonemiddleware in caas-api still holds the token as valid (its
    # cache): requests that need nothing of the cloud are served ...
    assert _call(dep, 'GET', '/v1/clusters', token).json()['clusters'] == []
    # ... and the cloud, which refuses it, makes the create a 401.
    resp = _call(dep, 'POST', '/v1/clusters', token, json={
        'name': 'c', 'cluster_template_id': template, 'node_count': 1})
    assert resp.status_code == 401, resp.text
    detail = resp.json()['errors'][0]['detail']
    assert 'no longer accepts your token' in detail, detail
    assert 'keypair mine' in detail
