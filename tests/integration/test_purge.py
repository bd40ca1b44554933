"""caas-manage db purge on PostgreSQL, also while a deployment works."""

import os
import subprocess

import pytest
import requests

from tests.integration import deployment
from tests.integration import helpers
from tests.unit.db import test_purge as scenarios

pytestmark = pytest.mark.integration


@pytest.mark.parametrize('batch_size', [1, 1000])
def test_only_finished_operations_and_their_books_go(pg_db, batch_size):
    scenarios.scenario_only_finished_operations_and_their_books_go(
        batch_size)


def test_younger_rows_and_current_operations_stay(pg_db):
    scenarios.scenario_younger_rows_and_current_operations_stay()


def _purge(dep):
    out = subprocess.run(
        [os.path.join(deployment.BIN, 'caas-manage'), '--config-file',
         dep.conf, 'db', 'purge', '--older-than', '0', '--batch-size', '1'],
        check=True, capture_output=True, text=True).stdout
    return int(out.split('operations')[1].split()[0])


def _faults(dep, **knobs):
    requests.post(dep.sim_url + '/sim/faults', json=knobs,
                  timeout=10).raise_for_status()


def test_a_purge_while_a_create_runs_removes_only_the_finished(deploy):
    dep = deploy(conductors=2, boot_delay=3)
    mc = helpers.magnum(dep.api_url)
    tmpl = helpers.make_template(mc)
    first = mc.clusters.create(name='done', cluster_template_id=tmpl.uuid,
                               node_count=1)
    helpers.wait_status(mc, first.uuid, 'CREATE_COMPLETE')
    running = mc.clusters.create(name='running',
                                 cluster_template_id=tmpl.uuid, node_count=1)
    # The cloud answers 503 until the purge is done: the flow keeps
    # retrying, so it is certainly running while the purge runs.
    _faults(dep, api_error_rate=1.0)
    helpers.wait_owner_of(dep.db_url, running.uuid)
    assert _purge(dep) == 1
    assert [op['cluster_id'] for op in helpers.operations(dep.db_url)] == [
        running.uuid]
    _faults(dep, api_error_rate=0.0)
    helpers.wait_status(mc, running.uuid, 'CREATE_COMPLETE')
    assert _purge(dep) == 1
    assert helpers.operations(dep.db_url) == []
