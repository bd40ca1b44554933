"""Progress events: every step recorded, fenced, shown in status_reason."""

import re
import threading

import pytest
import sqlalchemy as sa

from caas.common import exceptions
from caas.common import states
from caas.conductor import ownership
from caas.conductor import steps
from caas.db import api as db_api
from caas.db import events as db_events
from caas.db.sqlalchemy import engine
from caas.db.sqlalchemy import models
from tests.unit.conductor.conftest import make_cluster
from tests.unit.conductor.conftest import wait_for
from tests.unit.conductor.conftest import wait_operation


def _events(cluster_uuid):
    """Every event of the cluster, page after page (a fast writer makes
    more than a page of them)."""
    found = []
    while True:
        page = db_events.list_events(
            scope=db_api.ALL_PROJECTS, cluster_id=cluster_uuid, limit=1000,
            marker=found[-1].id if found else None)
        found += page
        if len(page) < 1000:
            return found


def _steps(events, state):
    return [(e.step_index, e.step) for e in events if e.state == state]


def test_every_step_of_a_create_starts_and_succeeds_in_order(make_runner,
                                                            sim):
    runner = make_runner()
    cluster, op = make_cluster(driver=None, node_count=2)
    assert runner.claim_and_run(op.id)
    assert wait_operation(op.id).state == states.OP_SUCCEEDED
    # The last step's end is recorded after the operation is marked done.
    wait_for(lambda: not runner.running())
    events = _events(cluster.uuid)
    names = [s for _, s, _ in steps.steps_of('cluster_create')]
    expected = list(enumerate(names, 1))
    assert _steps(events, states.EV_STARTED) == expected
    assert _steps(events, states.EV_SUCCEEDED) == expected
    assert {(e.conductor, e.epoch, e.operation_id, e.step_count, e.kind)
            for e in events} == {('c1', 1, op.id, len(names), 'cluster_create')}
    assert [e.id for e in events] == sorted(e.id for e in events)
    # Waiting for the stack said what the polls the step made anyway saw:
    # the stack's status and its servers' addresses.
    news = [e for e in events if e.state == states.EV_PROGRESS]
    assert news and all(e.step == 'wait-stack-create' for e in news)
    assert news[0].message.startswith('Heat stack CREATE_')
    assert news[-1].message.endswith('3 of 3 servers have addresses')
    assert news[-1].data == {'addressed': 3, 'servers': 3}
    # Recorded when it changed, not on every poll.
    assert len({e.message for e in news}) == len(news)
    # At the end status_reason has Magnum's meaning again: nothing wrong.
    assert db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS).status_reason is None


def test_status_reason_shows_the_step_while_it_runs(make_runner, sim):
    sim.cloud.knobs['server_boot_delay'] = 2.0
    runner = make_runner()
    cluster, op = make_cluster(driver=None, node_count=1)
    runner.claim_and_run(op.id)
    names = [step for _a, step, _l in steps.steps_of('cluster_create')]
    wait = 'step %d/%d' % (names.index('wait-stack-create') + 1, len(names))
    reason = wait_for(lambda: (db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS).status_reason
                               or '').startswith(wait) and
                      db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS).status_reason)
    assert reason.startswith(wait + ' waiting for the stack')
    assert db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS).status == \
        states.CREATE_IN_PROGRESS
    wait_operation(op.id)


def test_news_of_a_stack_in_progress_is_written_at_once(make_runner, sim):
    """The news of a stack still building is shown while the step waits;
    the news of the settled stack goes out with the step's success (the
    next step's start)."""
    sim.cloud.knobs['server_boot_delay'] = 1.5
    runner = make_runner()
    cluster, op = make_cluster(driver=None, node_count=1)
    runner.claim_and_run(op.id)
    reason = wait_for(lambda: 'Heat stack CREATE_IN_PROGRESS' in (
        db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS)
        .status_reason or '') and db_api.get_cluster(
            cluster.uuid, scope=db_api.ALL_PROJECTS).status_reason)
    assert 'waiting for the stack' in reason
    assert wait_operation(op.id).state == states.OP_SUCCEEDED
    wait_for(lambda: not runner.running())
    events = _events(cluster.uuid)
    last = [i for i, e in enumerate(events) if e.state == states.EV_PROGRESS
            and e.message.startswith('Heat stack CREATE_COMPLETE')]
    assert len(last) == 1
    settled, success, start = events[last[0]:last[0] + 3]
    assert (success.step, success.state) == ('wait-stack-create',
                                             states.EV_SUCCEEDED)
    assert start.state == states.EV_STARTED
    # In the flow's order (test_create_cost counts the INSERTs).
    assert settled.created_at <= success.created_at <= start.created_at


def test_a_failure_is_an_event_and_the_reason_stays_magnums(make_runner, sim):
    sim.cloud.knobs['server_failure_rate'] = 1.0
    runner = make_runner()
    cluster, op = make_cluster(driver=None)
    runner.claim_and_run(op.id)
    assert wait_operation(op.id).state == states.OP_FAILED
    wait_for(lambda: not runner.running())
    events = _events(cluster.uuid)
    failed = [e for e in events if e.state == states.EV_FAILED]
    assert [e.step for e in failed] == ['wait-stack-create']
    assert 'CREATE_FAILED' in failed[0].message
    assert states.EV_REVERTED in {e.state for e in events}
    row = db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS)
    assert row.status == states.CREATE_FAILED
    # The failure itself (it names its step), not a progress line
    # ("step 2/4 waiting for the stack: ...").
    assert not re.match(r'step \d+/\d+ ', row.status_reason)
    assert row.status_reason.startswith('step wait-stack-create: ')
    assert 'CREATE_FAILED' in row.status_reason


def test_a_takeover_is_recorded_with_who_and_how_long(make_runner, sim):
    sim.cloud.knobs['server_boot_delay'] = 1.5
    first = make_runner('first')
    second = make_runner('second')
    cluster, op = make_cluster(driver=None)
    first.claim_and_run(op.id)
    wait_for(lambda: db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS).stack_id)
    assert second.claim_and_run(op.id, expect_owner='first', expect_epoch=1)
    assert wait_operation(op.id).state == states.OP_SUCCEEDED
    wait_for(lambda: not first.running())
    events = _events(cluster.uuid)
    resumed = [e for e in events if e.state == states.EV_RESUMED]
    assert len(resumed) == 1
    assert resumed[0].conductor == 'second' and resumed[0].epoch == 2
    assert resumed[0].data['from'] == 'first'
    assert resumed[0].data['after'] >= 0
    assert 'taken over from first by second' in resumed[0].message
    # Nothing the fenced-out first conductor did after the takeover was
    # recorded: every event after the resume is the second one's.
    after = [e for e in events if e.id > resumed[0].id]
    assert after and {(e.conductor, e.epoch) for e in after} == {('second', 2)}
    # The steps finished before the takeover were not run again.
    assert ('begin' not in [e.step for e in after if
                            e.state == states.EV_STARTED])


def test_a_fenced_out_writer_records_nothing(db):
    cluster, op = make_cluster()
    with engine.get_engine().begin() as conn:
        conn.execute(sa.update(models.Operation).values(
            owner='new', epoch=2, state=states.OP_RUNNING))
    stale = ownership.Fence(op.id, cluster.uuid, 'old', 1)
    with pytest.raises(exceptions.FencedOut):
        db_events.record(stale, 'p1', 'cluster_create', states.EV_STARTED,
                         step='begin', status_reason='step 1/5 starting')
    assert _events(cluster.uuid) == []
    # Nor did it touch the cluster's status_reason.
    assert db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS).status_reason is None
    current = ownership.Fence(op.id, cluster.uuid, 'new', 2)
    db_events.record(current, 'p1', 'cluster_create', states.EV_STARTED,
                     step='begin', step_index=1, step_count=5,
                     status_reason='step 1/5 starting')
    assert len(_events(cluster.uuid)) == 1
    assert db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS).status_reason == \
        'step 1/5 starting'


def test_events_go_with_their_operations(db):
    cluster, op = make_cluster()
    with engine.get_engine().begin() as conn:
        conn.execute(sa.update(models.Operation).values(
            owner='c', epoch=1, state=states.OP_RUNNING))
    fence = ownership.Fence(op.id, cluster.uuid, 'c', 1)
    for i in range(3):
        db_events.record(fence, 'p1', 'cluster_create', states.EV_STARTED,
                         step='s%d' % i)
    assert len(_events(cluster.uuid)) == 3
    # Purging the operation row takes its events with it (foreign key).
    with engine.get_engine().begin() as conn:
        conn.execute(sa.delete(models.Operation).where(
            models.Operation.id == op.id))
    assert _events(cluster.uuid) == []


def test_events_are_scoped_to_their_project(db):
    cluster, op = make_cluster()
    with engine.get_engine().begin() as conn:
        conn.execute(sa.update(models.Operation).values(
            owner='c', epoch=1, state=states.OP_RUNNING))
    fence = ownership.Fence(op.id, cluster.uuid, 'c', 1)
    db_events.record(fence, 'p1', 'cluster_create', states.EV_STARTED)
    assert len(db_events.list_events(scope='p1')) == 1
    assert db_events.list_events(scope='p2') == []
    assert len(db_events.list_events(scope=db_api.ALL_PROJECTS)) == 1


def test_concurrent_claims_and_events_never_mix_epochs(db):
    """A writer racing claims records only under the epoch it holds."""
    cluster, op = make_cluster()
    with engine.get_engine().begin() as conn:
        conn.execute(sa.update(models.Operation).values(
            owner='a', epoch=1, state=states.OP_RUNNING))
    stop = threading.Event()
    written = []

    def writer():
        fence = ownership.Fence(op.id, cluster.uuid, 'a', 1)
        while not stop.is_set():
            try:
                written.append(db_events.record(
                    fence, 'p1', 'cluster_create', states.EV_PROGRESS))
            except exceptions.FencedOut:
                return

    fenced_out = threading.Event()

    def writer_until_fenced():
        writer()
        if not stop.is_set():
            fenced_out.set()

    t = threading.Thread(target=writer_until_fenced)
    t.start()
    wait_for(lambda: len(written) >= 3)
    from caas.db import operations as db_ops
    assert db_ops.claim(op.id, 'b', expect_owner='a', expect_epoch=1) == 2
    # The stale writer stops by itself: its next write is refused.
    t.join(30)
    stop.set()
    assert fenced_out.is_set()
    rows = _events(cluster.uuid)
    assert len(rows) == len(written)
    assert rows and all(r.epoch == 1 and r.conductor == 'a' for r in rows)
    stale = ownership.Fence(op.id, cluster.uuid, 'a', 1)
    with pytest.raises(exceptions.FencedOut):
        db_events.record(stale, 'p1', 'cluster_create', states.EV_PROGRESS)
    assert len(_events(cluster.uuid)) == len(written)
