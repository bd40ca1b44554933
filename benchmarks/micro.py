"""Small in-process figures: TaskFlow's cost per task with SQL persistence
and the SQL statements each kind of API request sends to the server.

* taskflow: a linear flow of N no-op tasks run by TaskFlow's serial engine,
  once with caas's SQL persistence (the conductor's backend on the
  configured database) and once in memory; the difference per task is what
  persistence costs a task.
* statements: list, show and create requests through the WSGI app (fakes
  for the cloud and RPC, as the unit tests), counted on the wire: the
  driver's BEGIN/COMMIT, pings and SETs included.
* create parts: this process's CPU per call of two parts of a cluster
  create, alone: ``db.create_cluster`` (the rows of a create as the API
  writes them: two nodegroups, three CAs, the operation, the quota check)
  and ``authority.new_cas`` (three CAs, keys sealed).
* cast parts (with ``CAAS_TEST_TRANSPORT_URL``, RabbitMQ): this process's
  CPU and wall time per ``ConductorAPI.cluster_create`` cast as the API
  sends it (to a topic of its own that nothing consumes: the broker drops
  the messages), and of caas's own share of it: the message's schema
  check, ``prepare`` and the version check; the rest is oslo.messaging,
  kombu and py-amqp, the publisher confirm's wait included.

    .venv/bin/python benchmarks/micro.py [--tasks 200]

Prints figures; asserts nothing about time.
"""

import argparse
import os
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

import harness  # noqa: E402


def _use_database(url):
    from caas.conf import CONF
    from caas.db import migration
    from caas.db.sqlalchemy import engine
    CONF.set_override('connection', url, group='database')
    engine.dispose()
    migration.upgrade()


def taskflow_cost(url, tasks=200):
    import taskflow.engines
    from taskflow import task
    from taskflow.patterns import linear_flow
    from taskflow.persistence import models as tf_models

    from caas.conductor import engine as cengine

    class Noop(task.Task):
        def execute(self):
            return None

    def flow():
        return linear_flow.Flow('bench').add(
            *[Noop('t%d' % i) for i in range(tasks)])

    _use_database(url)
    backend = cengine.make_backend()
    conn = backend.get_connection()
    book = tf_models.LogBook('bench-%s' % uuid.uuid4().hex[:8])
    detail = tf_models.FlowDetail('bench', uuid=str(uuid.uuid4()))
    book.add(detail)
    conn.save_logbook(book)
    start = time.perf_counter()
    taskflow.engines.load(flow(), flow_detail=detail, book=book,
                          backend=backend, engine='serial').run()
    persisted = time.perf_counter() - start
    start = time.perf_counter()
    taskflow.engines.load(flow(), engine='serial').run()
    memory = time.perf_counter() - start
    return {'tasks': tasks,
            'persisted_ms_per_task': round(persisted / tasks * 1000, 2),
            'memory_ms_per_task': round(memory / tasks * 1000, 2)}


def statements(url, label):
    """{request kind: statements on the wire} through the API."""
    from caas.api import app as api_app
    from caas.common import policy
    from caas.conf import CONF
    from caas.db.sqlalchemy import engine
    from tests.unit.api import conftest as api_fixtures
    from tests.unit.api import test_statements as wire

    _use_database(url)
    engine.dispose()
    for readonly in (False, True):
        wire._wire_counting(engine.get_engine(readonly))
    # The list's one statement runs on this engine (PostgreSQL).
    wire._wire_counting(engine.get_autocommit_engine())
    CONF.set_override('auth_strategy', 'noauth')
    CONF.set_override('validate_references', True, group='cloud')
    # A create makes the cluster's CAs, whose keys are sealed with it.
    CONF.set_override('encryption_keys', [api_fixtures.PKI_KEY], group='pki')
    policy.reset()

    def find_driver(*_args, **_kwargs):
        from caas.drivers.fake import driver as fake_driver
        return fake_driver.FakeDriver()
    api = api_fixtures.Api(api_app.build_app(
        CONF, rpcapi=api_fixtures.FakeRpc(), cloud=api_fixtures.FakeCloud(),
        find_driver=find_driver))
    hdr = api_fixtures.PROJECT_A
    tmpl = api.post('/v1/clustertemplates', api_fixtures.template_body(),
                    headers=hdr).json_body['uuid']
    uuids = [api.post('/v1/clusters', {'name': 'c%d' % i,
                                       'cluster_template_id': tmpl},
                      headers=hdr).json_body['uuid'] for i in range(5)]
    kinds = {
        'list': lambda: api.get('/v1/clusters', headers=hdr),
        'show': lambda: api.get('/v1/clusters/%s' % uuids[0], headers=hdr),
        'templates': lambda: api.get('/v1/clustertemplates', headers=hdr),
        'create': lambda: api.post('/v1/clusters', {
            'name': 'n%s' % uuid.uuid4().hex[:6],
            'cluster_template_id': tmpl}, headers=hdr),
    }
    out = {}
    for kind, call in kinds.items():
        call()
        with wire.wire() as log:
            call()
        out['%s_%s' % (label, kind)] = len(log)
    CONF.clear_override('auth_strategy')
    CONF.clear_override('validate_references', group='cloud')
    CONF.clear_override('encryption_keys', group='pki')
    engine.dispose()
    return out


def create_parts(url, creates=300):
    """{part: microseconds of this process's CPU per call}."""
    from caas.conf import CONF
    from caas.db import api as db_api
    from caas.db import quotas
    from caas.db.sqlalchemy import engine
    from caas.pki import authority
    from caas.pki import keystore

    _use_database(url)
    engine.dispose()
    CONF.set_override('encryption_keys', [keystore.generate_key()],
                      group='pki')
    tmpl = db_api.create_cluster_template({
        'name': 'parts', 'coe': 'kubernetes', 'image_id': 'i',
        'project_id': 'p1', 'server_type': 'vm'})
    types = ('kubernetes', 'etcd', 'front_proxy')
    cas = authority.new_cas(str(uuid.uuid4()), types)

    def create(i):
        labels = {'kube_tag': 'v1.30', 'a': 'b'}
        common = {'image_id': 'i', 'is_default': True,
                  'docker_volume_size': None, 'labels': labels}
        db_api.create_cluster(
            {'name': 'p%d' % i, 'project_id': 'p1', 'user_id': 'u1',
             'cluster_template_id': tmpl.uuid, 'node_count': 1,
             'master_count': 1, 'labels': labels, 'keypair': 'k',
             'flavor_id': 'f', 'master_flavor_id': 'f',
             'floating_ip_enabled': True, 'master_lb_enabled': False,
             'create_timeout': 60, 'uuid': str(uuid.uuid4())},
            [dict(common, name='default-master', role='master',
                  node_count=1, flavor_id='f', min_node_count=1),
             dict(common, name='default-worker', role='worker',
                  node_count=1, flavor_id='f', min_node_count=0)],
            timeout_minutes=60, request_id='req-parts', cas=cas,
            quota_check=quotas.cluster_quota_check(10 ** 6),
            op_params={'trustor': 'x' * 200})

    def cpu_us(call, count):
        for i in range(20):
            call(-1 - i)
        start = time.process_time()
        for i in range(count):
            call(i)
        return round((time.process_time() - start) / count * 1e6, 1)
    out = {'db_create_cluster_us': cpu_us(create, creates),
           'new_cas_3_us': cpu_us(
               lambda i: authority.new_cas(str(uuid.uuid4()), types),
               creates)}
    CONF.clear_override('encryption_keys', group='pki')
    engine.dispose()
    return out


def cast_parts(transport_url, casts=1000):
    """{part: microseconds per call}: CPU (``*_us``) and wall
    (``*_wall_us``) of the API's cast of a cluster create."""
    import rpc_schemas
    from caas.common import context
    from caas.common import rpc
    from caas.conductor import rpcapi
    from caas.conf import CONF

    CONF.set_override('transport_url', transport_url)
    CONF.set_override('topic', 'bench-micro-%d' % os.getpid(),
                      group='conductor')
    rpc.cleanup()
    api = rpcapi.ConductorAPI()
    ctx = context.RequestContext(project_id='p1', user_id='u1')
    cluster = str(uuid.uuid4())
    request_id = 'req-%s' % cluster
    kwargs = {'cluster_uuid': cluster, 'operation_id': cluster,
              'request_id': request_id}

    def timed(call, count):
        for _ in range(20):
            call()
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(count):
            call()
        return (round((time.process_time() - cpu) / count * 1e6, 1),
                round((time.perf_counter() - wall) / count * 1e6, 1))
    try:
        cast_cpu, cast_wall = timed(lambda: api.cluster_create(
            ctx, cluster, str(uuid.uuid4()), request_id=request_id), casts)
        out = {'cast_us': cast_cpu, 'cast_wall_us': cast_wall,
               'schema_check_us': timed(lambda: rpc_schemas.validate(
                   'cluster_create', kwargs), casts)[0],
               'prepare_us': timed(lambda: api.client.prepare(
                   version='1.1', retry=rpcapi.CAST_RETRIES), casts)[0],
               'version_check_us': timed(
                   lambda: api.client.can_send_version('1.1'), casts)[0]}
    finally:
        rpc.cleanup()
        CONF.clear_override('topic', group='conductor')
        CONF.clear_override('transport_url')
    return out


def run(tasks=200, pg_admin=None, out=print, transport_url=None):
    harness.init_config()
    rows = {}
    tmp = tempfile.mkdtemp(prefix='caas-bench-micro-')
    urls = [('sqlite', 'sqlite:///%s/m.sqlite' % tmp)]
    if pg_admin:
        from tests.integration import deployment
        urls.append(('postgresql', deployment.create_database(pg_admin)))
    for label, url in urls:
        rows['taskflow_%s' % label] = taskflow_cost(url, tasks)
        out('taskflow %s: %s' % (label, rows['taskflow_%s' % label]))
        st = statements(url, label)
        rows.setdefault('sql_statements', {}).update(st)
        out('statements %s: %s' % (label, st))
        parts = rows['create_parts_%s' % label] = create_parts(url)
        out('create parts %s (CPU per call): %s' % (label, parts))
    if transport_url:
        rows['cast_parts'] = cast_parts(transport_url)
        out('cast parts (per cast): %s' % rows['cast_parts'])
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--tasks', type=int, default=200)
    args = parser.parse_args(argv)
    run(args.tasks, os.environ.get('CAAS_TEST_DB_URL'),
        transport_url=os.environ.get('CAAS_TEST_TRANSPORT_URL'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
