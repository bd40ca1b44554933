"""A page of the cluster summary list, its JSON built by PostgreSQL.

``GET /v1/clusters`` returns up to 1,000 summaries. Fetching them as rows
made the API decode every column (the labels' JSON included), build a dict
per row and encode it all again; PostgreSQL builds the same array in one
statement, and the API only wraps it. Same page, same order, same fields as
the row path (``caas.db.api.list_clusters(summary=True)`` and
``caas.api.views``), which other databases keep using.

Pages are also remembered, per process, with the project's change counter
(``cluster_changes``, which triggers on ``clusters`` bump in the COMMIT of
every cluster write, whoever writes: migration 0004a). Every request still
asks the database, in one statement outside any transaction (no BEGIN,
no COMMIT): the counter, and the page only if the counter is not the
remembered one (a one-time filter: the
rows are not read at all then). The counter and the page come from that
one statement's snapshot, so a remembered page is exactly the page of its
counter, and a list started after a write committed sees that write's
counter: never a stale page, in any process.
"""

import functools
import itertools
import uuid

import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.dialects import postgresql as pg

from caas.common import exceptions
from caas.common import lru
from caas.db import api as db_api
from caas.db.sqlalchemy import engine
from caas.db.sqlalchemy import models


def supported():
    """True when the database builds JSON itself (PostgreSQL).

    Asked on every list and show: the autocommit engine (the one both
    read with) is a dictionary look-up, where ``get_engine(readonly=True)``
    parsed the connection URL on each call to tell SQLite (5 % of a
    list's CPU)."""
    return engine.get_autocommit_engine().dialect.name == 'postgresql'


# Pages remembered per process, least recently used dropped first: a
# page of 1,000 summaries is ~700 kB (twice that once its response body
# is made: both count).
CACHE_BYTES = 32 * 1024 * 1024


class Page:
    """A remembered page: its JSON array (UTF-8 bytes), row count, last
    UUID, the change counter it is the page of, and the response body
    made of it (``render``), made once."""

    __slots__ = ('text', 'count', 'last', 'counter', 'body')

    def __init__(self, text, count, last, counter, body=None):
        self.text = text
        self.count = count
        self.last = last
        self.counter = counter
        self.body = body

    def size(self):
        return len(self.text) + len(self.body or b'')


class PageCache(lru.LRU):
    """Pages by request, bounded by the size of their JSON text and
    body."""

    def __init__(self, max_bytes=CACHE_BYTES):
        super().__init__(max_bytes, size=Page.size)


CACHE = PageCache()


def change_counter(scope):
    """The change counter of ``scope`` as a scalar subquery: the project's,
    or the sum of all projects' (every counter only grows, so the sum
    grows with any of them)."""
    changes = models.ClusterChange
    value = sa.func.sum(changes.counter) \
        if scope is db_api.ALL_PROJECTS else sa.func.max(changes.counter)
    return sa.select(sa.func.coalesce(value, 0)).where(
        db_api.project_filter(changes, scope)).scalar_subquery()


def summary_page(*, scope, fields, base_url, limit, marker=None,
                 sort_key='id', sort_dir='asc', aliases=(), cache=None,
                 render=None):
    """``(json_text, count, last_uuid)`` of one page of cluster summaries;
    ``json_text`` is UTF-8 bytes.

    :param fields: the summary's column names, in the order of the view;
        ``links`` is built from ``base_url`` where it appears.
    :param aliases: ``(json key, column)`` pairs added after ``fields``
        (``cluster_id`` is the stack's id from microversion 1.13 on).
    :param cache: a :class:`PageCache`; the process's by default.
    :param render: ``render(json_text, count, last_uuid)`` -> the response
        body (bytes), returned in place of ``json_text``, made once per
        remembered page: it must depend on nothing but its arguments and
        this function's (a request of another shape is another page).
    :raises: InvalidParameterValue for a bad sort key, direction or marker.
    """
    args = (db_api._checked(scope), tuple(fields), base_url, limit,
            sort_key, sort_dir, tuple(aliases))
    # The engine is part of the key: another database (tests, a changed
    # connection) has counters of its own.
    eng = engine.get_autocommit_engine()
    key = (eng, marker) + args
    cache = CACHE if cache is None else cache
    known = cache.get(key)
    # One statement, outside any transaction: no BEGIN, no COMMIT.
    with eng.connect() as conn:
        if marker is None:
            # The statement depends on the request only and is compiled
            # once: the SQL and its parameters but the counter (building
            # and binding it cost more than running it).
            text, count, last, now = _run(
                conn, _compiled(eng.dialect, *args),
                -1 if known is None else known.counter)
        else:
            with orm.Session(bind=conn) as session:
                stmt = _build(session, marker, *args)
                text, count, last, now = conn.execute(
                    stmt, {'known': -1 if known is None
                           else known.counter}).one()
    if known is not None and now == known.counter:
        cache.count(hit=True)
        if render is None:
            return known.text, known.count, known.last
        if known.body is None:
            # Remembered by a caller without a body: made once, here.
            known = Page(known.text, known.count, known.last, known.counter,
                         render(known.text, known.count, known.last))
            cache.put(key, known)
        return known.body, known.count, known.last
    cache.count(hit=False)
    page = Page(text.encode(), count, last, now)
    if render is not None:
        page.body = render(page.text, count, last)
    cache.put(key, page)
    return page.body if render is not None else page.text, count, last


def _build(session, marker, scope, fields, base_url, limit, sort_key,
           sort_dir, aliases):
    """The page's statement: its JSON array, row count, last UUID and the
    change counter; no row is read when the counter is ``:known``."""
    model = models.Cluster
    columns = {f for f in fields if f != 'links'} | {c for _, c in aliases}
    columns |= {'id', 'uuid', sort_key}
    visible = db_api.project_filter(model, scope)
    # Pseudo-constant: PostgreSQL evaluates it once, before reading any
    # row (a one-time filter), and reads none when the page is current.
    current = change_counter(scope) != sa.bindparam('known',
                                                    type_=sa.BigInteger)
    inner = db_api.page_query(
        session, sa.select(*[getattr(model, c) for c in sorted(columns)])
        .where(visible, current), model, limit, marker, sort_key, sort_dir,
        visible).subquery()
    pairs = []
    for field in fields:
        value = _links(inner, base_url) if field == 'links' \
            else inner.c[field]
        pairs += [sa.literal(field), value]
    for key_name, column in aliases:
        pairs += [sa.literal(key_name), inner.c[column]]
    forward = db_api.sort_order(inner.c[sort_key], inner.c.id, sort_dir)
    # The reversed order puts the page's last row first.
    backward = db_api.sort_order(inner.c[sort_key], inner.c.id,
                                 'desc' if sort_dir == 'asc' else 'asc')
    return sa.select(
        sa.cast(sa.func.coalesce(
            sa.func.json_agg(pg.aggregate_order_by(
                sa.func.json_build_object(*pairs), *forward)),
            sa.literal_column("'[]'::json")), sa.Text),
        sa.func.count(),
        sa.func.array_agg(pg.aggregate_order_by(
            inner.c.uuid, *backward))[1],
        change_counter(scope))


@functools.lru_cache(maxsize=256)
def _statement(*args):
    return _build(None, None, *args)


# Statements prepared per connection at most: a request shape's links
# follow the request's Host (without [api] public_endpoint), so shapes are
# the clients' to multiply, and each prepared statement holds memory in
# its PostgreSQL backend.
MAX_PREPARED = 32
_PREPARED_KEY = 'caas.cluster_pages.prepared'
# Stands for the counter while the SQL is made: unguessable, so no text a
# client sends can contain it.
_TOKEN = 'caas_known_%s' % uuid.uuid4().hex
_names = itertools.count(1)


class _Shape:
    """One request shape's statement: its SQL with every value written in
    but the counter, prepared on each connection at its first use there
    (PostgreSQL then neither parses nor plans it again: that was most of
    a current page's time in the database)."""

    def __init__(self, sql, params):
        self.sql = sql
        self.params = params
        self.name = 'caas_cluster_page_%d' % next(_names)
        self.execute = 'EXECUTE %s(%%(known)s)' % self.name
        self.prepare = None   # made on the first connection it runs on

    def make_prepare(self, dbapi_conn):
        """``PREPARE ...;`` with the values quoted by the driver itself, or
        '' when the SQL cannot be made so (then it is run unprepared)."""
        import psycopg2.extensions as ext
        with dbapi_conn.cursor() as cursor:
            text = cursor.mogrify(self.sql, dict(self.params,
                                                 known=ext.AsIs(_TOKEN)))
        text = text.decode(ext.encodings[dbapi_conn.encoding])
        if text.count(_TOKEN) != 1:
            return ''
        # The values are written in now: a '%' among them is text.
        text = text.replace('%', '%%').replace(_TOKEN, '$1')
        return 'PREPARE %s (bigint) AS %s; ' % (self.name, text)


@functools.lru_cache(maxsize=256)
def _compiled(dialect, *args):
    """The statement of a request shape for ``dialect`` (a :class:`_Shape`):
    its SQL and fixed parameters (every one but ``known``), given to the
    driver as they are (still through the engine: its events, error
    wrapping and invalidation apply): none of their types processes a
    value on the way in (checked here)."""
    compiled = _statement(*args).compile(dialect=dialect)
    if compiled._bind_processors:
        raise TypeError('parameters to process: %s' %
                        sorted(compiled._bind_processors))
    params = compiled.construct_params({'known': 0})
    del params['known']
    return _Shape(compiled.string, params)


def _run(conn, shape, known):
    """The row of ``shape`` for the counter ``known``, in one round trip:
    ``EXECUTE`` where the connection prepared it, else ``PREPARE``
    and ``EXECUTE`` together (or the SQL itself beyond
    :data:`MAX_PREPARED`)."""
    prepared = conn.connection.info.setdefault(_PREPARED_KEY, set())
    if shape.name in prepared:
        return conn.exec_driver_sql(shape.execute, {'known': known}).one()
    if shape.prepare is None:
        shape.prepare = shape.make_prepare(conn.connection.dbapi_connection)
    if not shape.prepare or len(prepared) >= MAX_PREPARED:
        return conn.exec_driver_sql(shape.sql, dict(shape.params,
                                                     known=known)).one()
    try:
        row = conn.exec_driver_sql(shape.prepare + shape.execute,
                                   {'known': known}).one()
    except sa.exc.DBAPIError as exc:
        # A PREPARE outlives an EXECUTE that failed after it (a statement
        # timeout): the connection has it.
        if getattr(exc.orig, 'pgcode', None) != '42P05':
            raise
        prepared.add(shape.name)
        return conn.exec_driver_sql(shape.execute, {'known': known}).one()
    prepared.add(shape.name)
    return row


def _links(inner, base_url):
    def link(prefix, rel):
        return sa.func.json_build_object(
            sa.literal('href'),
            sa.func.concat(sa.literal(prefix, sa.Text), inner.c.uuid),
            sa.literal('rel'), sa.literal(rel))
    return sa.func.json_build_array(
        link('%s/v1/clusters/' % base_url, 'self'),
        link('%s/clusters/' % base_url, 'bookmark'))


# -- one cluster, as GET /v1/clusters/<ident> shows it -----------------------

#: Clusters remembered per process for their show, least recently used
#: dropped first (a row and its bodies: a few kB).
MAX_SHOWN = 2048
#: Response bodies remembered per cluster: one per request shape (base
#: URL, microversion); the base URL follows the request's Host without
#: ``[api] public_endpoint``, so shapes are the clients' to multiply.
MAX_SHOWN_BODIES = 8


class Shown:
    """A remembered cluster: its row (shared by requests: read it only)
    and the response bodies made of it, by request shape."""

    __slots__ = ('row', 'bodies')

    def __init__(self, row):
        self.row = row
        self.bodies = {}

    @property
    def project_id(self):
        return self.row.project_id

    def body(self, shape, make):
        """The body of ``shape``, made by ``make()`` once."""
        body = self.bodies.get(shape)
        if body is None:
            body = make()
            if len(self.bodies) < MAX_SHOWN_BODIES:
                self.bodies[shape] = body
        return body


class ShowCache(lru.LRU):
    """Shows by (engine, ident, scope), each with the counters it was read
    at."""

    def __init__(self, max_entries=MAX_SHOWN):
        super().__init__(max_entries)


SHOWN = ShowCache()

# The counters a show depends on: the templates' (the full view compares
# the cluster's labels with its template's) and the scope's clusters'
# (the project's, or the sum of all projects').
_TEMPLATE_COUNTER = '(SELECT counter FROM cluster_template_changes ' \
    'WHERE id = 1)'
_SHOW_COUNTERS = {
    False: 'SELECT %s, (SELECT coalesce(max(counter), 0) FROM '
           'cluster_changes WHERE project_id = %%(project)s)'
           % _TEMPLATE_COUNTER,
    True: 'SELECT %s, (SELECT coalesce(sum(counter), 0) FROM '
          'cluster_changes)' % _TEMPLATE_COUNTER,
}


def get_cluster(ident, *, scope, cache=None):
    """:func:`caas.db.api.get_cluster`, remembered, as a :class:`Shown`:
    the cluster named ``ident`` (UUID first, then name) within ``scope``.

    A remembered answer (an error too) is given while the scope's cluster
    counter and the templates' counter are those it was read at: one
    statement outside any transaction reads both. Otherwise the cluster is
    read with both counters in one statement (one snapshot), so an answer
    is exactly that of its counters, and a show that starts after a
    committed write (whoever wrote) sees that write: never stale, in any
    process.

    :raises: ClusterNotFound, Ambiguous.
    """
    checked = db_api._checked(scope)
    cache = SHOWN if cache is None else cache
    eng = engine.get_autocommit_engine()
    key = (eng, ident, checked)
    known = cache.get(key)
    if known is not None:
        with eng.connect() as conn:
            now = tuple(conn.exec_driver_sql(
                _SHOW_COUNTERS[checked is db_api.ALL_PROJECTS],
                {'project': checked}).one())
        if now == known[0]:
            cache.count(hit=True)
            return _shown(known[1])
    cache.count(hit=False)
    counters, found = _read_cluster(eng, ident, checked)
    cache.put(key, (counters, found))
    return _shown(found)


def _shown(found):
    if isinstance(found, Exception):
        # A fresh one each time: a raised exception keeps its traceback.
        raise type(found)(**found.kwargs)
    return found


def _read_cluster(eng, ident, scope):
    """``((template counter, cluster counter), Shown or the error)`` in
    one statement: the UUID's row first, else up to two rows of that name
    (as :func:`caas.db.api.get_cluster` looks)."""
    cluster = models.Cluster
    changes = models.ClusterTemplateChange
    by_uuid = cluster.uuid == ident
    stmt = sa.select(changes.counter, change_counter(scope), cluster) \
        .select_from(changes) \
        .outerjoin(cluster, sa.and_(db_api.project_filter(cluster, scope),
                                    sa.or_(by_uuid, cluster.name == ident))) \
        .where(changes.id == 1) \
        .order_by(sa.case((by_uuid, 0), else_=1), cluster.id).limit(2)
    with orm.Session(bind=eng) as session:
        rows = session.execute(stmt).all()
    counters = (rows[0][0], rows[0][1])
    found = [row[2] for row in rows if row[2] is not None]
    if found and (found[0].uuid == ident or len(found) == 1):
        return counters, Shown(found[0])
    if not found:
        return counters, exceptions.ClusterNotFound(cluster=ident)
    return counters, exceptions.Ambiguous(kind='clusters', name=ident)
