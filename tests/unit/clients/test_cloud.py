"""The cloud clients' HTTP pool is as large as the threads that use it."""

import concurrent.futures
import logging

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
