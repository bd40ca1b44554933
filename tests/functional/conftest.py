"""The embedded all-in-one (caas-all) in this process, on free ports."""

import pytest
from magnumclient import client as magnum_client

from caas.cmd import all as caas_all
from caas.conf import CONF
from caas.db.sqlalchemy import engine


@pytest.fixture
def aio(tmp_path, conf):
    conf('stack_poll_initial', 0.05, group='conductor')
    conf('stack_poll_max', 0.3, group='conductor')
    node = caas_all.AllInOne('127.0.0.1', 0, str(tmp_path), sim_port=0,
                             sim_knobs={'server_boot_delay': 0.3,
                                        'delete_delay': 0.1}).start()
    yield node
    node.stop()
    engine.dispose()
    for name, group in (('transport_url', None), ('auth_strategy', None),
                        ('state_path', None), ('connection', 'database'),
                        ('auth_url', 'cloud'), ('username', 'cloud'),
                        ('password', 'cloud'), ('project_name', 'cloud'),
                        ('encryption_keys', 'pki')):
        CONF.clear_override(name, group=group)


@pytest.fixture
def mc(aio):
    return magnum_client.Client('1', endpoint_override=aio.api_url + '/v1',
                                auth_token='anything', api_version='latest')
