"""The cloud clients' HTTP pool is as large as the threads that use it;
the environment is read once per host."""

import concurrent.futures
import logging

import pytest
import requests

from caas.clients import cloud


def test_the_pool_holds_a_connection_per_flow_worker(conf):
    conf('workers', 48, group='conductor')
    conf('auth_url', 'http://127.0.0.1:9/identity/v3', group='cloud')
    session = cloud.make_session()
    adapter = session.session.get_adapter('http://127.0.0.1:9/')
    assert adapter._pool_maxsize >= 48


def test_as_many_callers_as_workers_do_not_overflow_the_pool(conf, caplog):
    """32 threads calling the simulated cloud at once: no connection is
    opened and thrown away ("Connection pool is full")."""
    from caas.sim.server import SimServer
    srv = SimServer(port=0).start()
    try:
        conf('workers', 32, group='conductor')
        conf('auth_url', srv.auth_url, group='cloud')
        conf('username', 'caas', group='cloud')
        conf('password', 'caas', group='cloud')
        conf('project_name', 'service', group='cloud')
        clients = cloud.CloudClients()
        clients.nova.flavors.list()
        caplog.set_level(logging.WARNING, logger='urllib3.connectionpool')
        with concurrent.futures.ThreadPoolExecutor(32) as pool:
            list(pool.map(lambda _: clients.nova.flavors.list(), range(320)))
    finally:
        srv.stop()
    assert not [r for r in caplog.records if 'pool is full' in r.getMessage()]


@pytest.mark.parametrize('url', ['http://127.0.0.1:8004/v1/p/stacks/x',
                                 'http://127.0.0.2:5000/v3/users',
                                 'https://127.0.0.3/v3'])
@pytest.mark.parametrize('verify', [True, None, False, '/etc/ca.pem'])
def test_the_environment_read_once_gives_what_requests_reads_each_time(
        monkeypatch, url, verify):
    monkeypatch.setenv('HTTP_PROXY', 'http://127.0.0.9:3128')
    monkeypatch.setenv('HTTPS_PROXY', 'http://127.0.0.9:3129')
    monkeypatch.setenv('NO_PROXY', '127.0.0.2')
    monkeypatch.setenv('REQUESTS_CA_BUNDLE', '/etc/bundle.pem')
    once = cloud.EnvironmentReadOnce()
    plain = requests.Session()
    for _ in range(2):  # the second answer comes from what it kept
        assert once.merge_environment_settings(
            url, {}, None, verify, None) == \
            plain.merge_environment_settings(url, {}, None, verify, None)


def test_the_environment_is_read_once_per_host(monkeypatch):
    reads = []
    real = requests.utils.get_environ_proxies

    def counted(url, no_proxy=None):
        reads.append(url)
        return real(url, no_proxy=no_proxy)
    monkeypatch.setattr(requests.utils, 'get_environ_proxies', counted)
    once = cloud.EnvironmentReadOnce()
    for path in ('a', 'b', 'c'):
        once.merge_environment_settings('http://127.0.0.1:8004/' + path,
                                        None, None, True, None)
    once.merge_environment_settings('http://127.0.0.1:5000/', None, None,
                                    True, None)
    assert len(reads) == 2


class _Plugin:
    """An identity plugin whose token and catalog the test changes."""

    def __init__(self):
        self.access = object()
        self.catalog = {'orchestration': 'http://127.0.0.1:8004/v1/p'}
        self.lookups = 0

    def get_access(self, session):
        return self.access

    def get_endpoint(self, session, service_type=None, **kwargs):
        self.lookups += 1
        return self.catalog.get(service_type)


def test_an_endpoint_is_looked_up_once_per_token():
    plugin = _Plugin()
    session = cloud.session_for(plugin)
    for _ in range(3):
        assert session.get_endpoint(service_type='orchestration',
                                    interface='public') == \
            'http://127.0.0.1:8004/v1/p'
    assert plugin.lookups == 1
    # Other filters are another answer.
    assert session.get_endpoint(service_type='compute') is None
    assert plugin.lookups == 2
    # A new token (renewed, or after a 401) may carry another catalog.
    plugin.access = object()
    plugin.catalog['orchestration'] = 'http://127.0.0.2:8004/v1/p'
    assert session.get_endpoint(service_type='orchestration',
                                interface='public') == \
        'http://127.0.0.2:8004/v1/p'
    assert plugin.lookups == 3


def test_an_endpoint_not_found_is_looked_up_again():
    plugin = _Plugin()
    session = cloud.session_for(plugin)
    assert session.get_endpoint(service_type='network') is None
    plugin.catalog['network'] = 'http://127.0.0.1:9696'
    assert session.get_endpoint(service_type='network') == \
        'http://127.0.0.1:9696'


def test_another_plugin_override_or_unhashable_filters_are_not_kept():
    plugin, other = _Plugin(), _Plugin()
    other.catalog['orchestration'] = 'http://127.0.0.3:8004/v1/p'
    session = cloud.session_for(plugin)
    session.get_endpoint(service_type='orchestration')
    assert session.get_endpoint(other, service_type='orchestration') == \
        'http://127.0.0.3:8004/v1/p'
    assert session.get_endpoint(endpoint_override='http://127.0.0.4/x',
                                service_type='orchestration') == \
        'http://127.0.0.4/x'
    for _ in range(2):
        session.get_endpoint(service_type='orchestration', allow={})
    assert plugin.lookups == 3


def test_the_kept_endpoints_are_bounded():
    plugin = _Plugin()
    session = cloud.session_for(plugin)
    for i in range(cloud.EndpointsPerToken.LIMIT * 3):
        session.get_endpoint(service_type='orchestration', region_name=str(i))
    assert len(session._endpoints) <= cloud.EndpointsPerToken.LIMIT


def test_heat_asks_the_catalog_once_per_token(conf, monkeypatch):
    """Against the simulated cloud: the stack requests of one token find
    Heat in the catalog once, the same endpoint keystoneauth finds; after
    the token is invalidated they find it again."""
    from keystoneauth1.access import service_catalog
    from caas.sim.server import SimServer
    srv = SimServer(port=0).start()
    try:
        conf('auth_url', srv.auth_url, group='cloud')
        conf('username', 'caas', group='cloud')
        conf('password', 'caas', group='cloud')
        conf('project_name', 'service', group='cloud')
        clients = cloud.CloudClients()
        normalized = []
        real = service_catalog.ServiceCatalog.normalize_catalog
        monkeypatch.setattr(
            service_catalog.ServiceCatalog, 'normalize_catalog',
            lambda self: normalized.append(1) or real(self))
        for _ in range(3):
            list(clients.heat.stacks.list())
        assert len(normalized) == 1
        # What was kept is what keystoneauth finds itself.
        [(_, filters)] = clients.session._endpoints
        [(_, _, kept)] = clients.session._endpoints.values()
        assert kept == clients.session.auth.get_endpoint(
            clients.session, **dict(filters))
        assert len(normalized) == 2
        clients.session.invalidate()
        list(clients.heat.stacks.list())
        assert len(normalized) == 3
    finally:
        srv.stop()
