"""A page of the cluster summary list, its JSON built by PostgreSQL.

``GET /v1/clusters`` returns up to 1,000 summaries. Fetching them as rows
made the API decode every column (the labels' JSON included), build a dict
per row and encode it all again; PostgreSQL builds the same array in one
statement, and the API only wraps it. Same page, same order, same fields as
the row path (``caas.db.api.list_clusters(summary=True)`` and
``caas.api.views``), which other databases keep using.
"""

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from caas.db import api as db_api
from caas.db.sqlalchemy import engine
from caas.db.sqlalchemy import models


def supported():
    """True when the database builds JSON itself (PostgreSQL)."""
    return engine.get_engine(readonly=True).dialect.name == 'postgresql'


def summary_page(*, scope, fields, base_url, limit, marker=None,
                 sort_key='id', sort_dir='asc', aliases=()):
    """``(json_text, count, last_uuid)`` of one page of cluster summaries.

    :param fields: the summary's column names, in the order of the view;
        ``links`` is built from ``base_url`` where it appears.
    :param aliases: ``(json key, column)`` pairs added after ``fields``
        (``cluster_id`` is the stack's id from microversion 1.13 on).
    :raises: InvalidParameterValue for a bad sort key, direction or marker.
    """
    model = models.Cluster
    columns = {f for f in fields if f != 'links'} | {c for _, c in aliases}
    columns |= {'id', 'uuid', sort_key}
    with engine.session_scope(readonly=True) as session:
        visible = db_api.project_filter(model, scope)
        inner = db_api.page_query(
            session, sa.select(*[getattr(model, c) for c in sorted(columns)])
            .where(visible), model, limit, marker, sort_key, sort_dir,
            visible).subquery()
        pairs = []
        for field in fields:
            value = _links(inner, base_url) if field == 'links' \
                else inner.c[field]
            pairs += [sa.literal(field), value]
        for key, column in aliases:
            pairs += [sa.literal(key), inner.c[column]]
        forward = db_api.sort_order(inner.c[sort_key], inner.c.id,
                                    sort_dir)
        # The reversed order puts the page's last row first.
        backward = db_api.sort_order(inner.c[sort_key], inner.c.id,
                                     'desc' if sort_dir == 'asc' else 'asc')
        stmt = sa.select(
            sa.cast(sa.func.coalesce(
                sa.func.json_agg(pg.aggregate_order_by(
                    sa.func.json_build_object(*pairs), *forward)),
                sa.literal_column("'[]'::json")), sa.Text),
            sa.func.count(),
            sa.func.array_agg(pg.aggregate_order_by(
                inner.c.uuid, *backward))[1])
        text, count, last = session.execute(stmt).one()
    return text, count, last


def _links(inner, base_url):
    def link(prefix, rel):
        return sa.func.json_build_object(
            sa.literal('href'),
            sa.func.concat(sa.literal(prefix, sa.Text), inner.c.uuid),
            sa.literal('rel'), sa.literal(rel))
    return sa.func.json_build_array(
        link('%s/v1/clusters/' % base_url, 'self'),
        link('%s/clusters/' % base_url, 'bookmark'))
