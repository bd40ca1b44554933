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


def test_every_column_is_what_the_orm_reads(database):
    made = db_api.create_cluster_template({
        'name': 'full', 'coe': 'kubernetes', 'image_id': 'img',
        'project_id': 'p1', 'public': True, 'hidden': False,
        'labels': {'kube_tag': 'v1.27.3', 'n': 3, 'none': None},
        'keypair_id': 'kp', 'docker_volume_size': 20,
        'master_lb_enabled': True, 'floating_ip_enabled': False,
        'tls_disabled': False, 'server_type': 'vm',
        'cluster_distro': 'ubuntu', 'fixed_network': 'private'})
    for ident, scope in (('full', 'p1'), (made.uuid, 'p2'),
                         ('full', db_api.ALL_PROJECTS)):
        found = db_api.find_cluster_template(ident, scope=scope)
        orm = db_api.get_cluster_template(ident, scope=scope)
        columns = [c.key for c in orm.__table__.c]
        assert {k: getattr(found, k) for k in columns} == \
            {k: getattr(orm, k) for k in columns}
        assert {k: type(getattr(found, k)) for k in columns} == \
            {k: type(getattr(orm, k)) for k in columns}


def test_the_read_is_compiled_once_per_scope_kind(pg_db, monkeypatch):
    _template('t', 'p1')
    db_api._TEMPLATE_SQL.clear()
    compiled = []

    def counting(real):
        return lambda *args, **kwargs: compiled.append(1) or real(*args,
                                                                  **kwargs)
    for statement in db_api._TEMPLATE_BY_IDENT.values():
        monkeypatch.setattr(statement, 'compile', counting(statement.compile))
    for _ in range(5):
        assert db_api.find_cluster_template('t', scope='p1').name == 't'
        assert db_api.find_cluster_template(
            't', scope=db_api.ALL_PROJECTS).name == 't'
    assert len(compiled) == 2
