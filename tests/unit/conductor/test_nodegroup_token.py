"""A nodegroup create's sealed token (the requester's, which the API puts
in the operation's params for the stack create) is wiped once the stack
exists, and when the flow fails: no finished operation keeps it."""

import pytest
import sqlalchemy as sa

from caas.clients import identity
from caas.common import states
from caas.db import api as db_api
from caas.db.sqlalchemy import engine
from caas.db.sqlalchemy import models
from caas.sim import state as sim_state
from tests.unit.conductor.conftest import make_cluster
from tests.unit.conductor.conftest import wait_operation
from tests.unit.conductor.test_act_as_trustee import _sealed


def _start_create(cluster, params, **extra):
    values = dict({
        'uuid': db_api.new_uuid(), 'name': 'ng1', 'role': 'worker',
        'project_id': 'p1', 'is_default': False, 'node_count': 1,
        'min_node_count': 0, 'flavor_id': 'm1.small',
        'image_id': 'ubuntu-jammy', 'labels': {}, 'node_addresses': [],
        'status': states.CREATE_IN_PROGRESS}, **extra)
    _, op = db_api.start_operation(
        cluster.uuid, states.OP_NODEGROUP_CREATE,
        params=dict(params, nodegroup=values['uuid']), new_nodegroup=values)
    return op


def _built(runner):
    """A cluster of the project the sealed token is scoped to (the
    requester's token is re-scoped to the cluster's project)."""
    cluster, op = make_cluster(driver=None, node_count=1)
    with engine.session_scope() as session:
        session.execute(sa.update(models.Cluster).where(
            models.Cluster.uuid == cluster.uuid).values(
                project_id=sim_state.PROJECTS['service']))
    assert runner.claim_and_run(op.id)
    assert wait_operation(op.id, timeout=60).state == states.OP_SUCCEEDED
    return cluster


@pytest.mark.parametrize('trustee', [False, True])
def test_the_token_is_wiped_once_the_nodegroup_stack_exists(
        conf, make_runner, sim, trustee):
    conf('act_as_trustee', trustee, group='trust')
    runner = make_runner()
    cluster = _built(runner)
    sealed = _sealed(sim)
    op = _start_create(cluster, sealed)
    assert identity.TOKEN_PARAM in db_api.get_operation(op.id).params
    assert runner.claim_and_run(op.id)
    done = wait_operation(op.id, timeout=60)
    assert done.state == states.OP_SUCCEEDED, done.error
    assert done.params == {'nodegroup': done.params['nodegroup']}
    [ng] = [g for g in db_api.list_nodegroups(cluster.uuid)
            if not g.is_default]
    assert ng.stack_id and ng.status == states.CREATE_COMPLETE


def test_the_token_is_wiped_when_heat_refuses_the_nodegroup_stack(
        conf, make_runner, sim):
    runner = make_runner()
    cluster = _built(runner)
    op = _start_create(cluster, _sealed(sim), flavor_id='no-such-flavor')
    assert runner.claim_and_run(op.id)
    done = wait_operation(op.id, timeout=60)
    assert done.state == states.OP_FAILED
    assert identity.TOKEN_PARAM not in done.params
    assert identity.PROJECT_PARAM not in done.params
    [ng] = [g for g in db_api.list_nodegroups(cluster.uuid)
            if not g.is_default]
    assert ng.status == states.NODEGROUP_TRANSITIONS[
        states.OP_NODEGROUP_CREATE][2]
