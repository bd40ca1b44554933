"""The devstack plugin (devstack/) run phase by phase against the real tier.

devstack itself is not run: its helper functions are stood in for by
``devstack_shim.sh``, which implements them for real against the tier's
Keystone (the openstack CLI), MariaDB and RabbitMQ. The plugin's own files
run unchanged, sourced the way devstack sources them
(``source devstack/plugin.sh stack install`` ...). Afterwards the test
looks at what a cloud would see: the catalog entry, the service user's and
the trustee domain admin's roles, the files written, caas-api under uwsgi
answering through the catalog with real tokens, both conductors
heartbeating, and unstack/clean leaving no process, database or file.
"""

import configparser
import os
import subprocess
import time
import uuid

import pytest
import requests
import sqlalchemy as sa
from cryptography import fernet
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3
from keystoneclient.v3 import client as ks_client
from magnumclient import client as magnum_client

from tests.integration import deployment

pytestmark = pytest.mark.openstack

HERE = os.path.dirname(os.path.abspath(__file__))
SHIM = os.path.join(HERE, 'devstack_shim.sh')
PLUGIN = os.path.join(deployment.ROOT, 'devstack')
BIN = deployment.BIN


def _session(env, user='admin', project='admin'):
    return ks_session.Session(auth=v3.Password(
        auth_url=env['CAAS_OSTACK_AUTH_URL'], username=user,
        password=env['CAAS_OSTACK_PASSWORD'], project_name=project,
        user_domain_id='default', project_domain_id='default'))


def _forget_caas_service(ks):
    """Remove the container-infra service (and so its endpoints) that the
    tier's register.py made, so that what is there afterwards can only be
    the plugin's."""
    for svc in ks.services.list(type='container-infra'):
        ks.services.delete(svc)


def _restore_caas_service(ks, url):
    """Put the catalog entry back if a failed run left none (the other
    tests find caas through it)."""
    if ks.services.list(type='container-infra'):
        return
    svc = ks.services.create(name='caas', type='container-infra')
    for interface in ('public', 'internal', 'admin'):
        ks.endpoints.create(service=svc, url=url, interface=interface,
                            region='RegionOne')


def _delete_user(ks, name, domain='default'):
    for user in ks.users.list(name=name, domain=domain):
        ks.users.delete(user)


def _delete_domain(ks, name):
    for domain in ks.domains.list(name=name):
        for user in ks.users.list(domain=domain):
            ks.users.delete(user)
        ks.domains.update(domain, enabled=False)
        ks.domains.delete(domain)


class Devstack:
    """Runs the plugin's phases in bash processes, as stack.sh and
    unstack.sh/clean.sh would, with the shim and the plugin's settings."""

    def __init__(self, env, workdir, variables):
        self.env = dict(os.environ, SHIM_DIR=str(workdir / 'shim'),
                        SHIM_BIN=BIN, **env)
        self.env.update(variables)
        self.variables = variables

    def run(self, *phases, script='', check=True):
        lines = ['source %s' % SHIM, 'source %s/settings' % PLUGIN,
                 'source %s/lib/caas' % PLUGIN]
        for phase in phases:
            lines.append('source %s/plugin.sh %s' % (PLUGIN, phase))
        lines.append(script)
        started = time.monotonic()
        proc = subprocess.run(['bash', '-c', '\n'.join(lines)],
                              env=self.env, capture_output=True, text=True,
                              timeout=600, cwd=deployment.ROOT)
        # (Shown with the output of a failed test: where the time went.)
        print('devstack %s %s: %.1f s' % (' / '.join(phases), script,
                                          time.monotonic() - started))
        assert proc.returncode == 0 or not check, (
            'devstack phases %s failed (%d):\n%s\n%s' % (
                phases, proc.returncode, proc.stdout[-3000:],
                proc.stderr[-6000:]))
        return proc.stdout

    def pid(self, name):
        path = os.path.join(self.env['SHIM_DIR'], 'pids', name + '.pid')
        with open(path) as f:
            return int(f.read())

    def log(self, name):
        path = os.path.join(self.env['SHIM_DIR'], 'logs', name + '.log')
        try:
            with open(path) as f:
                return f.read()[-4000:]
        except OSError:
            return ''


def _alive(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().split(')')[-1].split()[0] != 'Z'
    except FileNotFoundError:
        return False


def _ini(path):
    cp = configparser.RawConfigParser(strict=False, default_section='\0none')
    cp.optionxform = str
    assert cp.read(path) == [str(path)]
    return cp


def _db_exists(admin_url, name):
    eng = sa.create_engine(admin_url, poolclass=sa.pool.NullPool)
    try:
        with eng.connect() as conn:
            return bool(conn.execute(sa.text(
                'SELECT COUNT(*) FROM information_schema.schemata '
                'WHERE schema_name = :n'), {'n': name}).scalar())
    finally:
        eng.dispose()


def _wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError('%s not seen in %ss' % (what, timeout))


def test_devstack_plugin_phases_against_the_real_services(openstack,
                                                          tmp_path):
    env = openstack
    port = int(env['CAAS_OSTACK_CAAS_PORT'])
    url = 'http://127.0.0.1:%d/v1' % port
    tag = uuid.uuid4().hex[:8]
    # Names of its own for what the test removes afterwards, so that the
    # tier's `caas` user and any trustee domain other tests use stay.
    variables = {
        'CAAS_DIR': deployment.ROOT,
        'CAAS_CONF_DIR': str(tmp_path / 'etc' / 'caas'),
        'DATA_DIR': str(tmp_path / 'data'),
        'CAAS_API_PORT': str(port),
        'CAAS_DATABASE_NAME': 'caas_ds_%s' % tag,
        'CAAS_SERVICE_USER': 'caas-ds-%s' % tag,
        'CAAS_TRUSTEE_DOMAIN': 'caas-ds-%s' % tag,
        'CAAS_TRUSTEE_DOMAIN_ADMIN': 'caas-ds-domain-admin-%s' % tag,
        'CAAS_CONDUCTOR_COUNT': '2',
    }
    conf_dir = tmp_path / 'etc' / 'caas'
    ds = Devstack(env, tmp_path, variables)
    ks = ks_client.Client(session=_session(env), interface='public')
    _forget_caas_service(ks)
    try:
        _run_and_check(ds, env, ks, variables, conf_dir, url, tmp_path)
    finally:
        try:
            ds.run('unstack', 'clean', check=False)
        finally:
            _restore_caas_service(ks, url)
            _delete_user(ks, variables['CAAS_SERVICE_USER'])
            _delete_domain(ks, variables['CAAS_TRUSTEE_DOMAIN'])


def _run_and_check(ds, env, ks, variables, conf_dir, url, tmp_path):
    ds.run('stack install', 'stack post-config', 'stack extra')

    # The catalog: service type container-infra, named caas, with public,
    # internal and admin endpoints in RegionOne at Magnum's /v1 path.
    services = ks.services.list(type='container-infra')
    assert [s.name for s in services] == ['caas']
    endpoints = ks.endpoints.list(service=services[0])
    assert sorted((e.interface, e.url, e.region) for e in endpoints) == [
        (i, url, 'RegionOne') for i in ('admin', 'internal', 'public')]

    # The service user: the service role on project service and no other
    # role anywhere (no admin).
    user = ks.users.list(name=variables['CAAS_SERVICE_USER'],
                         domain='default')
    assert len(user) == 1
    service_project = ks.projects.list(name='service')[0]
    roles = {r.id: r.name for r in ks.roles.list()}
    assignments = [(roles[a.role['id']], a.scope)
                   for a in ks.role_assignments.list(user=user[0])]
    assert assignments == [
        ('service', {'project': {'id': service_project.id}})]

    # The trustee domain and its admin, whose only role is on that domain.
    domain = ks.domains.list(name=variables['CAAS_TRUSTEE_DOMAIN'])
    assert len(domain) == 1
    domain_admin = ks.users.list(
        name=variables['CAAS_TRUSTEE_DOMAIN_ADMIN'], domain=domain[0])
    assert len(domain_admin) == 1
    admin_roles = [(roles[a.role['id']], a.scope) for a in
                   ks.role_assignments.list(user=domain_admin[0])]
    assert admin_roles == [('admin', {'domain': {'id': domain[0].id}})]

    # The files.
    conf = _ini(conf_dir / 'caas.conf')
    assert conf.get('DEFAULT', 'transport_url') == \
        env['CAAS_OSTACK_TRANSPORT_URL']
    assert conf.get('DEFAULT', 'auth_strategy') == 'keystone'
    assert conf.get('DEFAULT', 'state_path') == str(tmp_path / 'data' / 'caas')
    db_url = conf.get('database', 'connection')
    assert db_url.startswith('mysql+pymysql://')
    assert '/%s?' % variables['CAAS_DATABASE_NAME'] in db_url
    for section in ('keystone_authtoken', 'cloud'):
        assert conf.get(section, 'username') == variables['CAAS_SERVICE_USER']
        assert conf.get(section, 'password') == env['CAAS_OSTACK_PASSWORD']
        assert conf.get(section, 'project_name') == 'service'
    assert conf.get('cloud', 'auth_url') == env['CAAS_OSTACK_AUTH_URL']
    assert conf.get('trust', 'trustee_domain_name') == \
        variables['CAAS_TRUSTEE_DOMAIN']
    assert conf.get('oslo_policy', 'policy_file') == \
        str(conf_dir / 'policy.yaml')
    assert (conf_dir / 'policy.yaml').is_file()
    pki_key = conf.get('pki', 'encryption_keys')
    fernet.Fernet(pki_key)  # a usable key
    uwsgi = _ini(conf_dir / 'caas-api-uwsgi.ini')
    assert uwsgi.get('uwsgi', 'http-socket') == '127.0.0.1:%s' % \
        variables['CAAS_API_PORT']
    assert uwsgi.get('uwsgi', 'env') == 'CAAS_CONFIG_FILE=%s' % (
        conf_dir / 'caas.conf')
    assert uwsgi.get('uwsgi', 'module') == 'caas.api.wsgi:init_application()'
    hosts = [_ini(conf_dir / ('caas-cond-%d.conf' % i)).get('DEFAULT', 'host')
             for i in (1, 2)]
    assert len(set(hosts)) == 2

    # caas-api is uwsgi, found through the catalog; the root needs no
    # token, the API a real one (validated with the plugin's service user).
    api_pid = ds.pid('caas-api')
    assert os.path.basename(os.readlink('/proc/%d/exe' % api_pid)) == \
        'uwsgi', 'caas-api is not running under uwsgi'
    member = _session(env, 'alpha-member', 'alpha')
    endpoint = member.get_endpoint(service_type='container-infra',
                                   interface='public')
    assert endpoint == url
    root = requests.get(endpoint.rsplit('/v1', 1)[0] + '/', timeout=30)
    assert root.status_code == 200, ds.log('caas-api')
    assert 'v1' in root.text
    listed = member.get('/clusters', endpoint_filter={
        'service_type': 'container-infra', 'interface': 'public'},
        headers={'OpenStack-API-Version': 'container-infra latest'},
        raise_exc=False)
    assert listed.status_code == 200, (listed.text, ds.log('caas-api'))
    assert listed.json()['clusters'] == []
    assert requests.get(url + '/clusters', timeout=30).status_code == 401

    # Both conductors heartbeat under their own host names; an admin sees
    # them with python-magnumclient through the catalog.
    mc = magnum_client.Client('1', session=_session(env),
                              api_version='latest')
    _wait(lambda: sorted(s.host for s in mc.mservices.list()) ==
          sorted(hosts), 60, 'both conductors in coe service list')

    # The database was made and migrated.
    assert _db_exists(env['CAAS_OSTACK_DB_ADMIN_URL'],
                      variables['CAAS_DATABASE_NAME'])

    # Configuring again keeps the PKI key (clusters already in the
    # database are encrypted with it).
    ds.run(script='configure_caas')
    assert _ini(conf_dir / 'caas.conf').get('pki', 'encryption_keys') == \
        pki_key

    # unstack stops every process; clean drops the database and the files.
    pids = [api_pid] + [ds.pid('caas-cond-%d' % i) for i in (1, 2)]
    assert all(_alive(p) for p in pids)
    ds.run('unstack')
    assert [p for p in pids if _alive(p)] == []
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=5)
    ds.run('clean')
    assert not _db_exists(env['CAAS_OSTACK_DB_ADMIN_URL'],
                          variables['CAAS_DATABASE_NAME'])
    assert not conf_dir.exists()
