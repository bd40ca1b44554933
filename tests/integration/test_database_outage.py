"""PostgreSQL restarts and outages under a running deployment.

The database is the coordination point: when it goes away every conductor
loses its grip at once. Nothing may stay *_IN_PROGRESS afterwards, the API
answers 503 (not 500) while it is down, and recovers without a restart.
"""

import concurrent.futures
import time

import pytest
import requests

from tests.integration import conftest
from tests.integration import helpers

pytestmark = pytest.mark.integration


def test_the_api_answers_503_while_the_database_is_down_and_recovers(deploy):
    dep = deploy(conductors=1, boot_delay=0.2)
    url = dep.api_url + '/v1/clusters'
    assert requests.get(url, timeout=10).status_code == 200
    api_pid = dep.procs['api'].pid
    try:
        conftest.postgres('stop-pg')
        resp = requests.get(url, timeout=30)
        assert resp.status_code == 503
        err = resp.json()['errors'][0]
        assert err['status'] == 503 and err['code'] == 'server'
        assert 'database is unavailable' in err['title']
    finally:
        conftest.postgres('start-pg')
    deadline = time.monotonic() + 30
    status = None
    while time.monotonic() < deadline and status != 200:
        status = requests.get(url, timeout=10).status_code
        time.sleep(0.2)
    assert status == 200
    # The same process: it recovered by itself.
    assert dep.alive('api') and dep.procs['api'].pid == api_pid


def test_a_database_restart_amid_creates_and_deletes_leaves_none_stuck(
        deploy):
    dep = deploy(conductors=2, boot_delay=2)
    mc = helpers.magnum(dep.api_url)
    tmpl = helpers.make_template(mc)
    n = 24
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(helpers.create_cluster, dep.api_url,
                               'pg-%02d' % i, cluster_template_id=tmpl.uuid,
                               master_count=1, node_count=1)
                   for i in range(n)]
        time.sleep(1.5)
        conftest.postgres('restart-pg')
        created = [f.result() for f in futures]
    uuids = [u for u, _ in created]
    in_flight = sum(1 for op in helpers.operations(dep.db_url)
                    if op['state'] in ('PENDING', 'RUNNING'))
    seen = helpers.wait_settled(mc, uuids)
    assert helpers.stuck(seen) == {}
    assert set(seen.values()) == {'CREATE_COMPLETE'}, seen

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda u: helpers.magnum(dep.api_url).clusters.delete(u),
                      uuids))
    time.sleep(0.5)
    try:
        conftest.postgres('stop-pg')
        time.sleep(3)
    finally:
        conftest.postgres('start-pg')
    seen = helpers.wait_settled(mc, uuids)
    assert helpers.stuck(seen) == {}
    assert set(seen.values()) == {'gone'}, seen
    assert [op for op in helpers.operations(dep.db_url)
            if op['state'] in ('PENDING', 'RUNNING')] == []
    assert dep.sim_state()['counts']['stacks'] == 0
    print('\n%d creates (%d unfinished after the restart, %d 503s), '
          '%d deletes across a 3 s outage: 0 stuck' % (
              n, in_flight, sum(c for _, c in created), n))
