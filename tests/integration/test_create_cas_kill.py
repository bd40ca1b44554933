"""A cluster's CAs across processes: ``kill -9`` of the conductor whose
create wrote them, before its stack step ended; the certificates API before
and after."""

import time

import pytest
import requests
import sqlalchemy as sa

from tests.integration import helpers

pytestmark = pytest.mark.integration


def _cas(db_url, cluster_uuid):
    engine = sa.create_engine(db_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(
                'SELECT ca_type, cert_pem, encrypted_key FROM cluster_cas '
                'WHERE cluster_uuid = :c ORDER BY id'), {'c': cluster_uuid})]
    finally:
        engine.dispose()


def _stack_id(db_url, cluster_uuid):
    engine = sa.create_engine(db_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(
                'SELECT stack_id FROM clusters WHERE uuid = :c'),
                {'c': cluster_uuid}).scalar()
    finally:
        engine.dispose()


def _faults(dep, **knobs):
    requests.post(dep.sim_url + '/sim/faults', json=knobs,
                  timeout=10).raise_for_status()


def test_kill_9_after_the_cas_committed_leaves_one_set(deploy):
    """The cloud answers the stack's create slowly: the conductor is killed
    with its CAs committed and its stack step still running; the one that
    takes over finds them, and the cluster ends with that one set, served
    by the certificates API (409 before the CAs were made)."""
    dep = deploy(conductors=2, boot_delay=0.5)
    mc = helpers.magnum(dep.api_url)
    tmpl = helpers.make_template(mc)
    cluster = mc.clusters.create(name='c1', cluster_template_id=tmpl.uuid,
                                 node_count=1)
    # Heat and Nova answer after 6 s from now on (Keystone at once).
    _faults(dep, api_latency=6)
    deadline = time.monotonic() + 60
    before, refused = [], 0
    while not before and time.monotonic() < deadline:
        resp = requests.get(dep.api_url + '/v1/certificates/%s'
                            % cluster.uuid, timeout=10)
        before = _cas(dep.db_url, cluster.uuid)
        if not before:
            # Not made yet: a 409 naming the cluster, never 404 or 500.
            assert resp.status_code == 409, resp.text
            assert cluster.uuid in resp.json()['errors'][0]['detail']
            refused += 1
        time.sleep(0.05)
    assert [t for t, _c, _k in before] == ['kubernetes', 'etcd',
                                           'front_proxy']
    print('409 before the CAs: %d times' % refused)
    # Its stack step runs: its create request is with the slow cloud.
    assert _stack_id(dep.db_url, cluster.uuid) is None
    owner = helpers.wait_owner_of(dep.db_url, cluster.uuid)
    dep.kill(owner)
    _faults(dep, api_latency=0)
    done = helpers.wait_status(mc, cluster.uuid, 'CREATE_COMPLETE',
                               timeout=120)
    assert done.status == 'CREATE_COMPLETE'
    [op] = helpers.operations(dep.db_url)
    assert op['owner'] != owner and op['claims'] == 2
    assert _cas(dep.db_url, cluster.uuid) == before
    served = mc.certificates.get(cluster_uuid=cluster.uuid).pem.strip()
    assert served == before[0][1].strip()
    assert dep.sim_state()['counts']['stacks'] == 1
