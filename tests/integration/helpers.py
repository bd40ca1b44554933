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


def wait_owner(db_url, timeout=30):
    """The conductor that claimed the (only) operation."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ops = operations(db_url)
        if ops and ops[0]['owner']:
            return ops[0]['owner']
        time.sleep(0.1)
    raise AssertionError('no conductor claimed the operation in %ss' % timeout)
