"""``[trust] act_as_trustee``: a cluster's flows act through its trust.

On the simulated Keystone and Heat: which credential each call of a flow
uses (the trust once the cluster has one, the service session before, the
requester's token when the trust gives none), and a cluster's whole life
(create, resize, rotate, delete) with the option on.
"""

import pytest
from keystoneauth1.identity import v3
from keystoneauth1 import session as ks_session

from caas.clients import cloud
from caas.clients import identity
from caas.clients import trusted
from caas.common import exceptions
from caas.common import states
from caas.db import api as db_api
from caas.db import trustees
from tests.unit.conductor.conftest import make_cluster
from tests.unit.conductor.conftest import wait_operation


@pytest.fixture
def trustee_mode(conf):
    conf('act_as_trustee', True, group='trust')


def _run(runner, op):
    assert runner.claim_and_run(op.id)
    done = wait_operation(op.id)
    assert done.state == states.OP_SUCCEEDED, done.error
    return done


def _clients(service, cluster_uuid, params=None):
    return trusted.ClusterClients(service, cluster_uuid, 'p1',
                                  lambda: dict(params or {}))


def _sealed(sim, user='caas', project='service'):
    """A requester's token, sealed as the API seals it."""
    session = ks_session.Session(auth=v3.Password(
        auth_url=sim.auth_url, username=user, password='caas',
        project_name=project, user_domain_name='Default',
        project_domain_name='Default'))
    access = session.auth.get_access(session)
    return {identity.TOKEN_PARAM: identity.seal_token(access.auth_token),
            identity.PROJECT_PARAM: access.project_id}


def test_before_make_credential_the_service_session_is_used(make_runner, sim):
    cluster, _op = make_cluster()
    service = cloud.CloudClients()
    assert _clients(service, cluster.uuid).session is service.session


def test_once_made_every_call_goes_through_the_current_trust(
        trustee_mode, make_runner, sim):
    runner = make_runner()
    cluster, op = make_cluster()
    _run(runner, op)
    row = trustees.current(cluster.uuid)
    clients = _clients(cloud.CloudClients(), cluster.uuid)
    access = clients.session.auth.get_access(clients.session)
    assert access.trust_id == row.trust_id
    # ... and the stack made by the create is found through it.
    stack_id = db_api.get_cluster_by_uuid(
        cluster.uuid, scope=db_api.ALL_PROJECTS).stack_id
    assert clients.heat.stacks.get(stack_id).id == stack_id


def test_a_trust_that_gives_no_token_without_a_requester_is_refused(
        trustee_mode, make_runner, sim):
    runner = make_runner()
    cluster, op = make_cluster()
    _run(runner, op)
    row = trustees.current(cluster.uuid)
    del sim.cloud.data['trusts'][row.trust_id]
    with pytest.raises(exceptions.CaasException) as caught:
        _clients(cloud.CloudClients(), cluster.uuid).session
    assert row.trust_id in str(caught.value)


def test_a_trust_that_gives_no_token_falls_back_to_the_requester(
        trustee_mode, make_runner, sim):
    runner = make_runner()
    cluster, op = make_cluster()
    _run(runner, op)
    row = trustees.current(cluster.uuid)
    del sim.cloud.data['trusts'][row.trust_id]
    params = _sealed(sim)
    clients = _clients(cloud.CloudClients(), cluster.uuid, params)
    access = clients.session.auth.get_access(clients.session)
    assert access.trust_id is None
    assert access.project_id == params[identity.PROJECT_PARAM]


def test_a_cluster_lives_and_dies_through_its_trust(trustee_mode,
                                                    make_runner, sim):
    runner = make_runner()
    cluster, op = make_cluster(node_count=1)
    _run(runner, op)
    first = trustees.current(cluster.uuid)
    stack_id = db_api.get_cluster_by_uuid(
        cluster.uuid, scope=db_api.ALL_PROJECTS).stack_id
    _, resize = db_api.start_operation(cluster.uuid,
                                       states.OP_CLUSTER_UPDATE,
                                       params={'node_count': 2})
    _run(runner, resize)
    _, rotate = db_api.start_operation(
        cluster.uuid, states.OP_CLUSTER_CREDENTIAL_ROTATE, params={})
    _run(runner, rotate)
    second = trustees.current(cluster.uuid)
    assert second.user_id != first.user_id
    assert first.user_id not in sim.cloud.data['users']
    assert first.trust_id not in sim.cloud.data['trusts']
    _, delete, _ = db_api.start_delete(cluster.uuid)
    assert runner.claim_and_run(delete.id)
    assert wait_operation(delete.id).state == states.OP_SUCCEEDED
    assert second.user_id not in sim.cloud.data['users']
    assert second.trust_id not in sim.cloud.data['trusts']
    assert not [s for s in sim.cloud.summary()['stacks']
                if s['id'] == stack_id and s['status'] != 'DELETE_COMPLETE']


def test_a_stack_is_never_created_through_the_trust(trustee_mode,
                                                    make_runner, sim):
    """The simulated Heat refuses, as the real one does, a stack created
    with a trust-scoped token; the flows' creates therefore get through
    only because they use another token (the lifecycle test above)."""
    from heatclient import exc as heat_exc

    from caas.drivers.fake import driver as fake
    runner = make_runner()
    cluster, op = make_cluster()
    _run(runner, op)
    clients = _clients(cloud.CloudClients(), cluster.uuid)
    with pytest.raises(heat_exc.HTTPInternalServerError):
        clients.heat.stacks.create(stack_name='through-the-trust',
                                   template=fake.TEMPLATE)
    assert clients.stack_creator().stacks.create(
        stack_name='as-the-requester', template=fake.TEMPLATE)['stack']['id']


def test_health_lists_stacks_once_per_project_through_a_trust(
        trustee_mode, make_runner, sim, monkeypatch):
    import sqlalchemy as sa

    from caas.conductor import health
    from caas.db.sqlalchemy import models
    from caas.db.sqlalchemy.engine import session_scope
    monkeypatch.setattr(health, '_LISTERS', {})
    runner = make_runner()
    made = []
    for _ in range(3):
        cluster, op = make_cluster()
        _run(runner, op)
        made.append(cluster.uuid)
    # The third cluster belongs to another project.
    with session_scope() as session:
        session.execute(sa.update(models.Cluster).where(
            models.Cluster.uuid == made[2]).values(project_id='p2'))
    service = cloud.CloudClients()
    assert health.run_once('c1', service, 0, ['c1']) == 3
    before = sim.app.request_counts()
    assert health.run_once('c1', service, 0, ['c1']) == 3
    # One listing per project; the trusts' tokens are reused.
    assert _delta(sim.app.request_counts(), before) == {'GET /heat': 2}

    def health_of(uuid):
        return db_api.get_cluster_by_uuid(
            uuid, scope=db_api.ALL_PROJECTS).health_status

    assert {health_of(u) for u in made} == {states.HEALTHY}
    # p2's only trust gives no token any more: its cluster's health is
    # left as it was (not UNHEALTHY for a stack it could not look at).
    del sim.cloud.data['trusts'][trustees.current(made[2]).trust_id]
    monkeypatch.setattr(health, '_LISTERS', {})
    assert health.run_once('c1', service, 0, ['c1']) == 2
    assert health_of(made[2]) == states.HEALTHY


def _delta(after, before):
    return {k: v - before.get(k, 0) for k, v in after.items()
            if v != before.get(k, 0)}
