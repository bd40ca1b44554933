"""Cluster templates as the API lists and shows them, remembered per
process while their change counter stands still.

Clients poll ``GET /v1/clustertemplates`` (dashboards, ``openstack coe``,
Terraform) while templates hardly ever change. In ``caas-all`` every call
into SQLite hands the interpreter's lock to a busy flow thread and waits
to get it back: a template list took 0.4-0.6 s at p99 during a fill, a
third of it the read and its ``BEGIN`` (issue 11). Here an answer that is
current costs one statement outside any transaction (no ``BEGIN``, no
``COMMIT``) that reads one row, sent without the ORM.

Exact, whoever writes: migration 0004b's triggers bump the one counter of
``cluster_template_changes`` in the transaction of every write of
``cluster_templates`` (the API's, ``caas-manage``'s, another process's, a
script's). A request reads the counter; if it is not the one the
remembered answer was read at, the answer is read again, with its counter
in the same statement (one snapshot). So a remembered answer is exactly
the answer at its counter, and a request that starts after a write
committed sees that write's counter: no answer is ever stale, in any
process.

Pages with a marker are read as before (rare: a project has a handful of
templates, and the default page holds a thousand). Databases without the
triggers (MySQL, MariaDB) are always read as before.
"""

import collections

import sqlalchemy as sa
from sqlalchemy import orm

from caas.common import exceptions
from caas.common import lru
from caas.db import api as db_api
from caas.db.sqlalchemy import engine
from caas.db.sqlalchemy import models

#: Remembered answers per process, least recently used dropped first
#: (lists and shows of templates: small).
MAX_ENTRIES = 1024

Entry = collections.namedtuple('Entry', 'counter value')


class Cache(lru.LRU):
    """Answers by request, each with the counter it was read at."""

    def __init__(self, max_entries=MAX_ENTRIES):
        super().__init__(max_entries)


CACHE = Cache()

_DIALECTS = ('sqlite', 'postgresql')


def supported():
    """True where migration 0004b made the counter's triggers."""
    return engine.get_autocommit_engine().dialect.name in _DIALECTS


# The hit path's one statement, sent on a pooled driver connection: a
# few microseconds of Python, where the ORM statement took a millisecond
# of it (in caas-all, time in which busy flow threads take the
# interpreter's lock away).
_COUNTER = 'SELECT counter FROM cluster_template_changes WHERE id = 1'


def _counter(eng):
    conn = eng.raw_connection()
    try:
        cursor = conn.cursor()
        try:
            cursor.execute(_COUNTER)
            return cursor.fetchone()[0]
        finally:
            cursor.close()
    finally:
        conn.close()


def _current(key, build, render, cache):
    """The answer of ``key``: remembered while the counter stands still,
    else ``render(rows)`` of the rows ``build(query)`` outer-joins to the
    counter, read in one statement with the counter they belong to."""
    cache = CACHE if cache is None else cache
    eng = engine.get_autocommit_engine()
    # The engine is part of the key: another database (tests, a changed
    # connection) has a counter of its own.
    key = (eng,) + key
    known = cache.get(key)
    if known is not None and _counter(eng) == known.counter:
        cache.count(hit=True)
        return known.value
    cache.count(hit=False)
    stmt = build(sa.select(models.ClusterTemplateChange.counter,
                           models.ClusterTemplate)
                 .select_from(models.ClusterTemplateChange))
    # Autocommit: the statement is its own transaction (one snapshot), so
    # the rows are exactly those of the counter that comes with them (the
    # one row of the counter, outer-joined: it comes without templates).
    with orm.Session(bind=eng) as session:
        rows = session.execute(stmt).all()
    counter = rows[0][0]
    value = render([row[1] for row in rows if row[1] is not None])
    cache.put(key, Entry(counter, value))
    return value


def template_list(*, scope, limit, sort_key='id', sort_dir='asc',
                  show_hidden=False, render=list, shape=(), cache=None):
    """``render(rows)`` of the first page of the templates
    :func:`caas.db.api.list_cluster_templates` lists (no marker).

    :param render: builds the answer (e.g. the response body) from the
        page's detached rows; called only when the page changed.
    :param shape: whatever else the answer depends on (base URL, whose
        credentials the caller may see); part of the key.
    :raises: InvalidParameterValue for a bad sort key or direction.
    """
    template = models.ClusterTemplate

    def build(query):
        visible = db_api.project_filter(template, scope, include_public=True)
        if not show_hidden:
            visible = sa.and_(visible, template.hidden.is_not(True))
        query = query.outerjoin(template, visible)
        return db_api.page_query(None, query, template, limit, None,
                                 sort_key, sort_dir)
    key = ('list', db_api._checked(scope), limit, sort_key, sort_dir,
           bool(show_hidden)) + tuple(shape)
    return _current(key, build, render, cache)


def get_template(ident, *, scope, cache=None):
    """:func:`caas.db.api.get_cluster_template`, remembered: the template
    named ``ident`` (UUID first, then name) in the project's own and public
    templates. The row is shared with other requests: read it only.

    :raises: ClusterTemplateNotFound, Ambiguous.
    """
    template = models.ClusterTemplate

    def build(query):
        visible = db_api.project_filter(template, scope, include_public=True)
        by_uuid = template.uuid == ident
        # The UUID's row first; without one, two rows of that name are
        # enough to tell the name is ambiguous.
        return query.outerjoin(template, sa.and_(
            visible, sa.or_(by_uuid, template.name == ident))) \
            .order_by(sa.case((by_uuid, 0), else_=1), template.id).limit(2)

    def render(rows):
        # An answer that is an error is remembered too.
        try:
            return db_api.pick_template(rows, ident)
        except (exceptions.ClusterTemplateNotFound,
                exceptions.Ambiguous) as exc:
            return exc
    found = _current(('show', ident, db_api._checked(scope)), build, render,
                     cache)
    if isinstance(found, Exception):
        # A fresh one each time: a raised exception keeps its traceback.
        raise type(found)(**found.kwargs)
    return found
