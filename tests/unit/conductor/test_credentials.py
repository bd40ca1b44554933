"""The cluster's cloud credential on a real engine, SQL persistence and the
simulated Keystone: made with the cluster, handed to the nodes, rotated
without leaving the nodes without a working credential, resumed after a
crash without a second trust, and gone with the cluster."""

import logging

import pytest
import requests
import sqlalchemy as sa

from caas.clients import identity
from caas.common import states
from caas.conductor.tasks import credential
from caas.db import api as db_api
from caas.db import trustees
from caas.db.sqlalchemy import models
from caas.db.sqlalchemy.engine import session_scope
from tests.unit.conductor.conftest import make_cluster
from tests.unit.conductor.conftest import taken_over
from tests.unit.conductor.conftest import wait_for
from tests.unit.conductor.conftest import wait_operation


class ThreadDeath(BaseException):
    """A conductor dying mid-task: no ``except Exception`` catches it."""


def _created(runner, sim):
    cluster, op = make_cluster()
    assert runner.claim_and_run(op.id)
    assert wait_operation(op.id).state == states.OP_SUCCEEDED, \
        wait_operation(op.id).error
    return cluster


def _cluster(uuid):
    return db_api.get_cluster_by_uuid(uuid, scope=db_api.ALL_PROJECTS)


def _trusts(sim):
    return dict(sim.cloud.data['trusts'])


def _trustee_users(sim, cluster_uuid):
    prefix = 'caas-%s-' % cluster_uuid
    return {u['id']: u for u in sim.cloud.data['users'].values()
            if u['name'].startswith(prefix)}


def _stack_params(sim, cluster_uuid):
    return sim.cloud.data['stacks'][_cluster(cluster_uuid).stack_id][
        'param_values']


def _trust_token(sim, user_id, password, trust_id):
    """What a node's cloud provider does with its credential."""
    return requests.post(sim.auth_url + '/auth/tokens', json={'auth': {
        'identity': {'methods': ['password'], 'password': {'user': {
            'id': user_id, 'password': password}}},
        'scope': {'OS-TRUST:trust': {'id': trust_id}}}}, timeout=10)


def _rotate(runner, cluster_uuid, params=None):
    _, op = db_api.start_operation(cluster_uuid,
                                   states.OP_CLUSTER_CREDENTIAL_ROTATE,
                                   params=params or {})
    assert runner.claim_and_run(op.id)
    return op


def test_create_makes_one_trustee_and_trust_the_nodes_can_use(make_runner,
                                                               sim):
    cluster = _created(make_runner(), sim)
    users = _trustee_users(sim, cluster.uuid)
    assert len(users) == 1
    (user_id,) = users
    trusts = [t for t in _trusts(sim).values()
              if t['trustee_user_id'] == user_id]
    assert len(trusts) == 1
    params = _stack_params(sim, cluster.uuid)
    assert params['trustee_user_id'] == user_id
    assert params['trust_id'] == trusts[0]['id']
    # The credential in the stack works: a trust-scoped token, for the
    # trustor (the service user in this noauth set-up), with the trust's
    # roles on the trust's project.
    resp = _trust_token(sim, user_id, params['trustee_password'],
                        params['trust_id'])
    assert resp.status_code == 201, resp.text
    token = resp.json()['token']
    assert token['OS-TRUST:trust']['id'] == params['trust_id']
    assert token['user']['name'] == 'caas'
    assert {r['name'] for r in token['roles']} == {'member', 'reader'}
    row = trustees.current(cluster.uuid)
    assert row.user_id == user_id and row.trust_id == params['trust_id']


def test_the_password_is_stored_encrypted_and_never_logged(make_runner, sim,
                                                           caplog):
    caplog.set_level(logging.DEBUG)
    cluster = _created(make_runner(), sim)
    password = _stack_params(sim, cluster.uuid)['trustee_password']
    assert len(password) >= 16
    with session_scope(readonly=True) as session:
        rows = [r.as_dict() for r in session.scalars(
            sa.select(models.ClusterTrustee))]
        ops = [r.as_dict() for r in session.scalars(
            sa.select(models.Operation))]
    assert rows and password not in repr(rows) + repr(ops)
    assert password not in caplog.text
    # It is in the database, encrypted.
    assert credential.cred_params.credential_of(
        trustees.current(cluster.uuid), cluster.uuid)['password'] == password


def test_delete_removes_the_trust_and_the_trustee(make_runner, sim):
    runner = make_runner()
    cluster = _created(runner, sim)
    assert _trustee_users(sim, cluster.uuid) and _trusts(sim)
    _, op = db_api.start_operation(cluster.uuid, states.OP_CLUSTER_DELETE)
    assert runner.claim_and_run(op.id)
    assert wait_operation(op.id).state == states.OP_SUCCEEDED
    assert _trustee_users(sim, cluster.uuid) == {}
    assert _trusts(sim) == {}
    assert trustees.list_trustees(cluster.uuid) == []


def test_rotation_replaces_the_credential_and_only_then_deletes_the_old(
        make_runner, sim, monkeypatch):
    runner = make_runner()
    cluster = _created(runner, sim)
    old = dict(_stack_params(sim, cluster.uuid))
    seen_at_update = []
    real_update = credential.stack_tasks.common.cloud_call

    def watch(fn, *args, **kwargs):
        if getattr(fn, '__name__', '') == 'update':
            # When the nodes get the new credential the old trust must
            # still be there: the nodes still use it.
            seen_at_update.append(old['trust_id'] in _trusts(sim))
        return real_update(fn, *args, **kwargs)
    monkeypatch.setattr(credential.common, 'cloud_call', watch)
    op = _rotate(runner, cluster.uuid)
    done = wait_operation(op.id)
    assert done.state == states.OP_SUCCEEDED, done.error
    assert seen_at_update == [True]
    new = _stack_params(sim, cluster.uuid)
    assert new['trustee_user_id'] != old['trustee_user_id']
    assert new['trust_id'] != old['trust_id']
    assert new['trustee_password'] != old['trustee_password']
    assert list(_trusts(sim)) == [new['trust_id']]
    assert list(_trustee_users(sim, cluster.uuid)) == [new['trustee_user_id']]
    assert _trust_token(sim, new['trustee_user_id'], new['trustee_password'],
                        new['trust_id']).status_code == 201
    assert _trust_token(sim, old['trustee_user_id'], old['trustee_password'],
                        old['trust_id']).status_code == 401
    row = _cluster(cluster.uuid)
    assert row.status == states.UPDATE_COMPLETE and row.operation_id is None
    assert [r.state for r in trustees.list_trustees(cluster.uuid)] == [
        trustees.CURRENT]


@pytest.mark.parametrize('crash_after', ['create_trust', 'stack_update'])
def test_a_conductor_killed_mid_rotation_resumes_with_one_new_trust(
        make_runner, sim, monkeypatch, crash_after):
    """Killed right after Keystone made the new trust (before it was
    recorded) or right after Heat accepted the update (before the task
    finished): the next conductor reuses what was made, the old trust lives
    until the stack carries the new one, and one trust is left."""
    first, second = make_runner('first'), make_runner('second')
    cluster = _created(first, sim)
    old = dict(_stack_params(sim, cluster.uuid))
    died = []
    if crash_after == 'create_trust':
        real = identity.create_trust

        def create_then_die(*args, **kwargs):
            trust_id = real(*args, **kwargs)
            if not died:
                died.append(trust_id)
                raise ThreadDeath()
            return trust_id
        monkeypatch.setattr(identity, 'create_trust', create_then_die)
    else:
        real = credential.common.cloud_call

        def update_then_die(fn, *args, **kwargs):
            result = real(fn, *args, **kwargs)
            if getattr(fn, '__name__', '') == 'update' and not died:
                died.append(True)
                raise ThreadDeath()
            return result
        monkeypatch.setattr(credential.common, 'cloud_call', update_then_die)
    op = _rotate(first, cluster.uuid)
    wait_for(lambda: died and op.id not in first.running())
    stuck = db_api.get_operation(op.id)
    assert (stuck.state, stuck.owner) == (states.OP_RUNNING, 'first')
    # The nodes still have a working credential while nobody drives it.
    assert old['trust_id'] in _trusts(sim)
    done = taken_over(second, op.id)
    new = _stack_params(sim, cluster.uuid)
    assert list(_trusts(sim)) == [new['trust_id']]
    if crash_after == 'create_trust':
        assert new['trust_id'] == died[0]
    assert len(_trustee_users(sim, cluster.uuid)) == 1
    assert _trust_token(sim, new['trustee_user_id'], new['trustee_password'],
                        new['trust_id']).status_code == 201
    # The user's token is not kept once the trust exists.
    assert identity.TOKEN_PARAM not in (done.params or {})


def test_an_expired_user_token_fails_the_step_with_a_clear_reason(
        make_runner, sim):
    runner = make_runner()
    cluster = _created(runner, sim)
    old = dict(_stack_params(sim, cluster.uuid))
    # A token of the demo user that Keystone no longer accepts (expired
    # or revoked), as a flow resumed hours later would find it.
    resp = requests.post(sim.auth_url + '/auth/tokens', json={'auth': {
        'identity': {'methods': ['password'], 'password': {'user': {
            'name': 'demo', 'domain': {'name': 'Default'},
            'password': 'caas'}}}}}, timeout=10)
    token = resp.headers['X-Subject-Token']
    with sim.cloud.lock:
        sim.cloud.data['tokens'][token]['expires_at'] = 0
    op = _rotate(runner, cluster.uuid,
                 {identity.TOKEN_PARAM: identity.seal_token(token)})
    done = wait_operation(op.id)
    assert done.state == states.OP_FAILED
    row = _cluster(cluster.uuid)
    assert row.status == states.UPDATE_FAILED
    assert 'make-credential' in row.status_reason
    assert 'no longer valid (expired or revoked)' in row.status_reason
    # Nothing changed for the nodes; the half-made trustee is gone, and so
    # is the token.
    assert _stack_params(sim, cluster.uuid)['trust_id'] == old['trust_id']
    assert list(_trusts(sim)) == [old['trust_id']]
    assert list(_trustee_users(sim, cluster.uuid)) == [old['trustee_user_id']]
    assert identity.TOKEN_PARAM not in (done.params or {})
    assert token not in repr(done.as_dict())


def test_a_user_token_makes_the_user_the_trustor(make_runner, sim):
    """Keystone creates a trust only with the trustor's own token: the
    demo user's token, handed over by the API, makes demo the trustor on
    the cluster's project."""
    runner = make_runner()
    cluster = _created(runner, sim)
    demo_project = sim.cloud.project_by_name('demo')['id']
    with session_scope() as session:
        session.execute(sa.update(models.Cluster).where(
            models.Cluster.uuid == cluster.uuid).values(
                project_id=demo_project))
    resp = requests.post(sim.auth_url + '/auth/tokens', json={'auth': {
        'identity': {'methods': ['password'], 'password': {'user': {
            'name': 'demo', 'domain': {'name': 'Default'},
            'password': 'caas'}}}}}, timeout=10)
    token = resp.headers['X-Subject-Token']
    op = _rotate(runner, cluster.uuid,
                 {identity.TOKEN_PARAM: identity.seal_token(token)})
    done = wait_operation(op.id)
    assert done.state == states.OP_SUCCEEDED, done.error
    (trust,) = _trusts(sim).values()
    assert trust['trustor_user_id'] == sim.cloud.user_by_name('demo')['id']
    assert trust['project_id'] == demo_project
    new = _stack_params(sim, cluster.uuid)
    resp = _trust_token(sim, new['trustee_user_id'], new['trustee_password'],
                        new['trust_id'])
    assert resp.status_code == 201
    assert resp.json()['token']['user']['name'] == 'demo'
    assert resp.json()['token']['project']['id'] == demo_project


def test_pki_rekey_re_encrypts_the_trustee_passwords(make_runner, sim, conf):
    from caas.conf import CONF
    from caas.pki import keystore
    cluster = _created(make_runner(), sim)
    (old_key,) = CONF.pki.encryption_keys
    password = _stack_params(sim, cluster.uuid)['trustee_password']
    new_key = keystore.generate_key()
    conf('encryption_keys', [new_key, old_key], group='pki')
    assert trustees.rekey(keystore.rotate) == 1
    conf('encryption_keys', [new_key], group='pki')
    row = trustees.current(cluster.uuid)
    assert credential.cred_params.credential_of(
        row, cluster.uuid)['password'] == password
