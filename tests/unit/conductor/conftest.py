"""A simulated cloud and a flow runner for conductor tests."""

import time

import pytest
from cryptography import fernet

from caas.clients import cloud
from caas.common import states
from caas.conductor import engine
from caas.db import api as db_api
from caas.sim.server import SimServer

PKI_KEY = fernet.Fernet.generate_key().decode()


@pytest.fixture
def sim(conf):
    srv = SimServer(port=0, server_boot_delay=0.3, resource_delay=0.01,
                    delete_delay=0.05).start()
    conf('auth_url', srv.auth_url, group='cloud')
    conf('username', 'caas', group='cloud')
    conf('password', 'caas', group='cloud')
    conf('project_name', 'service', group='cloud')
    conf('stack_poll_initial', 0.02, group='conductor')
    conf('stack_poll_max', 0.2, group='conductor')
    # The trustee passwords are encrypted like the CA keys.
    conf('encryption_keys', [PKI_KEY], group='pki')
    yield srv
    srv.stop()


@pytest.fixture
def make_runner(db, sim):
    runners = []

    def _make(host='c1'):
        r = engine.FlowRunner(host, cloud.CloudClients(), workers=4)
        runners.append(r)
        return r

    yield _make
    for r in runners:
        r.shutdown(wait=True, timeout=10)


def make_cluster(driver='fake', node_count=2, image='ubuntu-jammy',
                 distro='ubuntu', create_timeout=5, labels=None):
    tmpl = db_api.create_cluster_template({
        'name': 't', 'coe': 'kubernetes', 'image_id': image,
        'project_id': 'p1', 'server_type': 'vm', 'cluster_distro': distro,
        'flavor_id': 'm1.small', 'master_flavor_id': 'm1.small',
        'keypair_id': 'default', 'external_network_id': 'public',
        'driver': driver, 'labels': {}})
    return db_api.create_cluster(
        {'name': 'c', 'project_id': 'p1', 'cluster_template_id': tmpl.uuid,
         'node_count': node_count, 'master_count': 1, 'keypair': 'default',
         'flavor_id': 'm1.small', 'master_flavor_id': 'm1.small',
         'create_timeout': create_timeout, 'labels': dict(labels or {})},
        [{'name': 'default-master', 'role': 'master', 'node_count': 1,
          'flavor_id': 'm1.small', 'image_id': image, 'is_default': True},
         {'name': 'default-worker', 'role': 'worker',
          'node_count': node_count, 'flavor_id': 'm1.small',
          'image_id': image, 'is_default': True}],
        timeout_minutes=create_timeout)



def make_swarm_cluster(workers=1, with_ca=True):
    """A swarm-mode cluster (1 master, `workers` workers) and its create
    operation; its CAs unless with_ca is false."""
    from caas.pki import authority
    tmpl = db_api.create_cluster_template({
        'name': 'sw', 'coe': 'swarm-mode', 'image_id': 'ubuntu-jammy',
        'project_id': 'p1', 'server_type': 'vm', 'cluster_distro': 'ubuntu',
        'flavor_id': 'm1.small', 'master_flavor_id': 'm1.small',
        'keypair_id': 'default', 'external_network_id': 'public',
        'network_driver': 'docker', 'labels': {}})
    uuid = db_api.new_uuid()
    groups = [{'name': 'default-master', 'role': 'master', 'node_count': 1,
               'flavor_id': 'm1.small', 'image_id': 'ubuntu-jammy',
               'is_default': True},
              {'name': 'default-worker', 'role': 'worker',
               'node_count': workers, 'flavor_id': 'm1.small',
               'image_id': 'ubuntu-jammy', 'is_default': True}]
    return db_api.create_cluster(
        {'uuid': uuid, 'name': 'sw1', 'project_id': 'p1',
         'cluster_template_id': tmpl.uuid, 'node_count': workers,
         'master_count': 1, 'keypair': 'default', 'flavor_id': 'm1.small',
         'master_flavor_id': 'm1.small', 'create_timeout': 5,
         'labels': {}}, groups, timeout_minutes=5,
        cas=authority.new_cas(uuid, ('kubernetes',)) if with_ca else ())

def wait_operation(op_id, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        op = db_api.get_operation(op_id)
        if op.state not in states.OP_UNFINISHED:
            return op
        time.sleep(0.05)
    raise AssertionError('operation %s still %s' % (op_id, op.state))


def taken_over(second, op_id, timeout=30):
    """``second`` takes over the operation that its first owner (``first``,
    epoch 1) holds and runs it to success; the finished operation."""
    assert second.claim_and_run(op_id, expect_owner='first', expect_epoch=1)
    done = wait_operation(op_id, timeout)
    assert done.state == states.OP_SUCCEEDED, done.error
    return done


def wait_for(predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError('condition not met in %ss' % timeout)
