"""A cluster's CAs made by its create's conductor: once, whichever
conductor runs the stack's step, dead or alive around their write, and
handed to the stack as written."""

import base64

import pytest

from caas.common import states
from caas.conductor.tasks import stack
from caas.db import api as db_api
from caas.db import certificates as ca_db
from caas.pki import authority
from tests.unit.conductor.conftest import make_cluster
from tests.unit.conductor.conftest import taken_over
from tests.unit.conductor.conftest import wait_for
from tests.unit.conductor.conftest import wait_operation


class ThreadDeath(BaseException):
    """A conductor dying mid-task: no ``except Exception`` catches it."""


def _cas(cluster_uuid):
    rows = [ca_db.get_ca(cluster_uuid, t)
            for t in ca_db.list_ca_types(cluster_uuid)]
    return [(r.ca_type, r.cert_pem, r.encrypted_key) for r in rows]


def _stack_params(sim, cluster_uuid):
    row = db_api.get_cluster_by_uuid(cluster_uuid, scope=db_api.ALL_PROJECTS)
    return sim.cloud.data['stacks'][row.stack_id]['param_values']


def test_a_create_makes_the_cas_its_stack_carries(make_runner, sim):
    cluster, op = make_cluster(driver=None)
    assert ca_db.list_ca_types(cluster.uuid) == []
    assert make_runner().claim_and_run(op.id)
    assert wait_operation(op.id).state == states.OP_SUCCEEDED
    cas = _cas(cluster.uuid)
    assert [t for t, _c, _k in cas] == ['kubernetes', 'etcd', 'front_proxy']
    params = _stack_params(sim, cluster.uuid)
    assert base64.b64decode(params['ca_bundle_b64']).decode() == ''.join(
        c for _t, c, _k in cas)


@pytest.mark.parametrize('dies', ['before_the_insert', 'after_its_commit'])
def test_a_conductor_killed_around_the_cas_leaves_one_set(
        make_runner, sim, monkeypatch, dies):
    """Killed with the CAs made but not written, or written and committed
    but the step not ended: the conductor that takes the create over runs
    the step again and the cluster has one CA per type, the first run's
    if it wrote them, on its stack too."""
    first, second = make_runner('first'), make_runner('second')
    cluster, op = make_cluster(driver=None)
    died = []
    if dies == 'before_the_insert':
        real = authority.new_cas

        def make_then_die(*args, **kwargs):
            rows = real(*args, **kwargs)
            if not died:
                died.append(rows)
                raise ThreadDeath()
            return rows
        monkeypatch.setattr(authority, 'new_cas', make_then_die)
    else:
        real = stack.add_ca_parameters

        def die_after_the_write(data, definition, cas=None):
            if not died:
                died.append([(r.ca_type, r.cert_pem, r.encrypted_key)
                             for r in cas])
                raise ThreadDeath()
            return real(data, definition, cas)
        monkeypatch.setattr(stack, 'add_ca_parameters', die_after_the_write)
    assert first.claim_and_run(op.id)
    wait_for(lambda: died and op.id not in first.running())
    stuck = db_api.get_operation(op.id)
    assert (stuck.state, stuck.owner) == (states.OP_RUNNING, 'first')
    written = _cas(cluster.uuid)
    if dies == 'before_the_insert':
        assert written == []
    else:
        assert written == died[0]
    taken_over(second, op.id)
    cas = _cas(cluster.uuid)
    assert [t for t, _c, _k in cas] == ['kubernetes', 'etcd', 'front_proxy']
    if dies == 'after_its_commit':
        assert cas == died[0]
    else:
        assert {c for _t, c, _k in cas}.isdisjoint(
            r['cert_pem'] for r in died[0])
    params = _stack_params(sim, cluster.uuid)
    assert base64.b64decode(params['ca_bundle_b64']).decode() == ''.join(
        c for _t, c, _k in cas)
    assert sim.cloud.summary()['counts']['stacks'] == 1
