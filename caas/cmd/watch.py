"""``caas-manage watch [CLUSTER]``: operations in flight, live, in a terminal.

A progress bar per operation (step i of n, and what the stack being built
says), the conductors with the age of their heartbeat,
and takeovers as they happen. It reads the database the conductors write
(an operator's tool, like the rest of caas-manage): no API, no cloud.
With a CLUSTER it ends when that cluster's operation ends.
"""

import time

from rich import box
from rich.console import Console
from rich.console import Group
from rich.live import Live
from rich.progress import BarColumn
from rich.progress import Progress
from rich.progress import TaskProgressColumn
from rich.progress import TextColumn
from rich.table import Table

from caas.common import exceptions
from caas.common import states
from caas.db import api as db_api
from caas.db import events as db_events
from caas.db import operations as db_ops
from caas.db.sqlalchemy import models


# Events that say where an operation got to (a revert walks back over the
# steps; a resume starts where the operation was): others leave the bar.
_ADVANCING = (states.EV_STARTED, states.EV_PROGRESS, states.EV_SUCCEEDED,
              states.EV_FAILED, states.EV_RETRYING)


def percent(event):
    """How far an operation is, from its newest event (0-100): the steps
    done, out of the flow's steps."""
    if event is None or not event.step_count:
        return 0.0
    part = 1.0 if event.state == states.EV_SUCCEEDED else 0.0
    index = max(event.step_index, 1)
    return 100.0 * (index - 1 + part) / event.step_count


def describe(event):
    if event is None:
        return 'waiting for a conductor'
    text = event.message or ''
    if event.step:
        text = 'step %d/%d %s%s' % (event.step_index, event.step_count,
                                    event.step, ': ' + text if text else '')
    return '%s [%s] (%s)' % (text, event.state, event.conductor)


class Watcher:
    """Builds each frame from the database; keeps the finished operations
    it saw so their end stays on screen."""

    def __init__(self, cluster_uuid=None):
        self.cluster_uuid = cluster_uuid
        self.progress = Progress(
            TextColumn('{task.fields[name]:<16} {task.fields[kind]:<15}'),
            BarColumn(bar_width=30), TaskProgressColumn(),
            TextColumn('{task.description}'), expand=False)
        self._tasks = {}
        self._ended = set()     # operations whose end was shown
        self._names = {}
        self.takeovers = []
        self._last_id = db_events.last_event_id()
        if cluster_uuid:
            # The cluster's newest operation, even if it already ended, so
            # that a late watcher still sees how it went.
            ops = db_api.list_operations(cluster_uuid=cluster_uuid)
            if ops:
                self._tasks[ops[-1].id] = self.progress.add_task(
                    '', total=100, name=self._name(cluster_uuid),
                    kind=ops[-1].kind)

    def _name(self, cluster_uuid):
        if cluster_uuid not in self._names:
            try:
                self._names[cluster_uuid] = db_api.get_cluster_by_uuid(
                    cluster_uuid, scope=db_api.ALL_PROJECTS).name or cluster_uuid[:8]
            except exceptions.ClusterNotFound:
                return cluster_uuid[:8]
        return self._names[cluster_uuid]

    def refresh(self):
        """Read once; returns the number of operations still unfinished."""
        ops = [op for op in db_api.list_operations(
            cluster_uuid=self.cluster_uuid, states_in=states.OP_UNFINISHED)]
        running = {op.id for op in ops}
        for op in ops:
            last = db_events.last_of_operation(op.id)
            if op.id not in self._tasks:
                self._tasks[op.id] = self.progress.add_task(
                    '', total=100, name=self._name(op.cluster_id),
                    kind=op.kind)
            values = {'description': describe(last)}
            if last is None or last.state in _ADVANCING:
                values['completed'] = percent(last)
            self.progress.update(self._tasks[op.id], **values)
        for op_id, task_id in self._tasks.items():
            # Not "the bar is full": a refresh between the last step's
            # success and the operation's end saw 100 % already.
            if op_id in running or op_id in self._ended:
                continue
            op = db_api.get_operation(op_id)
            self._ended.add(op_id)
            if op.state == states.OP_SUCCEEDED:
                self.progress.update(task_id, completed=100,
                                     description='operation SUCCEEDED')
            elif op.state == states.OP_FAILED:
                failed_at = [e for e in db_events.list_events(
                    scope=db_api.ALL_PROJECTS, operation_id=op_id, limit=1000)
                    if e.state == states.EV_FAILED]
                self.progress.update(
                    task_id, completed=percent(failed_at[-1]
                                               if failed_at else None),
                    description='operation FAILED: %s' % (op.error or ''))
                self.progress.stop_task(task_id)
            elif op.state == states.OP_SUPERSEDED:
                self.progress.update(
                    task_id, description='operation SUPERSEDED: %s' % (
                        op.error or ''))
                self.progress.stop_task(task_id)
        for ev in db_events.list_events(scope=db_api.ALL_PROJECTS,
                                        cluster_id=self.cluster_uuid,
                                        marker=self._last_id, limit=500):
            self._last_id = ev.id
            if ev.state == states.EV_RESUMED and ev.data and \
                    ev.data.get('from') != ev.conductor:
                self.takeovers.append('%s %s: %s' % (
                    ev.created_at.strftime('%H:%M:%S'),
                    self._name(ev.cluster_id), ev.message))
        return len(running)

    def conductors(self):
        table = Table(box=box.SIMPLE, title='conductors', title_justify='left')
        for col in ('host', 'heartbeat', 'owns'):
            table.add_column(col)
        owned = {}
        for op in db_api.list_operations(states_in=(states.OP_RUNNING,)):
            owned.setdefault(op.owner, []).append(self._name(op.cluster_id))
        now = models.utcnow()
        for c in db_ops.list_conductors():
            age = (now - c.heartbeat_at).total_seconds()
            table.add_row(c.host, '%.1f s ago' % age,
                          ', '.join(owned.get(c.host, [])) or '-')
        return table

    def frame(self):
        parts = [self.progress]
        if not self._tasks:
            parts.insert(0, 'No operation in progress.')
        parts.append(self.conductors())
        if self.takeovers:
            parts.append('takeovers:\n  ' + '\n  '.join(self.takeovers[-5:]))
        return Group(*parts)


def run(cluster=None, interval=0.5, console=None):
    """Watch until interrupted, or, with a cluster, until its operation
    ends. Returns the process exit code (1 if it failed)."""
    console = console or Console()
    cluster_uuid = None
    if cluster:
        try:
            cluster_uuid = db_api.get_cluster(
                cluster, scope=db_api.ALL_PROJECTS).uuid
        except exceptions.CaasException as exc:
            console.print('caas-manage watch: %s' % exc)
            return 2
    watcher = Watcher(cluster_uuid)
    failed = False
    try:
        with Live(watcher.frame(), console=console, refresh_per_second=8,
                  transient=False) as live:
            while True:
                unfinished = watcher.refresh()
                live.update(watcher.frame())
                if cluster_uuid and unfinished == 0:
                    break
                time.sleep(interval)
    except KeyboardInterrupt:
        return 0
    if cluster_uuid:
        ops = db_api.list_operations(cluster_uuid=cluster_uuid)
        failed = bool(ops) and ops[-1].state == states.OP_FAILED
        try:
            row = db_api.get_cluster_by_uuid(cluster_uuid,
                                             scope=db_api.ALL_PROJECTS)
            console.print('%s: %s %s' % (row.name, row.status,
                                         row.status_reason or ''))
        except exceptions.ClusterNotFound:
            console.print('%s: deleted' % cluster)
    return 1 if failed else 0
