"""auth_strategy = keystone: keystonemiddleware validates real tokens issued
by the simulated Keystone, and python-magnumclient finds caas through the
service catalog, as it does on a cloud."""

import pytest
import requests
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3
from magnumclient import client as magnum_client
from magnumclient import exceptions as mc_exc

from tests.integration import helpers

pytestmark = pytest.mark.integration


def _magnum(dep, user, project):
    auth = v3.Password(auth_url=dep.sim_url + '/identity/v3', username=user,
                       password='caas', project_name=project,
                       user_domain_name='Default',
                       project_domain_name='Default')
    return magnum_client.Client('1', session=ks_session.Session(auth=auth),
                                api_version='latest')


def test_tokens_are_validated_and_projects_isolated(deploy):
    dep = deploy(conductors=1, boot_delay=0.2, auth_strategy='keystone')
    assert requests.get(dep.api_url + '/v1/clusters',
                        timeout=10).status_code == 401
    assert requests.get(dep.api_url + '/v1/clusters', timeout=10,
                        headers={'X-Auth-Token': 'forged'}).status_code == 401

    demo = _magnum(dep, 'demo', 'demo')
    tmpl = helpers.make_template(demo)
    cluster = demo.clusters.create(name='mine', cluster_template_id=tmpl.uuid,
                                   node_count=1)
    done = helpers.wait_status(demo, cluster.uuid, 'CREATE_COMPLETE')
    assert done.project_id != 'admin'

    # Another project neither sees nor touches it; admin sees everything.
    other = _magnum(dep, 'caas', 'service')
    assert other.clusters.list() == []
    with pytest.raises(mc_exc.NotFound):
        other.clusters.get(cluster.uuid)
    admin = _magnum(dep, 'admin', 'admin')
    assert [c.uuid for c in admin.clusters.list()] == [cluster.uuid]
