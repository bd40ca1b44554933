"""Progress events and the live views' data: a caas extension of Magnum's API.

``GET /v1/clusters/{ident}/events``  one cluster's steps, oldest first.
``GET /v1/events``                   every event in the caller's scope.
``GET /v1/events/stream``            the same, live, as Server-Sent Events.
``GET /v1/conductors``               conductors, heartbeat age, owned work.

A stream holds one of the server's worker threads while it is open, so
streams are counted (``[api] max_event_streams``; one more is a 503 with
Retry-After), each ends after ``[api] event_stream_lifetime`` seconds (the
browser reconnects with ``Last-Event-ID`` and misses nothing), and a quiet
stream sends a keepalive comment every ``event_stream_keepalive`` seconds,
which is also when a vanished client is noticed. New events are read from
the database, where conductors in any process write them.
"""

import json
import threading
import time
import weakref

import flask

from caas.api import pagination
from caas.api import request
from caas.api import scope
from caas.api import views
from caas.api.controllers.v1 import mservices
from caas.common import exceptions
from caas.common import policy
from caas.common import states
from caas.db import api as db
from caas.db import events as db_events
from caas.db import operations as db_ops
from caas.db.sqlalchemy import models

_BATCH = 200
# Event ids are BIGINT (SQLite's INTEGER): a larger marker is no event.
_MAX_ID = 2 ** 63 - 1

_streams_lock = threading.Lock()
_streams_open = 0


class TooManyStreams(exceptions.CaasException):
    code = 503
    message = ('Too many live event streams are open on this API server '
               '(%(limit)d); retry in a few seconds.')


def event_view(row):
    return {k: views.json_value(v) for k, v in db_events.as_dict(row).items()}


def _event_id(raw, what):
    """``raw`` (a query argument or header named ``what``) as an event id;
    400 naming ``what`` unless it is an integer from 0 to _MAX_ID."""
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if not 0 <= value <= _MAX_ID:
        raise exceptions.InvalidParameterValue(
            err='Invalid value for %s: %s. It must be the id of an event '
                '(an integer from 0 to %d).' % (what, raw, _MAX_ID))
    return value


def _marker():
    raw = flask.request.args.get('marker')
    if raw in (None, ''):
        return None
    return _event_id(raw, 'marker')


def _page(path, where, cluster_id=None):
    conf = request.services().conf
    page = pagination.from_args(flask.request.args, conf.api.max_limit,
                                ('id',))
    descending = page.sort_dir == 'desc'
    rows = db_events.list_events(scope=where,
                                 cluster_id=cluster_id, limit=page.limit,
                                 marker=_marker(), descending=descending)
    body = {'events': [event_view(r) for r in rows]}
    if rows and len(rows) == page.limit:
        body['next'] = '%s/v1/%s?limit=%d&marker=%d%s' % (
            request.base_url(), path, page.limit, rows[-1].id,
            '&sort_dir=desc' if descending else '')
    return request.respond(body)


def _cluster(ident):
    # Another project's cluster is a 404, as for the cluster itself.
    return scope.find(db.get_cluster, ident, 'cluster:events',
                      'cluster:get_one_all_projects')


def cluster_events(ident):
    row = _cluster(ident)
    # The cluster was found in the caller's scope: its events are too.
    return _page('clusters/%s/events' % row.uuid, row.project_id,
                 cluster_id=row.uuid)


def _list_scope():
    return scope.for_list('event:get_all', 'event:get_all_all_projects')


def get_all():
    return _page('events', _list_scope())


def _start_id():
    """Where a stream starts: after Last-Event-ID (a reconnect), after
    ``last_event_id``, or with the events that come next."""
    raw = (flask.request.headers.get('Last-Event-ID') or
           flask.request.args.get('last_event_id'))
    if raw in (None, ''):
        return db_events.last_event_id()
    return _event_id(raw, 'Last-Event-ID')


class _Slot:
    """One of the ``max_event_streams`` places, given back exactly once."""

    def __init__(self):
        self._held = True

    def release(self):
        global _streams_open
        with _streams_lock:
            if self._held:
                self._held = False
                _streams_open -= 1


class _Stream:
    """The body of one stream. Its slot is given back when the stream ends,
    fails, is closed - even if the server never iterated it - or, for a
    caller that never closes it, when it is garbage-collected."""

    def __init__(self, slot, where, cluster_id, last_id, conf, disconnected):
        self._slot = slot
        weakref.finalize(self, slot.release)
        self.where = where
        self.cluster_id = cluster_id
        self.last_id = last_id
        self.conf = conf.api
        self.disconnected = disconnected or (lambda: False)
        self._closed = False

    def __iter__(self):
        try:
            yield from self._events()
        finally:
            self.close()

    def _events(self):
        conf = self.conf
        now = time.monotonic()
        end = now + conf.event_stream_lifetime
        keepalive = now + conf.event_stream_keepalive
        # The browser waits this long before reconnecting.
        yield b'retry: 1000\n: caas events\n\n'
        while not self._closed and time.monotonic() < end:
            if self.disconnected():
                return
            rows = db_events.list_events(scope=self.where,
                                         cluster_id=self.cluster_id,
                                         limit=_BATCH, marker=self.last_id)
            for row in rows:
                self.last_id = row.id
                yield ('id: %d\nevent: progress\ndata: %s\n\n' % (
                    row.id, json.dumps(event_view(row)))).encode()
            now = time.monotonic()
            if rows:
                keepalive = now + conf.event_stream_keepalive
                if len(rows) == _BATCH:
                    continue
            elif now >= keepalive:
                keepalive = now + conf.event_stream_keepalive
                yield b': keepalive\n\n'
            time.sleep(min(conf.event_poll_interval, max(0.0, end - now)))
        yield b'event: end\ndata: {}\n\n'

    def close(self):
        self._closed = True
        self._slot.release()


def stream():
    global _streams_open
    conf = request.services().conf
    cluster_id = None
    ident = flask.request.args.get('cluster')
    if ident:
        row = _cluster(ident)
        where, cluster_id = row.project_id, row.uuid
    else:
        where = _list_scope()
    last_id = _start_id()
    with _streams_lock:
        if _streams_open >= conf.api.max_event_streams:
            exc = TooManyStreams(limit=conf.api.max_event_streams)
            exc.headers = {'Retry-After': '5'}
            raise exc
        _streams_open += 1
    body = _Stream(_Slot(), where, cluster_id, last_id, conf,
                   flask.request.environ.get('waitress.client_disconnected'))
    resp = flask.Response(body, mimetype='text/event-stream')
    resp.headers['Cache-Control'] = 'no-cache'
    resp.headers['X-Accel-Buffering'] = 'no'
    return resp


def open_streams():
    with _streams_lock:
        return _streams_open


def conductors():
    policy.authorize(request.context(), 'conductor:get_all')
    conf = request.services().conf
    now = models.utcnow()
    owned = {}
    for op in db.list_operations(states_in=states.OP_UNFINISHED):
        owned.setdefault(op.owner, []).append({
            'id': op.id, 'cluster_id': op.cluster_id, 'kind': op.kind,
            'state': op.state, 'epoch': op.epoch,
            'claimed_at': views.json_value(op.claimed_at)})
    items = []
    for row in db_ops.list_conductors():
        age, state = mservices.liveness(row, now,
                                        conf.conductor.heartbeat_timeout)
        items.append({
            'host': row.host, 'binary': row.binary,
            'heartbeat_at': views.json_value(row.heartbeat_at),
            'heartbeat_age': None if age is None else round(age, 1),
            'state': state,
            'report_count': row.report_count,
            'operations': owned.pop(row.host, [])})
    return request.respond({'conductors': items,
                            'unowned': owned.pop(None, []),
                            'now': views.json_value(now)})


def register(app):
    opts = {'strict_slashes': False}
    app.add_url_rule('/v1/clusters/<ident>/events', 'clusters_events',
                     cluster_events, methods=['GET'], **opts)
    app.add_url_rule('/v1/events', 'events_get_all', get_all,
                     methods=['GET'], **opts)
    app.add_url_rule('/v1/events/stream', 'events_stream', stream,
                     methods=['GET'], **opts)
    app.add_url_rule('/v1/conductors', 'conductors_get_all', conductors,
                     methods=['GET'], **opts)
