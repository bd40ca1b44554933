"""Client-side helpers for the integration tests (python-magnumclient)."""

import time

import sqlalchemy as sa
from magnumclient import client as magnum_client
from magnumclient import exceptions as mc_exc


def magnum(api_url, project='demo'):
    return magnum_client.Client(
        '1', endpoint_override=api_url + '/v1', auth_token='x',
        api_version='latest')


def make_template(mc, name='k8s'):
    return mc.cluster_templates.create(
        name=name, coe='kubernetes', image_id='ubuntu-jammy',
        flavor_id='m1.small', master_flavor_id='m1.small',
        keypair_id='default', external_network_id='public')


def create_cluster(api_url, name, retry_for=60, **kwargs):
    """Create like a patient client: a 503 (database outage) is retried.

    Before each retry the name is looked up, in case the first attempt was
    committed after all. Returns (cluster uuid, number of 503s seen).
    """
    mc = magnum(api_url)
    deadline = time.monotonic() + retry_for
    unavailable = 0
    while True:
        try:
            return mc.clusters.create(name=name, **kwargs).uuid, unavailable
        except mc_exc.HttpError as exc:
            if getattr(exc, 'http_status', None) != 503 or \
                    time.monotonic() > deadline:
                raise
            unavailable += 1
        time.sleep(0.5)
        try:
            found = [c for c in mc.clusters.list() if c.name == name]
        except mc_exc.HttpError:
            found = []
        if found:
            return found[0].uuid, unavailable


SETTLED = ('CREATE_COMPLETE', 'UPDATE_COMPLETE', 'CREATE_FAILED',
           'UPDATE_FAILED', 'DELETE_FAILED', 'ROLLBACK_COMPLETE',
           'ROLLBACK_FAILED')


def wait_settled(mc, uuids, timeout=240, poll=0.5):
    """Wait until every cluster is *_COMPLETE, *_FAILED or gone, or the
    timeout passes; returns {uuid: status or 'gone'} at that moment."""
    deadline = time.monotonic() + timeout
    while True:
        seen = {}
        for uuid in uuids:
            try:
                seen[uuid] = mc.clusters.get(uuid).status
            except mc_exc.NotFound:
                seen[uuid] = 'gone'
            except mc_exc.HttpError:
                seen[uuid] = 'unreadable'
        if all(s == 'gone' or s in SETTLED for s in seen.values()) or \
                time.monotonic() > deadline:
            return seen
        time.sleep(poll)


def stuck(seen):
    """The clusters of a wait_settled() answer that did not settle."""
    return {u: s for u, s in seen.items()
            if s != 'gone' and s not in SETTLED}


def wait_status(mc, uuid, wanted, timeout=120, poll=0.5):
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        try:
            cluster = mc.clusters.get(uuid)
        except mc_exc.NotFound:
            if wanted == 'gone':
                return None
            raise
        status = cluster.status
        if status == wanted:
            return cluster
        if status.endswith('_FAILED') and wanted != status:
            raise AssertionError('cluster %s is %s: %s' % (
                uuid, status, cluster.status_reason))
        time.sleep(poll)
    raise AssertionError('cluster %s still %s after %ss (wanted %s)' % (
        uuid, status, timeout, wanted))


def operations(db_url):
    engine = sa.create_engine(db_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.text(
                'SELECT id, cluster_id, kind, state, owner, epoch, claims '
                'FROM operations'))]
    finally:
        engine.dispose()


def wait_owner_of(db_url, cluster_uuid, timeout=60):
    """The conductor running the cluster's operation (its flow started)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for op in operations(db_url):
            if op['cluster_id'] == cluster_uuid and op['owner']:
                return op['owner']
        time.sleep(0.1)
    raise AssertionError('nobody claimed the operation of %s in %ss' % (
        cluster_uuid, timeout))


def wait_owner(db_url, timeout=30):
    """The conductor that claimed the (only) operation."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ops = operations(db_url)
        if ops and ops[0]['owner']:
            return ops[0]['owner']
        time.sleep(0.1)
    raise AssertionError('no conductor claimed the operation in %ss' % timeout)
