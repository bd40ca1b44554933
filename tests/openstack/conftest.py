"""The real-OpenStack tier: real Keystone, Heat and Nova, caas on MariaDB.

The services come from ``tools/openstack/local.sh`` (``.ci/run`` starts them
with CAAS_OPENSTACK_TIER=1 and exports the CAAS_OSTACK_* variables; with
the variable but without the services the first test that needs them starts
them here and they are stopped at the end of the session; without either
the Keystone/Heat/Nova tests are skipped).
Tests that need only MariaDB start only MariaDB (``local.sh db``). Under CI a
service that is missing or does not start fails the run; elsewhere the tier
is skipped.
"""

import os
import subprocess
import uuid

import pytest
import sqlalchemy as sa

from caas.conf import CONF
from caas.db import migration
from caas.db.sqlalchemy import engine
from tests.conftest import in_ci
from tests.integration import deployment

LOCAL = os.path.join(deployment.ROOT, 'tools', 'openstack', 'local.sh')


def _unavailable(why):
    if in_ci():
        pytest.fail('real OpenStack services unavailable under CI: %s' % why)
    pytest.skip('real OpenStack services unavailable: %s' % why)


def _local(command):
    """Run local.sh COMMAND; export what it prints; False if it failed."""
    try:
        result = subprocess.run([LOCAL, command], capture_output=True,
                                text=True, timeout=1200)
    except subprocess.TimeoutExpired:
        _unavailable('local.sh %s did not finish in 20 min' % command)
    if result.returncode != 0:
        _unavailable('local.sh %s failed: %s' % (
            command, result.stderr.strip()[-3000:]))
    for line in result.stdout.splitlines():
        key, _, value = line.replace('export ', '').partition('=')
        if key.startswith('CAAS_OSTACK_'):
            os.environ[key] = value


@pytest.fixture(scope='session')
def mariadb():
    """The admin URL of the tier's MariaDB server (no database named);
    a server this session started is stopped at its end (left running, it
    held the tier's port against the next run's ``local.sh``)."""
    started = False
    if not os.environ.get('CAAS_OSTACK_DB_ADMIN_URL'):
        started = True
        _local('db')
    try:
        url = os.environ['CAAS_OSTACK_DB_ADMIN_URL']
        try:
            with sa.create_engine(
                    url, poolclass=sa.pool.NullPool).connect() as c:
                c.execute(sa.text('SELECT 1'))
        except Exception as exc:
            _unavailable('MariaDB at %s: %s' % (url, exc))
        yield url
    finally:
        if started:
            subprocess.run([LOCAL, 'stop'], capture_output=True, timeout=300)
            for key in [k for k in os.environ if k.startswith('CAAS_OSTACK_')]:
                del os.environ[key]


@pytest.fixture(scope='session')
def openstack(request):
    """Keystone, Heat, Nova and Placement, up; stopped at the end only if
    this session started them.

    The services cost ~20 min to install on a new machine and ~3 min to
    start from their cache, so they run only when asked for:
    CAAS_OPENSTACK_TIER=1 (with services already started by ``local.sh
    start`` and its CAAS_OSTACK_* variables exported, or started here).
    """
    # (Not CAAS_OSTACK_AUTH_URL: ``local.sh db``, which the MariaDB tests
    # run, exports it too.)
    if not os.environ.get('CAAS_OPENSTACK_TIER'):
        pytest.skip('the real Keystone/Heat/Nova tier runs with '
                    'CAAS_OPENSTACK_TIER=1')
    request.getfixturevalue('mariadb')
    started = False
    if not os.environ.get('CAAS_OSTACK_AUTH_URL'):
        _local('start')
        started = True
    env = {k: v for k, v in os.environ.items() if k.startswith('CAAS_OSTACK_')}
    try:
        deployment.wait_http(env['CAAS_OSTACK_AUTH_URL'], timeout=30)
    except AssertionError as exc:
        _unavailable(str(exc))
    yield env
    if started:
        subprocess.run([LOCAL, 'stop'], capture_output=True, timeout=300)


def create_database(admin_url):
    """A fresh MariaDB database; returns its SQLAlchemy URL."""
    name = 'caas_%s' % uuid.uuid4().hex[:12]
    eng = sa.create_engine(admin_url, poolclass=sa.pool.NullPool)
    with eng.connect() as conn:
        conn.execute(sa.text(
            'CREATE DATABASE %s CHARACTER SET utf8mb4' % name))
    url = sa.engine.make_url(admin_url).set(database=name)
    return url.render_as_string(hide_password=False)


@pytest.fixture(scope='session')
def _maria_schema(mariadb):
    """One database migrated once per session (a migration costs seconds
    on MariaDB; the tests that need a fresh one empty its tables)."""
    url = create_database(mariadb)
    CONF.set_override('connection', url, group='database')
    engine.dispose()
    try:
        migration.upgrade()
    finally:
        engine.dispose()
        CONF.clear_override('connection', group='database')
    return url


def _empty_tables(url):
    eng = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with eng.begin() as conn:
            tables = conn.execute(sa.text(
                'SELECT table_name FROM information_schema.tables WHERE '
                "table_schema = DATABASE() AND table_name NOT LIKE "
                "'%alembic_version'")).scalars().all()
            conn.execute(sa.text('SET FOREIGN_KEY_CHECKS = 0'))
            for table in tables:
                conn.execute(sa.text('TRUNCATE TABLE `%s`' % table))
            conn.execute(sa.text('SET FOREIGN_KEY_CHECKS = 1'))
    finally:
        eng.dispose()


@pytest.fixture
def maria_db(_maria_schema):
    """The migrated caas database on MariaDB, empty, as the process's
    database."""
    _empty_tables(_maria_schema)
    CONF.set_override('connection', _maria_schema, group='database')
    engine.dispose()
    yield engine.get_engine()
    engine.dispose()
    CONF.clear_override('connection', group='database')


# The database tests written for SQLite take their database from ``db``:
# on this tier it is MariaDB.
@pytest.fixture
def db(maria_db):
    return maria_db


@pytest.fixture
def real_deploy(openstack, mariadb, tmp_path):
    """Factory: caas-api (on the catalog's container-infra port) and
    conductors against the real services; stopped afterwards."""
    from tests.openstack.deployment import RealCloudDeployment
    started = []

    def _start(**kwargs):
        dep = RealCloudDeployment(
            tmp_path, openstack, create_database(mariadb),
            int(openstack['CAAS_OSTACK_CAAS_PORT']), **kwargs)
        started.append(dep)
        return dep.start()

    yield _start
    for dep in started:
        dep.stop_all()
