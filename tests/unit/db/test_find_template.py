"""``find_cluster_template`` (the create's one-statement read) finds what
``get_cluster_template`` finds, or fails the same way, on SQLite and on
PostgreSQL."""

import pytest

from caas.common import exceptions
from caas.db import api as db_api


@pytest.fixture(params=['sqlite', 'postgresql'])
def database(request):
    return request.getfixturevalue('db' if request.param == 'sqlite'
                                   else 'pg_db')


def _template(name, project, public=False, uuid=None):
    values = {'name': name, 'coe': 'kubernetes', 'image_id': 'img',
              'project_id': project, 'public': public, 'labels': {'a': name}}
    if uuid:
        values['uuid'] = uuid
    return db_api.create_cluster_template(values)


def _outcome(finder, ident, scope):
    try:
        return finder(ident, scope=scope).uuid
    except exceptions.CaasException as exc:
        return type(exc).__name__, exc.code


def test_finds_what_get_cluster_template_finds(database):
    mine = _template('mine', 'p1')
    _template('twice', 'p1')
    _template('twice', 'p1')
    public = _template('shared', 'p2', public=True)
    private = _template('private', 'p2')
    # A template named like another's UUID: the UUID wins.
    _template(mine.uuid, 'p1')
    cases = [(mine.uuid, 'p1'), ('mine', 'p1'), ('twice', 'p1'),
             ('shared', 'p1'), (public.uuid, 'p1'), ('private', 'p1'),
             (private.uuid, 'p1'), ('nothing', 'p1'), ('private', 'p2'),
             ('twice', db_api.ALL_PROJECTS), ('private', db_api.ALL_PROJECTS)]
    for ident, scope in cases:
        assert _outcome(db_api.find_cluster_template, ident, scope) == \
            _outcome(db_api.get_cluster_template, ident, scope), (ident,
                                                                  scope)
    assert _outcome(db_api.find_cluster_template, 'twice', 'p1') == (
        'Ambiguous', 409)
    assert _outcome(db_api.find_cluster_template, private.uuid, 'p1') == (
        'ClusterTemplateNotFound', 404)
    assert _outcome(db_api.find_cluster_template, mine.uuid, 'p1') == \
        mine.uuid
    found = db_api.find_cluster_template('shared', scope='p1')
    assert (found.labels, found.coe, found.public) == (
        {'a': 'shared'}, 'kubernetes', True)


def test_a_scope_is_required(database):
    with pytest.raises(db_api.ScopeError):
        db_api.find_cluster_template('x', scope='')
