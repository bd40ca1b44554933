"""The cluster CA key reaches a Swarm stack at create, and nowhere else.

A real engine with SQL persistence builds a swarm_ubuntu_v1 cluster on the
simulated cloud: the conductor hands the CA certificate and key to the
stack (the managers issue their server certificates with it), through the
client that does not log requests, and never logs the key.
"""

import base64
import logging

from caas.common import states
from caas.db import api as db_api
from caas.db import certificates as ca_db
from caas.pki import keystore
from tests.unit.conductor.conftest import make_swarm_cluster
from tests.unit.conductor.conftest import wait_operation


def _params(sim, uuid):
    for stack in sim.cloud.data['stacks'].values():
        if stack['name'] == 'caas-%s' % uuid:
            return stack['param_values']
    raise AssertionError('no stack for %s' % uuid)


def test_the_ca_key_goes_to_the_stack_and_never_to_the_log(
        make_runner, sim, caplog):
    caplog.set_level(logging.DEBUG)
    cluster, op = make_swarm_cluster()
    assert make_runner().claim_and_run(op.id)
    done = wait_operation(op.id)
    assert done.state == states.OP_SUCCEEDED, done.error
    params = _params(sim, cluster.uuid)
    key = base64.b64decode(params['ca_key_b64']).decode()
    assert key.startswith('-----BEGIN PRIVATE KEY-----')
    ca_pem = base64.b64decode(params['ca_cert_b64']).decode()
    assert ca_pem.startswith('-----BEGIN CERTIFICATE-----')
    body = key.splitlines()[1]
    assert body not in caplog.text
    assert params['ca_key_b64'] not in caplog.text
    row = db_api.get_cluster_by_uuid(cluster.uuid, scope=db_api.ALL_PROJECTS)
    assert row.api_address.startswith('tcp://')
    assert row.api_address.endswith(':2376')


def test_a_swarm_cluster_gets_its_ca_from_its_create(make_runner, sim):
    """The API writes no CA: the create makes the one a Swarm cluster
    has, and its stack gets that one."""
    cluster, op = make_swarm_cluster(with_ca=False)
    assert ca_db.list_ca_types(cluster.uuid) == []
    assert make_runner().claim_and_run(op.id)
    done = wait_operation(op.id)
    assert done.state == states.OP_SUCCEEDED, done.error
    row = ca_db.get_ca(cluster.uuid, 'kubernetes')
    assert ca_db.list_ca_types(cluster.uuid) == ['kubernetes']
    params = _params(sim, cluster.uuid)
    assert base64.b64decode(params['ca_cert_b64']).decode() == row.cert_pem
    assert base64.b64decode(params['ca_key_b64']) == keystore.decrypt(
        row.encrypted_key, cluster.uuid)
