"""COE health probes against local HTTPS stand-ins whose certificates the
cluster's CA signed: Magnum's health_status_reason shape, TLS checked both
ways, the probe going only to the cluster's API address, and a hung API
server costing a bounded wait, never the watcher."""

import socket
import types

import pytest
import sqlalchemy as sa
from cryptography import fernet

from caas.common import states
from caas.conductor import health
from caas.conductor import monitors
from caas.conductor.monitors import schedule
from caas.conductor.monitors import tls
from caas.db.sqlalchemy import engine
from caas.db.sqlalchemy import models
from caas.pki import authority
from tests.unit.conductor import coe_standin
from tests.unit.conductor.conftest import make_cluster
from tests.unit.conductor.conftest import wait_for


@pytest.fixture
def pki(db, conf):
    conf('encryption_keys', [fernet.Fernet.generate_key().decode()],
         group='pki')
    conf('probe_timeout', 0.5, group='health')


@pytest.fixture
def standins():
    made = []

    def _make(cluster_uuid, routes, n, hang=False, server_ca=None):
        ca_pem, ca_key = coe_standin.cluster_ca(cluster_uuid)
        srv_pem, srv_key = server_ca or (ca_pem, ca_key)
        s = coe_standin.StandIn(coe_standin.free_loopback(n), ca_pem,
                                srv_pem, srv_key, routes, hang=hang)
        made.append(s.start())
        return s

    yield _make
    for s in made:
        s.stop()


def with_ca(coe='kubernetes'):
    cluster, _op = make_cluster()
    rows = authority.new_cas(cluster.uuid, ['kubernetes'])
    with engine.session_scope() as session:
        session.execute(sa.insert(models.ClusterCA),
                        [dict(r, cluster_uuid=cluster.uuid) for r in rows])
    tls.forget(cluster.uuid)
    return cluster.uuid


def test_a_healthy_kubernetes_cluster_in_magnums_shape(pki, standins):
    uuid = with_ca()
    api = standins(uuid, coe_standin.k8s_routes(
        {'m-0': 'True', 'w-0': 'True'}), 1)
    result = monitors.probe(uuid, 'kubernetes', api.url())
    assert result.status == states.HEALTHY
    assert result.reason == {'api': 'ok', 'm-0.Ready': 'True',
                             'w-0.Ready': 'True'}
    # The stand-in required a client certificate of the cluster's CA.
    assert api.requests == [('/healthz', 'caas-health-monitor'),
                            ('/api/v1/nodes', 'caas-health-monitor')]


def test_a_node_not_ready_makes_the_cluster_unhealthy(pki, standins):
    uuid = with_ca()
    api = standins(uuid, coe_standin.k8s_routes(
        {'w-0': 'True', 'w-1': 'False', 'w-2': 'Unknown'}), 2)
    result = monitors.probe(uuid, 'kubernetes', api.url())
    assert result.status == states.UNHEALTHY
    assert result.unhealthy == {'w-1', 'w-2'}
    assert result.reason['w-1.Ready'] == 'False'


def test_an_api_that_is_not_ok_is_unhealthy(pki, standins):
    uuid = with_ca()
    api = standins(uuid, {'/healthz': (500, b'[-]etcd failed')}, 3)
    result = monitors.probe(uuid, 'kubernetes', api.url())
    assert result.status == states.UNHEALTHY
    assert result.reason == {'api': 'HTTP 500: [-]etcd failed'}


def test_a_server_certificate_of_another_ca_is_refused(pki, standins):
    uuid = with_ca()
    other_pem, other_key = authority.make_ca('someone-else', 'kubernetes')
    from cryptography.hazmat.primitives import serialization
    api = standins(uuid, coe_standin.k8s_routes({'w-0': 'True'}), 4,
                   server_ca=(other_pem, serialization.load_pem_private_key(
                       other_key, password=None)))
    result = monitors.probe(uuid, 'kubernetes', api.url())
    assert result.status == states.UNKNOWN
    assert 'certificate verify failed' in result.reason['api']
    assert api.requests == []


def test_a_swarm_node_that_is_down_is_reported(pki, standins):
    uuid = with_ca()
    api = standins(uuid, coe_standin.swarm_routes(
        {'mgr-0': 'ready', 'wrk-0': 'down'}), 5)
    result = monitors.probe(uuid, 'swarm-mode', api.url('tcp'))
    assert result.status == states.UNHEALTHY
    assert result.reason == {'api': 'ok', 'mgr-0.Ready': 'True',
                             'wrk-0.Ready': 'False'}
    assert result.unhealthy == {'wrk-0'}
    assert [p for p, _cn in api.requests] == ['/_ping', '/nodes']


def test_the_probe_goes_to_the_clusters_api_address_only(pki, standins):
    uuid = with_ca()
    routes = coe_standin.k8s_routes({'w-0': 'True'})
    decoys = [standins(uuid, routes, n) for n in (6, 7, 8)]
    target = standins(uuid, routes, 9)
    assert monitors.probe(uuid, 'kubernetes',
                          target.url()).status == states.HEALTHY
    assert len(target.requests) == 2
    assert all(d.connections == 0 for d in decoys)


def test_an_address_outside_the_probe_networks_gets_no_packet(
        pki, conf, monkeypatch):
    uuid = with_ca()
    conf('probe_networks', ['127.0.0.0/8'], group='health')
    dialed = []
    monkeypatch.setattr(socket, 'create_connection',
                        lambda *a, **kw: dialed.append(a))
    for address in ('https://10.1.2.3:6443', 'https://api.example.com',
                    'https://[2001:db8::1]:6443'):
        result = monitors.probe(uuid, 'kubernetes', address)
        assert result.status == states.UNKNOWN
        assert 'outside [health] probe_networks' in result.reason['api']
    assert dialed == []


def test_an_api_that_refuses_is_unknown_not_unhealthy(pki):
    uuid = with_ca()
    host = coe_standin.free_loopback(10)
    with socket.socket() as sock:
        sock.bind((host, 0))
        port = sock.getsockname()[1]
    result = monitors.probe(uuid, 'kubernetes', 'https://%s:%d' % (host,
                                                                    port))
    assert result.status == states.UNKNOWN
    assert result.reason['api'].startswith('unreachable: ')


def test_a_hung_api_server_stalls_neither_the_watcher_nor_other_probes(
        pki, standins, sim):
    """Two probe workers, one cluster whose API accepts and never
    answers: the other clusters' probes still end, the hung one ends
    UNKNOWN after its timeout, and a watcher pass does not wait for it."""
    hung_uuid, ok_uuid = with_ca(), with_ca()
    hung = standins(hung_uuid, {}, 11, hang=True)
    ok = standins(ok_uuid, coe_standin.k8s_routes({'w-0': 'True'}), 12)
    targets = [types.SimpleNamespace(uuid=hung_uuid, coe='kubernetes',
                                     api_address=hung.url()),
               types.SimpleNamespace(uuid=ok_uuid, coe='kubernetes',
                                     api_address=ok.url())]
    probes = schedule.ProbeScheduler(
        2, 2, lambda t: monitors.probe(t.uuid, t.coe, t.api_address))
    probes.set_targets(targets)
    for slot in range(probes.slots):
        probes.run_slot(slot)
    assert wait_for(lambda: probes.result(ok_uuid, 60))
    assert probes.result(ok_uuid, 60).status == states.HEALTHY
    # A pass over the settled clusters while the hung probe is in flight.
    watcher = health.Watcher(2, probes=probes)
    from caas.clients import cloud
    health.run_once('c1', cloud.CloudClients(), 2, ['c1'], watcher=watcher)
    hung_result = wait_for(lambda: probes.result(hung_uuid, 60), timeout=10)
    assert hung_result.status == states.UNKNOWN
    assert 'timed out' in hung_result.reason['api']
    assert hung.connections >= 1 and hung.requests == []
    probes.stop()
