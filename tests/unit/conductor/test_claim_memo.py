"""What a flow reads once per claim: the template and its driver (again
when the cluster moves to another template), never the cluster's own
changing rows."""

import sqlalchemy as sa

from caas.conductor import ownership
from caas.conductor.tasks import common
from caas.db import api as db_api
from caas.db import operations as db_ops
from caas.db.sqlalchemy import engine
from caas.db.sqlalchemy import models
from tests.unit.conductor.conftest import make_cluster


class _Selects:
    """The table of each SELECT's first column."""

    def __init__(self):
        self.tables = []

    def __call__(self, conn, cursor, statement, *args):
        words = statement.split()
        if words[0].upper() == 'SELECT':
            self.tables.append(words[1].split('.')[0].lstrip('('))


def _claimed(db):
    cluster, op = make_cluster(driver=None)
    fence = ownership.Fence(op.id, cluster.uuid, 'c1',
                            db_ops.claim(op.id, 'c1'))
    return cluster, fence


def test_the_template_is_read_once_per_claim(db):
    cluster, fence = _claimed(db)
    selects = _Selects()
    eng = engine.get_engine(True)
    sa.event.listen(eng, 'before_cursor_execute', selects)
    try:
        first = common.load_for(fence)
        fence.update(cluster_values={'stack_id': 's1'})
        second = common.load_for(fence)
        driver = common.driver_for(fence)
    finally:
        sa.event.remove(eng, 'before_cursor_execute', selects)
    assert selects.tables.count('cluster_templates') == 1
    assert second.cluster['stack_id'] == 's1'      # the cluster: as it is
    assert first.template == second.template
    assert driver is first.driver
    # Another claim reads its own.
    other = ownership.Fence(fence.operation_id, cluster.uuid, 'c2', 9)
    assert common.load_for(other).template['uuid'] == \
        first.template['uuid']


def test_a_cluster_moved_to_another_template_reads_that_one(db):
    cluster, fence = _claimed(db)
    before = common.load_for(fence).template
    new = db_api.create_cluster_template(dict(
        {k: before[k] for k in ('coe', 'image_id', 'project_id',
                                'server_type', 'cluster_distro', 'driver',
                                'labels')}, name='t2'))
    fence.update(cluster_values={'cluster_template_id': new.uuid})
    assert common.load_for(fence).template['uuid'] == new.uuid
    # Also when someone else's write moved it.
    with engine.get_engine().begin() as conn:
        conn.execute(sa.update(models.Cluster.__table__).where(
            models.Cluster.uuid == cluster.uuid).values(
                cluster_template_id=before['uuid']))
    assert common.load_for(fence).template['uuid'] == before['uuid']
