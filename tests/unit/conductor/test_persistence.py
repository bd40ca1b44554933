"""TaskFlow's saves through caas's fenced connection: one statement each,
none once the claim is lost, progress alone never sent."""

import pytest
import sqlalchemy as sa
from taskflow import exceptions as tf_exc
from taskflow.persistence import models as tf_models

from caas.common import exceptions
from caas.conductor import engine as flow_engine
from caas.conductor import ownership
from caas.conductor import persistence
from caas.db import operations as db_ops
from tests.unit.conductor.conftest import make_cluster


@pytest.fixture
def claimed(db):
    _cluster, op = make_cluster()
    epoch = db_ops.claim(op.id, 'c1')
    fence = ownership.Fence(op.id, op.cluster_id, 'c1', epoch)
    shared = flow_engine.make_backend().get_connection()
    book = tf_models.LogBook('operation-%s' % op.id, uuid=op.id)
    flow = tf_models.FlowDetail('f', uuid='flow-%s' % op.id)
    book.add(flow)
    conn = persistence.FencedBackend(shared, fence).get_connection()
    conn.save_logbook(book)
    atom = tf_models.TaskDetail('t1', uuid='atom-%s' % op.id)
    flow.add(atom)
    conn.update_flow_details(flow)
    return op, fence, conn, shared, flow, atom


def _stored_atom(shared, atom):
    return shared.get_atom_details(atom.uuid)


def test_a_state_change_is_written(claimed):
    _op, _fence, conn, shared, _flow, atom = claimed
    atom.state = 'RUNNING'
    conn.update_atom_details(atom)
    assert _stored_atom(shared, atom).state == 'RUNNING'


def test_a_lost_claim_writes_nothing(claimed):
    op, _fence, conn, shared, flow, atom = claimed
    # Another conductor takes the operation over (epoch + 1).
    assert db_ops.claim(op.id, 'c2', expect_owner='c1',
                        expect_epoch=op.epoch + 1) is not None
    atom.state = 'SUCCESS'
    with pytest.raises(exceptions.FencedOut):
        conn.update_atom_details(atom)
    assert _stored_atom(shared, atom).state != 'SUCCESS'
    flow.state = 'SUCCESS'
    with pytest.raises(exceptions.FencedOut):
        conn.update_flow_details(flow)
    assert shared.get_flow_details(flow.uuid).state != 'SUCCESS'


def test_a_claim_that_finished_its_operation_still_writes(claimed):
    """The flow's last saves come after its own task ended the operation."""
    _op, fence, conn, shared, _flow, atom = claimed
    fence.finish(True, {'status': 'CREATE_COMPLETE'})
    atom.state = 'SUCCESS'
    conn.update_atom_details(atom)
    assert _stored_atom(shared, atom).state == 'SUCCESS'


def test_progress_alone_waits_for_the_next_change(claimed):
    _op, _fence, conn, shared, _flow, atom = claimed
    atom.state = 'RUNNING'
    conn.update_atom_details(atom)
    sent = conn.statements
    atom.meta = dict(atom.meta, progress=0.5)
    conn.update_atom_details(atom)
    assert conn.statements == sent
    assert _stored_atom(shared, atom).meta.get('progress') is None
    atom.state = 'SUCCESS'
    conn.update_atom_details(atom)
    stored = _stored_atom(shared, atom)
    assert (stored.state, stored.meta['progress']) == ('SUCCESS', 0.5)


def test_other_metadata_is_written_at_once(claimed):
    _op, _fence, conn, shared, _flow, atom = claimed
    conn.update_atom_details(atom)
    atom.meta = dict(atom.meta, retry_of='x')
    conn.update_atom_details(atom)
    assert _stored_atom(shared, atom).meta['retry_of'] == 'x'


def test_a_flow_save_inserts_each_atom_once(claimed):
    _op, _fence, conn, shared, flow, atom = claimed
    second = tf_models.TaskDetail('t2', uuid=atom.uuid + '-2')
    flow.add(second)
    conn.update_flow_details(flow)
    flow.state = 'RUNNING'
    conn.update_flow_details(flow)
    stored = shared.get_flow_details(flow.uuid)
    assert stored.state == 'RUNNING'
    assert sorted(a.name for a in stored) == ['t1', 't2']


def test_a_missing_atom_is_not_found(claimed):
    _op, _fence, conn, _shared, _flow, _atom = claimed
    with pytest.raises(tf_exc.NotFound):
        conn.update_atom_details(tf_models.TaskDetail('ghost', uuid='nope'))


def test_a_resumed_flow_finds_the_atoms_already_stored(claimed):
    """A new claim's connection inserts no atom a former claim stored."""
    op, fence, _conn, shared, flow, _atom = claimed
    epoch = db_ops.claim(op.id, 'c2', expect_owner='c1',
                         expect_epoch=fence.epoch)
    again = persistence.FencedBackend(
        shared, ownership.Fence(op.id, op.cluster_id, 'c2', epoch)
    ).get_connection()
    loaded = shared.get_flow_details(flow.uuid)
    loaded.state = 'RUNNING'
    again.update_flow_details(loaded)
    rows = shared._engine.connect().execute(sa.text(
        'SELECT count(*) FROM atomdetails WHERE parent_uuid = :f'),
        {'f': flow.uuid}).scalar()
    assert rows == 1
