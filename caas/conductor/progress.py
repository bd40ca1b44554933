"""Progress events of a running flow: a TaskFlow listener and in-step news.

``ProgressListener`` turns the engine's task notifications into events (one
row each, fenced, see ``caas.db.events``): a step started, succeeded,
failed, is retried or reverted. Long steps add news through
:func:`report` from what they fetched anyway (the stack they poll), so
events cost no cloud call. While the operation runs, the cluster's
``status_reason`` reads ``step 3/5 waiting for the stack: Heat stack
CREATE_IN_PROGRESS, 3 of 5 servers have addresses``; at the end the flow's
own last write gives it Magnum's meaning (the failure, or nothing).

Events are best effort for the flow: a lost claim or a failed write is
logged and never fails the step (the step's own fenced writes decide).

A step's success is written with whatever comes next - the next step's
start, or the end of the flow - in one transaction (a create wrote 15
events in 15 transactions, a sixth of a conductor's CPU per cluster; now
9, which also carry TaskFlow's saves). Its time is when it happened. The flow's storage
(``caas.conductor.persistence``) writes a step's start and the success
before it, together with TaskFlow's save of that success, as the next
step starts (:meth:`ProgressListener.start_events`), and the last
success with the flow's last save (:meth:`ProgressListener.held_events`);
the notifications that follow write nothing more. A conductor that dies
in between loses that line with the success it reports, and runs the
step again when it resumes.
"""

import threading

from oslo_log import log as logging
from taskflow import states as tf_states
from taskflow.listeners import base as tf_listeners

from caas.common import exceptions
from caas.common import states
from caas.conductor import steps
from caas.conductor.tasks import common
from caas.db import events as db_events

LOG = logging.getLogger(__name__)

_TASK_STATES = {
    tf_states.RUNNING: states.EV_STARTED,
    tf_states.SUCCESS: states.EV_SUCCEEDED,
    tf_states.FAILURE: states.EV_FAILED,
    tf_states.RETRYING: states.EV_RETRYING,
    tf_states.REVERTING: states.EV_REVERTING,
    tf_states.REVERTED: states.EV_REVERTED,
}

# States that put a progress line into status_reason (a success is followed
# at once by the next step's start, or by the end of the operation).
_SHOWN = (states.EV_STARTED, states.EV_PROGRESS, states.EV_FAILED,
          states.EV_RETRYING, states.EV_RESUMED)

# (operation id, epoch) -> the listener of the flow running it here, so a
# task can report news about its step without being handed the listener.
_active = {}
_active_lock = threading.Lock()


def status_line(index, count, label, message=None):
    line = 'step %d/%d %s' % (index, count, label)
    return '%s: %s' % (line, message) if message else line


class ProgressListener(tf_listeners.Listener):
    """Records an event for every step transition of one flow."""

    def __init__(self, engine, fence, kind, project_id):
        super().__init__(engine, flow_listen_for=(),
                         retry_listen_for=())
        self.fence = fence
        self.kind = kind
        self.project_id = project_id
        self._steps = {name: (i + 1, step, label) for i, (name, step, label)
                       in enumerate(steps.steps_of(kind))}
        self.count = len(self._steps)
        self.current = None     # (index, step, label) of the running step
        self._last_message = None
        self._held = []         # successes to write with the next event
        self._started = None    # a start the flow's storage wrote

    def __enter__(self):
        with _active_lock:
            _active[(self.fence.operation_id, self.fence.epoch)] = self
        return super().__enter__()

    def __exit__(self, *exc):
        with _active_lock:
            _active.pop((self.fence.operation_id, self.fence.epoch), None)
        if self._held:
            self._write([], None)   # the last step's success
        return super().__exit__(*exc)

    def _task_receiver(self, state, details):
        ev_state = _TASK_STATES.get(state)
        name = details.get('task_name')
        if ev_state is None or name not in self._steps:
            return
        if ev_state == states.EV_STARTED and name == self._started:
            self._started = None    # written with the save before it
            return
        index, step, label = self._steps[name]
        message = None
        if ev_state == states.EV_STARTED:
            self.current = (index, step, label)
            self._last_message = None
        elif ev_state == states.EV_FAILED:
            result = details.get('result')
            exc = getattr(result, 'exception', None)
            message = str(exc) if exc is not None else getattr(
                result, 'exception_str', None)
        self.record(ev_state, index, step, label, message)

    def record(self, ev_state, index, step, label, message=None, data=None,
               hold=False):
        """:param hold: write the event with the next one (see
            :meth:`news`)."""
        reason = None
        if ev_state in _SHOWN:
            reason = status_line(index, self.count, label, message)
            if ev_state == states.EV_FAILED:
                reason = status_line(index, self.count, label + ' failed',
                                     message)
        event = db_events.event(ev_state, step=step, step_index=index,
                                step_count=self.count, message=message,
                                data=data)
        if hold or (ev_state == states.EV_SUCCEEDED and reason is None):
            self._held.append(event)
            return
        self._write([event], reason)

    def start_events(self, name):
        """For the flow's storage, which writes them as atom ``name``
        starts: the successes held and the step's start, with its status
        line, as (events, status_reason); None for an atom that is not a
        step. The notification of that start then writes nothing."""
        if name not in self._steps:
            return None
        index, step, label = self.current = self._steps[name]
        self._last_message = None
        self._started = name
        events, self._held = self._held + [db_events.event(
            states.EV_STARTED, step=step, step_index=index,
            step_count=self.count)], []
        return events, status_line(index, self.count, label)

    def held_events(self):
        """For the flow's storage, which writes them with the flow's save:
        the successes not yet written."""
        events, self._held = self._held, []
        return events

    def _write(self, events, reason):
        events, self._held = self._held + events, []
        try:
            db_events.record_all(self.fence, self.project_id, self.kind,
                                 events, status_reason=reason)
        except exceptions.FencedOut:
            LOG.debug('Cluster %s: events %s not recorded, the claim on '
                      'operation %s was lost', self.fence.cluster_uuid,
                      _names(events), self.fence.operation_id)
        except Exception as exc:
            LOG.warning('Cluster %s: could not record events %s: %s',
                        self.fence.cluster_uuid, _names(events), exc)

    def news(self, message, data=None, last=False):
        """In-step progress; recorded only when the message changed.

        :param last: the step ends next (the stack it waits for settled):
            the news is written with the step's end, the transaction of
            the next event, rather than in one of its own a moment before
            it; its status line would be replaced at once anyway.
        """
        if self.current is None or message == self._last_message:
            return
        self._last_message = message
        index, step, label = self.current
        self.record(states.EV_PROGRESS, index, step, label, message, data,
                    hold=last)


def _names(events):
    return ', '.join('%s %s' % (e['v_state'], e['v_step']) for e in events)


def report(fence, message, data=None, last=False):
    """Progress from inside the running step of ``fence``'s flow, if any
    (``last``: see :meth:`ProgressListener.news`)."""
    with _active_lock:
        listener = _active.get((fence.operation_id, fence.epoch))
    if listener is not None:
        listener.news(message, data, last)


def record_resume(fence, kind, project_id, previous):
    """A claim of an operation that had run before: who had it, how long
    the operation went without anyone acting on it.

    :param previous: the operation's newest event before this claim.
    """
    count = len(steps.steps_of(kind))
    data = None
    message = 'resumed by %s' % fence.owner
    if previous is not None:
        gap = (db_events.models.utcnow() -
               previous.created_at).total_seconds()
        data = {'from': previous.conductor, 'after': round(gap, 1)}
        if previous.conductor != fence.owner:
            message = 'taken over from %s by %s after %.1f s' % (
                previous.conductor, fence.owner, gap)
        else:
            message = 'resumed by %s after %.1f s' % (fence.owner, gap)
    try:
        db_events.record(fence, project_id, kind, states.EV_RESUMED,
                         step_count=count, message=message, data=data,
                         status_reason='%s (%s)' % (
                             message, 'step %d/%d' % (
                                 previous.step_index, count)
                             if previous is not None and previous.step_index
                             else 'resuming'))
    except exceptions.FencedOut:
        raise
    except Exception as exc:
        LOG.warning('Cluster %s: could not record the resume of operation '
                    '%s: %s', fence.cluster_uuid, fence.operation_id, exc)


def stack_news(fence, driver, stack):
    """News from a polled stack, from what the poll returned: the stack's
    status and how many of its servers have an address (the stack's
    outputs and parameters). Whether each server is ACTIVE is not in a
    stack's representation; asking Nova or Heat's resource list on every
    poll would cost a cloud call per poll, which events must not."""
    if stack is None:
        return
    body = common.stack_body(stack)
    status = body.get('stack_status') or '?'
    message = 'Heat stack %s' % status
    data = None
    if driver is not None:
        addressed, expected = driver.servers_addressed(
            common.stack_outputs(stack), body.get('parameters') or {})
        if expected:
            message += ', %d of %d servers have addresses' % (addressed,
                                                              expected)
            data = {'addressed': addressed, 'servers': expected}
    # A settled stack ends the wait: its news goes out with the step's end.
    report(fence, message, data, last=not status.endswith('_IN_PROGRESS'))
