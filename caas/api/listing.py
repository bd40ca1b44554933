"""Keyset-paginated list queries for the API's collections.

``caas.db.api._paginate`` compares with ``sa.gt``/``sa.lt``, which do not
exist, so any request with a marker fails there; until it is fixed the API
pages with this module (same semantics: order by the sort key then id, a
marker continues after its row).
"""

import operator

import sqlalchemy as sa

from caas.common import exceptions
from caas.db.sqlalchemy import engine
from caas.db.sqlalchemy import models


def _visible(model, project_id, include_public):
    if project_id is None:
        return sa.true()
    cond = model.project_id == project_id
    if include_public:
        cond = sa.or_(cond, model.public.is_(True))
    return cond


def page(model, page, project_id=None, include_public=False):
    """One page of ``model`` rows visible to ``project_id`` (None: all)."""
    column = getattr(model, page.sort_key)
    order = sa.asc if page.sort_dir == 'asc' else sa.desc
    after = operator.gt if page.sort_dir == 'asc' else operator.lt
    visible = _visible(model, project_id, include_public)
    with engine.session_scope() as session:
        query = sa.select(model).where(visible)
        if page.marker is not None:
            mrow = session.scalars(sa.select(model).where(
                model.uuid == page.marker, visible)).first()
            if mrow is None:
                raise exceptions.InvalidParameterValue(
                    err='Invalid value for marker: %s was not found.' %
                        page.marker)
            mval = getattr(mrow, page.sort_key)
            if mval is None:
                cond = sa.and_(column.is_(None), after(model.id, mrow.id))
            else:
                cond = sa.or_(after(column, mval),
                              sa.and_(column == mval,
                                      after(model.id, mrow.id)))
            query = query.where(cond)
        query = query.order_by(order(column), order(model.id))
        return list(session.scalars(query.limit(page.limit)))


def cluster_templates(page_, project_id):
    return page(models.ClusterTemplate, page_, project_id,
                include_public=True)


def clusters(page_, project_id):
    return page(models.Cluster, page_, project_id)
