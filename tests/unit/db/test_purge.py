"""caas-manage db purge: what finished long ago goes, nothing in use does.

The scenarios take the database from the ``db`` fixture (SQLite here);
tests/integration/test_purge.py runs them on PostgreSQL.
"""

import datetime
import os
import subprocess
import sys

import sqlalchemy as sa
from taskflow.persistence import models as tf_models

from caas.common import states
from caas.conductor import engine as conductor_engine
from caas.conductor import ownership
from caas.db import api as db_api
from caas.db import operations as db_ops
from caas.db import purge
from caas.db.sqlalchemy import models

BIN = os.path.dirname(sys.executable)


def _cluster(name):
    tmpl = db_api.create_cluster_template({
        'name': 't-%s' % name, 'coe': 'kubernetes', 'image_id': 'i',
        'project_id': 'p1', 'labels': {}})
    return db_api.create_cluster(
        {'name': name, 'project_id': 'p1', 'cluster_template_id': tmpl.uuid,
         'node_count': 1, 'master_count': 1, 'labels': {}},
        [], timeout_minutes=60)


def _book(persistence, book_id):
    """A logbook with one flow detail holding one atom detail."""
    book = tf_models.LogBook('operation-%s' % book_id, uuid=book_id)
    flow = tf_models.FlowDetail('f', uuid=db_api.new_uuid())
    flow.add(tf_models.TaskDetail('t', uuid=db_api.new_uuid()))
    book.add(flow)
    persistence.save_logbook(book)


def _books(persistence):
    return {b.uuid for b in persistence.get_logbooks()}


def _op_ids():
    return {op.id for op in db_api.list_operations()}


def _finished(name, succeeded=True):
    cluster, op = _cluster(name)
    epoch = db_ops.claim(op.id, 'c1')
    fence = ownership.Fence(op.id, cluster.uuid, 'c1', epoch)
    db_ops.finish(fence, succeeded, {'status': states.CREATE_COMPLETE
                                     if succeeded else states.CREATE_FAILED})
    return cluster, op


def scenario_only_finished_operations_and_their_books_go(batch_size):
    persistence = conductor_engine.make_backend().get_connection()
    _, done = _finished('done')
    _, failed = _finished('failed', succeeded=False)
    _, running = _cluster('running')
    db_ops.claim(running.id, 'c1')
    _, pending = _cluster('pending')
    stray = db_api.new_uuid()
    for book_id in (done.id, failed.id, running.id, stray):
        _book(persistence, book_id)

    counts = purge.purge(0, batch_size=batch_size)

    assert counts == {'operations': 2, 'logbooks': 3, 'flowdetails': 3,
                      'atomdetails': 3}
    assert _op_ids() == {running.id, pending.id}
    assert _books(persistence) == {running.id}
    (flow,) = persistence.get_logbook(running.id)
    assert len(list(flow)) == 1
    assert purge.purge(0, batch_size=batch_size) == dict.fromkeys(counts, 0)


def scenario_younger_rows_and_current_operations_stay():
    persistence = conductor_engine.make_backend().get_connection()
    _, recent = _finished('recent')
    _book(persistence, recent.id)
    assert purge.purge(1) == {'operations': 0, 'logbooks': 0,
                              'flowdetails': 0, 'atomdetails': 0}
    # A finished operation a cluster still names as its current one (never
    # left so by caas itself) is kept all the same.
    cluster, named = _finished('named')
    with db_ops.session_scope() as session:
        session.execute(sa.update(models.Cluster).where(
            models.Cluster.uuid == cluster.uuid).values(
                operation_id=named.id))
    later = models.utcnow() + datetime.timedelta(days=3)
    assert purge.purge(1, now=later)['operations'] == 1
    assert _op_ids() == {named.id}


def test_only_finished_operations_and_their_books_go(db):
    scenario_only_finished_operations_and_their_books_go(batch_size=1000)


def test_batches_of_one_remove_the_same(db):
    scenario_only_finished_operations_and_their_books_go(batch_size=1)


def test_younger_rows_and_current_operations_stay(db):
    scenario_younger_rows_and_current_operations_stay()


def test_the_command_prints_counts_and_refuses_bad_arguments(db, tmp_path):
    _finished('done')
    conf = tmp_path / 'caas.conf'
    conf.write_text('[database]\nconnection = %s\n' % (
        db.url.render_as_string(hide_password=False),))
    manage = [os.path.join(BIN, 'caas-manage'), '--config-file', str(conf),
              'db', 'purge']
    out = subprocess.run(manage + ['--older-than', '0', '--batch-size', '5'],
                         capture_output=True, text=True, check=True).stdout
    assert 'operations   1 rows removed' in out
    assert _op_ids() == set()
    bad = subprocess.run(manage + ['--older-than', '-1'], capture_output=True,
                         text=True)
    assert bad.returncode == 2 and '--older-than' in bad.stderr
