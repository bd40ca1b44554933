"""``openstack coe credential rotate``: the real CLI (as a process) against
the embedded caas-all (noauth: caas's service user is the trustor), with
the cluster's trustee and trust checked in the simulated Keystone before
and after."""

import microversion_parse
import pytest

from caas.api import microversions
from caas.db import trustees
from tests.functional.test_cluster_config import cli
from tests.integration.helpers import make_template
from tests.integration.helpers import wait_status


@pytest.fixture(autouse=True)
def max_114(monkeypatch):
    """The API in this process serves up to 1.14, as the compat work sets
    it (the CLI asks for "latest"; at 1.10 it gets Magnum's 406)."""
    if microversions.MAX_VERSION < microversions.CREDENTIAL_ROTATION:
        monkeypatch.setattr(microversions, 'MAX_VERSION',
                            microversion_parse.parse_version_string('1.14'))


def test_credential_rotate_replaces_the_trust(aio, mc):
    make_template(mc)
    c = mc.clusters.create(name='demo', cluster_template_id='k8s',
                           master_count=1, node_count=1)
    wait_status(mc, c.uuid, 'CREATE_COMPLETE', timeout=60, poll=0.1)
    old = trustees.current(c.uuid)
    cloud = aio.sim.cloud
    assert set(cloud.data['trusts']) == {old.trust_id}

    out = cli(aio, 'credential', 'rotate', 'demo').stdout
    assert out.strip() == ('Request to rotate credentials for cluster %s '
                           'accepted.' % c.uuid)
    wait_status(mc, c.uuid, 'UPDATE_COMPLETE', timeout=60, poll=0.1)
    new = trustees.current(c.uuid)
    assert new.trust_id != old.trust_id and new.user_id != old.user_id
    assert set(cloud.data['trusts']) == {new.trust_id}
    assert old.user_id not in cloud.data['users']

    mc.clusters.delete('demo')
    wait_status(mc, c.uuid, 'gone', timeout=60, poll=0.1)
    assert cloud.data['trusts'] == {}
    assert new.user_id not in cloud.data['users']
