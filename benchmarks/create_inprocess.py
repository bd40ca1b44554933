"""POST /v1/clusters in process: CPU per create, optionally a cProfile.

The WSGI app (its whole middleware stack, noauth) on a fresh PostgreSQL
database, casting to RabbitMQ (``tools/services.sh start``), with the
unit tests' in-memory cloud in place of Nova (no HTTP for the reference
checks): what the API's own code costs per create, one thread, no
waitress and no other process in the way.

    eval "$(tools/services.sh start)"
    .venv/bin/python benchmarks/create_inprocess.py [--creates 200] [--profile]

Prints figures; asserts nothing about time.
"""

import argparse
import cProfile
import os
import pstats
import sys
import time

from cryptography import fernet

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

from caas.api import app as api_app  # noqa: E402
from caas.conf import CONF  # noqa: E402
from caas.db import migration  # noqa: E402
from caas.db.sqlalchemy import engine  # noqa: E402
from tests.integration import deployment  # noqa: E402
from tests.unit.api import conftest as api_fixtures  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--creates', type=int, default=200)
    parser.add_argument('--profile', action='store_true',
                        help='then as many creates again under cProfile (CPU time)')
    args = parser.parse_args(argv)
    CONF([], project='caas')
    CONF.set_override('connection', deployment.create_database(
        os.environ['CAAS_TEST_DB_URL']), group='database')
    CONF.set_override('transport_url', os.environ['CAAS_TEST_TRANSPORT_URL'])
    CONF.set_override('auth_strategy', 'noauth')
    CONF.set_override('validate_references', True, group='cloud')
    CONF.set_override('encryption_keys',
                      [fernet.Fernet.generate_key().decode()], group='pki')
    CONF.set_override('max_clusters_per_project', 10 ** 6, group='quotas')
    engine.dispose()
    migration.upgrade()
    engine.dispose()
    api = api_fixtures.Api(api_app.build_app(
        CONF, cloud=api_fixtures.FakeCloud()))
    headers = dict(api_fixtures.PROJECT_A, **api_fixtures.LATEST)
    resp = api.post('/v1/clustertemplates',
                    api_fixtures.template_body(image_id='ubuntu'),
                    headers=headers)
    template = resp.json_body['uuid']

    def creates(count, tag):
        for i in range(count):
            r = api.post('/v1/clusters', {'name': '%s%d' % (tag, i),
                                          'cluster_template_id': template},
                         headers=headers)
            assert r.status_code == 202, r.json_body

    creates(20, 'warm')     # connections, caches, compiled statements
    cpu, wall = time.process_time(), time.perf_counter()
    creates(args.creates, 'c')
    print('create in process: %.2f ms CPU, %.2f ms wall per create (%d)' % (
        (time.process_time() - cpu) * 1000 / args.creates,
        (time.perf_counter() - wall) * 1000 / args.creates, args.creates))
    if args.profile:
        # CPU time, not wall: what the create costs the process.
        profile = cProfile.Profile(time.process_time)
        profile.enable()
        creates(args.creates, 'p')
        profile.disable()
        if os.environ.get('PROFILE_OUT'):
            profile.dump_stats(os.environ['PROFILE_OUT'])
        pstats.Stats(profile).sort_stats(os.environ.get('SORT', 'cumulative')).print_stats(int(os.environ.get('LINES', '60')))
    return 0


if __name__ == '__main__':
    sys.exit(main())
