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
