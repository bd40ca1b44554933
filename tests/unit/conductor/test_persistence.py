"""TaskFlow's saves through caas's fenced connection: one statement each,
none once the claim is lost, progress alone never sent."""

import functools
import threading

import pytest
import sqlalchemy as sa
from taskflow import exceptions as tf_exc
from taskflow.persistence import models as tf_models

from caas.common import exceptions
from caas.common import states
from caas.conductor import engine as flow_engine
from caas.conductor import ownership
from caas.conductor import persistence
from caas.conductor import steps
from caas.conductor.flows import cluster_create
from caas.db import api as db_api
from caas.db import events as db_events
from caas.db import operations as db_ops
from tests.unit.conductor.conftest import make_cluster
from tests.unit.conductor.conftest import taken_over
from tests.unit.conductor.conftest import wait_for


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
    atom.state = 'SUCCESS'
    atom.results = 'done'
    conn.update_atom_details(atom)
    stored = _stored_atom(shared, atom)
    assert (stored.state, stored.results) == ('SUCCESS', 'done')


def test_the_start_of_an_execution_is_not_written(claimed):
    """PENDING and RUNNING lead a resume to the same run of the atom."""
    _op, _fence, conn, shared, _flow, atom = claimed
    atom.state = 'PENDING'
    conn.update_atom_details(atom)
    sent = conn.statements
    atom.state = 'RUNNING'
    atom.meta = dict(atom.meta, progress=0.0)
    conn.update_atom_details(atom)
    assert conn.statements == sent
    assert _stored_atom(shared, atom).state == 'PENDING'


@pytest.mark.parametrize('change', ['revert', 'result', 'other state'])
def test_a_start_with_anything_else_is_written(claimed, change):
    _op, _fence, conn, shared, _flow, atom = claimed
    if change == 'revert':
        atom.state, atom.intention = 'REVERTING', 'REVERT'
    elif change == 'result':
        atom.state, atom.results = 'RUNNING', 'early'
    else:
        atom.state = 'IGNORE'
    conn.update_atom_details(atom)
    stored = _stored_atom(shared, atom)
    assert (stored.state, stored.intention, stored.results) == (
        atom.state, atom.intention, atom.results)


def test_a_flow_save_that_changes_nothing_is_not_sent(claimed):
    _op, _fence, conn, shared, flow, _atom = claimed
    sent = conn.statements
    conn.update_flow_details(flow)
    assert conn.statements == sent
    flow.meta = dict(flow.meta, factory='f')
    conn.update_flow_details(flow)
    assert conn.statements == sent + 1
    assert shared.get_flow_details(flow.uuid).meta['factory'] == 'f'


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


def _create_steps():
    return [(name, type(atom)) for (name, _step, _label), atom in zip(
        steps.steps_of(states.OP_CLUSTER_CREATE),
        cluster_create.get_flow())]


@pytest.mark.parametrize('index', range(len(_create_steps())))
def test_a_create_taken_over_in_any_step_resumes_at_that_step(
        make_runner, sim, monkeypatch, index):
    """The first conductor stops inside one step (a pause past its claim,
    as good as dead); the second one runs that step and the ones after
    it, never one before it, and the cluster is complete with one stack."""
    name, cls = _create_steps()[index]
    reached, release = threading.Event(), threading.Event()
    real = cls.execute

    @functools.wraps(real)   # TaskFlow reads what it requires from this
    def execute(self, fence, *args, **kwargs):
        if self.name == name and fence.owner == 'first':
            reached.set()
            release.wait(30)
            raise exceptions.FencedOut(operation=fence.operation_id,
                                       owner=fence.owner, epoch=fence.epoch)
        return real(self, fence, *args, **kwargs)
    monkeypatch.setattr(cls, 'execute', execute)
    first, second = make_runner('first'), make_runner('second')
    cluster, op = make_cluster(driver=None)
    try:
        first.claim_and_run(op.id)
        assert reached.wait(30)
        taken_over(second, op.id)
    finally:
        release.set()
    wait_for(lambda: not first.running() and not second.running())
    row = db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS)
    assert row.status == states.CREATE_COMPLETE
    assert sim.cloud.summary()['counts']['stacks'] == 1
    events = db_events.list_events(scope=db_api.ALL_PROJECTS,
                                   operation_id=op.id, limit=1000)

    def started_by(host):
        return [e.step_index for e in events
                if e.state == states.EV_STARTED and e.conductor == host]
    assert started_by('first') == list(range(1, index + 2))
    assert started_by('second') == list(range(index + 1,
                                              len(_create_steps()) + 1))


def _deferred_setup(db, owner='c1'):
    _cluster, op = make_cluster()
    epoch = db_ops.claim(op.id, owner)
    fence = ownership.Fence(op.id, op.cluster_id, owner, epoch)
    shared = flow_engine.make_backend().get_connection()
    conn = persistence.FencedBackend(shared, fence).get_connection()
    conn.defer_setup()
    book = tf_models.LogBook('operation-%s' % op.id, uuid=op.id)
    flow = tf_models.FlowDetail('f', uuid='flow-%s' % op.id)
    book.add(flow)
    conn.save_logbook(book)
    atom = tf_models.TaskDetail('t1', uuid='atom-%s' % op.id)
    flow.add(atom)
    conn.update_flow_details(flow)
    atom.state = 'SUCCESS'
    conn.update_atom_details(atom)
    return op, conn, shared, flow, atom


def _books(shared, op):
    try:
        return shared.get_logbook(op.id)
    except tf_exc.NotFound:
        return None


def test_a_new_flows_setup_is_written_at_once_with_its_flow_id(db):
    op, conn, shared, flow, atom = _deferred_setup(db)
    assert _books(shared, op) is None
    assert db_api.get_operation(op.id).flow_id is None
    assert conn.flush_setup() == flow.uuid
    assert conn.statements == 1
    assert db_api.get_operation(op.id).flow_id == flow.uuid
    assert shared.get_atom_details(atom.uuid).state == 'SUCCESS'
    # The flow's next saves find what the setup stored.
    atom.state = 'REVERTED'
    conn.update_atom_details(atom)
    conn.update_flow_details(flow)
    assert shared.get_atom_details(atom.uuid).state == 'REVERTED'


def test_a_setup_whose_claim_was_lost_writes_nothing(db):
    op, conn, shared, _flow, _atom = _deferred_setup(db)
    assert db_ops.claim(op.id, 'c2', expect_owner='c1', expect_epoch=1)
    with pytest.raises(exceptions.FencedOut):
        conn.flush_setup()
    assert _books(shared, op) is None
    assert db_api.get_operation(op.id).flow_id is None


def test_a_conductor_paused_in_a_flows_setup_is_fenced_out(
        make_runner, sim, monkeypatch):
    """The first conductor stops before its flow's setup is written; the
    second claims the operation, finds no flow and starts one; the first
    wakes up and writes nothing: one flow, one stack, the create done."""
    reached, release = threading.Event(), threading.Event()
    real = persistence.FencedConnection.flush_setup

    def flush_setup(self, *args):
        if self._fence.owner == 'first':
            reached.set()
            release.wait(30)
        return real(self, *args)
    monkeypatch.setattr(persistence.FencedConnection, 'flush_setup',
                        flush_setup)
    first, second = make_runner('first'), make_runner('second')
    cluster, op = make_cluster(driver=None)
    try:
        first.claim_and_run(op.id)
        assert reached.wait(30)
        assert db_api.get_operation(op.id).flow_id is None
        taken_over(second, op.id)
    finally:
        release.set()
    wait_for(lambda: not first.running() and not second.running())
    assert db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS)\
        .status == states.CREATE_COMPLETE
    assert sim.cloud.summary()['counts']['stacks'] == 1
    events = db_events.list_events(scope=db_api.ALL_PROJECTS,
                                   operation_id=op.id, limit=1000)
    assert {e.conductor for e in events} == {'second'}


# -- a step's success goes out with the next step's start --------------------

class _Listener:
    """What the flow's storage asks of its ProgressListener."""

    project_id = 'p1'
    kind = states.OP_CLUSTER_CREATE

    def __init__(self):
        self.held = []

    def start_events(self, name):
        events, self.held = self.held + [db_events.event(
            states.EV_STARTED, step=name, step_index=2, step_count=2)], []
        return events, 'step 2/2 %s' % name

    def held_events(self):
        events, self.held = self.held, []
        return events


@pytest.fixture
def two_atoms(claimed):
    op, fence, conn, shared, flow, first = claimed
    second = tf_models.TaskDetail('t2', uuid='atom2-%s' % op.id)
    second.state = 'PENDING'    # as TaskFlow's storage adds it
    flow.add(second)
    conn.update_flow_details(flow)
    conn.progress = _Listener()
    first.state = 'RUNNING'
    conn.update_atom_details(first)
    first.state, first.results = 'SUCCESS', 'done'
    conn.update_atom_details(first)
    return op, conn, shared, flow, first, second


def _events(op):
    return db_events.list_events(scope=db_api.ALL_PROJECTS,
                                 operation_id=op.id, limit=100)


def test_a_success_is_written_as_the_next_atom_starts(two_atoms):
    op, conn, shared, _flow, first, second = two_atoms
    assert _stored_atom(shared, first).state != 'SUCCESS'
    conn.progress.held.append(db_events.event(states.EV_SUCCEEDED,
                                              step='t1', step_index=1))
    second.state = 'RUNNING'
    conn.update_atom_details(second)
    assert (_stored_atom(shared, first).state,
            _stored_atom(shared, first).results) == ('SUCCESS', 'done')
    assert [(e.state, e.step) for e in _events(op)] == [
        (states.EV_SUCCEEDED, 't1'), (states.EV_STARTED, 't2')]
    assert db_api.get_cluster(op.cluster_id, scope=db_api.ALL_PROJECTS)\
        .status_reason == 'step 2/2 t2'
    # The start itself is still not written.
    assert _stored_atom(shared, second).state == 'PENDING'


def test_a_claim_lost_before_the_next_start_writes_nothing(two_atoms):
    """The success, the events and the start fail together, from inside
    the storage (where the flow sees it), not in a notification."""
    op, conn, shared, _flow, first, second = two_atoms
    assert db_ops.claim(op.id, 'c2', expect_owner='c1',
                        expect_epoch=op.epoch + 1) is not None
    second.state = 'RUNNING'
    with pytest.raises(exceptions.FencedOut):
        conn.update_atom_details(second)
    assert _stored_atom(shared, first).state != 'SUCCESS'
    assert _events(op) == []


def test_the_last_success_goes_out_with_the_flows_save(two_atoms):
    op, conn, shared, flow, first, _second = two_atoms
    conn.progress.held.append(db_events.event(states.EV_SUCCEEDED,
                                              step='t1', step_index=1))
    flow.state = 'SUCCESS'
    conn.update_flow_details(flow)
    assert _stored_atom(shared, first).state == 'SUCCESS'
    assert shared.get_flow_details(flow.uuid).state == 'SUCCESS'
    assert [e.state for e in _events(op)] == [states.EV_SUCCEEDED]


def test_a_claim_lost_before_the_flows_last_save_writes_nothing(two_atoms):
    op, conn, shared, flow, first, _second = two_atoms
    conn.forget_book = op.id
    conn.progress.held.append(db_events.event(states.EV_SUCCEEDED,
                                              step='t1', step_index=1))
    assert db_ops.claim(op.id, 'c2', expect_owner='c1',
                        expect_epoch=op.epoch + 1) is not None
    flow.state = 'SUCCESS'
    with pytest.raises(exceptions.FencedOut):
        conn.update_flow_details(flow)
    assert _stored_atom(shared, first).state != 'SUCCESS'
    assert shared.get_flow_details(flow.uuid).state != 'SUCCESS'
    assert _events(op) == []
    assert not conn.forgotten
    assert shared.get_logbook(op.id) is not None


def test_a_succeeded_flows_book_goes_with_its_last_save(two_atoms):
    op, conn, shared, flow, _first, _second = two_atoms
    conn.forget_book = op.id
    flow.state = 'REVERTED'
    conn.update_flow_details(flow)
    assert shared.get_logbook(op.id) is not None
    flow.state = 'SUCCESS'
    conn.update_flow_details(flow)
    assert conn.forgotten
    assert _books(shared, op) is None


def test_events_that_fail_leave_the_success_written(two_atoms, monkeypatch):
    """Events stay best effort: an error of theirs (not a lost claim)
    does not stop the flow."""
    op, conn, shared, _flow, first, second = two_atoms

    def broken(*args, **kwargs):
        raise ValueError('no events today')
    monkeypatch.setattr(db_events, 'insert_all', broken)
    second.state = 'RUNNING'
    conn.update_atom_details(second)
    assert _stored_atom(shared, first).state == 'SUCCESS'


@pytest.mark.parametrize('index', range(len(_create_steps()) - 1))
def test_a_claim_lost_after_a_step_stops_the_flow_before_the_next(
        make_runner, sim, monkeypatch, index):
    """The claim is taken over as soon as one step returns: the first
    conductor's flow stops there, the next step never runs under it, and
    neither that success nor the next start is recorded by it."""
    name, cls = _create_steps()[index]
    following = _create_steps()[index + 1][1]
    real, real_next = cls.execute, following.execute
    ran_next = []

    @functools.wraps(real)
    def execute(self, fence, *args, **kwargs):
        result = real(self, fence, *args, **kwargs)
        if self.name == name and fence.owner == 'first':
            assert db_ops.claim(fence.operation_id, 'thief',
                                expect_owner='first', expect_epoch=1)
        return result

    @functools.wraps(real_next)
    def execute_next(self, fence, *args, **kwargs):
        if fence.owner == 'first':
            ran_next.append(self.name)
        return real_next(self, fence, *args, **kwargs)
    monkeypatch.setattr(cls, 'execute', execute)
    monkeypatch.setattr(following, 'execute', execute_next)
    first = make_runner('first')
    _cluster, op = make_cluster(driver=None)
    first.claim_and_run(op.id)
    wait_for(lambda: not first.running())
    assert ran_next == []
    events = db_events.list_events(scope=db_api.ALL_PROJECTS,
                                   operation_id=op.id, limit=1000)
    # The step's start is the last one; its success is not recorded.
    assert [e.step_index for e in events
            if e.state == states.EV_STARTED] == list(range(1, index + 2))
    assert (states.EV_SUCCEEDED, index + 1) not in [
        (e.state, e.step_index) for e in events]
    stored = flow_engine.make_backend().get_connection().get_flow_details(
        db_api.get_operation(op.id).flow_id)
    [atom] = [ad for ad in stored if ad.name == name]
    assert atom.state != 'SUCCESS'
