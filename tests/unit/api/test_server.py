"""The waitress server helper and the real python-magnumclient."""

from magnumclient import exceptions as mc_exceptions
from magnumclient.v1 import client as mc_client
import pytest

from caas.api import app as api_app
from caas.api import server
from caas.conf import CONF


@pytest.fixture
def running(api, rpc, cloud, drivers):
    srv = server.serve(api_app.build_app(CONF, rpcapi=rpc, cloud=cloud,
                                         find_driver=drivers),
                       '127.0.0.1', 0, threads=2)
    yield srv
    srv.stop()


def test_serve_binds_a_port_and_stops(running):
    assert running.port > 0


def test_magnumclient_round_trip(running, rpc):
    mc = mc_client.Client(endpoint_override=running.url + '/v1',
                          auth_token='unused', api_version='latest')
    tpl = mc.cluster_templates.create(
        name='k8s', coe='kubernetes', image_id='fedora-coreos',
        flavor_id='m1.small', keypair_id='default')
    assert tpl.cluster_distro == 'fedora-coreos'
    created = mc.clusters.create(name='c1', cluster_template_id=tpl.uuid,
                                 node_count=2)
    cluster = mc.clusters.get('c1')
    assert cluster.uuid == created.uuid
    assert cluster.node_count == 2
    assert [c.name for c in mc.clusters.list()] == ['c1']
    assert [s.host for s in mc.mservices.list()] == []
    with pytest.raises(mc_exceptions.NotFound) as err:
        mc.clusters.get('ghost')
    assert 'Cluster ghost could not be found.' in str(err.value)
    with pytest.raises(mc_exceptions.BadRequest) as err:
        mc.clusters.create(name='c2', cluster_template_id=tpl.uuid,
                           node_count=-1)
    assert 'node_count' in str(err.value)
