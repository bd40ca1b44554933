"""The database layer never reads a missing scope as "every project"."""

import pytest
import sqlalchemy as sa

from caas.db import api as db_api
from caas.db.sqlalchemy import models

READERS = [
    lambda uuids, **kw: db_api.get_cluster('c-p1', **kw),
    lambda uuids, **kw: db_api.get_cluster_by_uuid(uuids['c-p1'], **kw),
    lambda uuids, **kw: db_api.list_clusters(**kw),
    lambda uuids, **kw: db_api.get_cluster_template('t-p1', **kw),
    lambda uuids, **kw: db_api.list_cluster_templates(**kw),
]
READER_IDS = ['get_cluster', 'get_cluster_by_uuid', 'list_clusters',
              'get_cluster_template', 'list_cluster_templates']


def _template(project, name, public=False):
    return db_api.create_cluster_template({
        'name': name, 'coe': 'kubernetes', 'image_id': 'ubuntu-jammy',
        'project_id': project, 'server_type': 'vm', 'public': public})


def _cluster(project, name, template):
    cluster, _ = db_api.create_cluster(
        {'name': name, 'project_id': project,
         'cluster_template_id': template.uuid, 'node_count': 1,
         'master_count': 1},
        [{'name': 'default-worker', 'role': 'worker', 'node_count': 1}],
        timeout_minutes=60)
    return cluster


@pytest.fixture
def two_projects(db):
    t1 = _template('p1', 't-p1')
    t2 = _template('p2', 't-p2')
    _template('p2', 'shared', public=True)
    return {'c-p1': _cluster('p1', 'c-p1', t1).uuid,
            'c-p2': _cluster('p2', 'c-p2', t2).uuid}


@pytest.mark.parametrize('read', READERS, ids=READER_IDS)
def test_a_forgotten_scope_is_a_type_error(two_projects, read):
    with pytest.raises(TypeError):
        read(two_projects)


@pytest.mark.parametrize('read', READERS, ids=READER_IDS)
@pytest.mark.parametrize('scope', [None, '', 0, ['p1'], object()])
def test_a_scope_that_is_not_a_project_is_refused(two_projects, read, scope):
    with pytest.raises(db_api.ScopeError):
        read(two_projects, scope=scope)


def test_a_project_scope_sees_only_that_project(two_projects):
    names = [c.name for c in db_api.list_clusters(scope='p1')]
    assert names == ['c-p1']
    names = [t.name for t in db_api.list_cluster_templates(scope='p1')]
    assert names == ['t-p1', 'shared']
    assert db_api.get_cluster('c-p1', scope='p1').name == 'c-p1'
    with pytest.raises(db_api.exceptions.ClusterNotFound):
        db_api.get_cluster('c-p2', scope='p1')
    with pytest.raises(db_api.exceptions.ClusterNotFound):
        db_api.get_cluster_by_uuid(two_projects['c-p2'], scope='p1')
    with pytest.raises(db_api.exceptions.ClusterTemplateNotFound):
        db_api.get_cluster_template('t-p2', scope='p1')


def test_the_sentinel_is_not_a_string(two_projects):
    # Only the object widens the scope; a project named like it does not.
    for lookalike in ('ALL_PROJECTS', '*', '%', 'None'):
        assert db_api.list_clusters(scope=lookalike) == []
    names = sorted(c.name for c in db_api.list_clusters(
        scope=db_api.ALL_PROJECTS))
    assert names == ['c-p1', 'c-p2']


def test_a_marker_from_another_project_is_not_found(two_projects):
    with pytest.raises(db_api.exceptions.InvalidParameterValue):
        db_api.list_clusters(scope='p1', marker=two_projects['c-p2'])


@pytest.mark.parametrize('project', [None, '', 5])
def test_rows_without_a_project_are_never_written(db, project):
    with pytest.raises(db_api.ScopeError):
        _template(project, 'orphan')
    template = _template('p1', 't')
    with pytest.raises(db_api.ScopeError):
        _cluster(project, 'orphan', template)
    with db_api.session_scope(readonly=True) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(
            models.Cluster)) == 0
        assert session.scalar(sa.select(sa.func.count()).select_from(
            models.ClusterTemplate)) == 1
