"""Accounts, catalog, flavors and keypairs of the local OpenStack tier.

Run by tools/openstack/local.sh with Heat's venv (python-keystoneclient and
python-novaclient are Heat's dependencies). Idempotent: every object is
looked up before it is created, so a second start changes nothing.

    register.py accounts --auth-url URL --password PW --heat-port N ...
    register.py nova --auth-url URL --password PW

`accounts` registers the services (Heat, Nova, Placement, the Glance and
Neutron stand-ins) and caas the way its devstack plugin does: service type
container-infra, service user `caas` with the `service` role on project
`service`. It also creates two user projects, alpha and beta, each with a
`<project>-member` and a `<project>-reader` user, and `heat_stack_owner`.
As Magnum's devstack plugin does for its trustees, it makes a domain `caas`
for the per-cluster trustee users and its admin `caas_trustee_domain_admin`
(role admin on that domain only): caas's service user, with its `service`
role, may not create or list users. Heat's stack domain `heat` and its
`heat_domain_admin` are made as devstack makes them.
"""

import argparse
import sys

from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3
from keystoneclient.v3 import client as ks_client

HOST = '127.0.0.1'
REGION = 'RegionOne'
PROJECTS = ('alpha', 'beta')

# Flavors the tests' templates name; the fake virt driver has room for many.
FLAVORS = (('m1.tiny', 512, 1, 1), ('m1.small', 2048, 1, 10),
           ('m1.medium', 4096, 2, 20))


def _session(args, project='admin', user='admin'):
    auth = v3.Password(auth_url=args.auth_url, username=user,
                       password=args.password, project_name=project,
                       user_domain_id='default', project_domain_id='default')
    return ks_session.Session(auth=auth)


def _find(manager, name, **kw):
    for obj in manager.list(**kw):
        if obj.name == name:
            return obj
    return None


def _project(ks, name):
    return _find(ks.projects, name) or ks.projects.create(
        name=name, domain='default', description='caas real-OpenStack tier')


def _role(ks, name):
    return _find(ks.roles, name) or ks.roles.create(name=name)


def _user(ks, name, password):
    # No default project: a password token asked for without a scope is
    # then really unscoped (Keystone scopes it to the default project
    # otherwise), which the isolation tests need.
    user = _find(ks.users, name, domain='default')
    if user is None:
        user = ks.users.create(name=name, domain='default',
                               password=password)
    return user


def _grant(ks, user, role, project):
    ks.roles.grant(_role(ks, role), user=user, project=project)


def _service(ks, name, stype, url, description):
    svc = None
    for s in ks.services.list(type=stype):
        if s.name == name:
            svc = s
    if svc is None:
        svc = ks.services.create(name=name, type=stype,
                                 description=description)
    existing = {e.interface: e for e in ks.endpoints.list(service=svc)}
    for interface in ('public', 'internal', 'admin'):
        ep = existing.get(interface)
        if ep is None:
            ks.endpoints.create(service=svc, url=url, interface=interface,
                                region=REGION)
        elif ep.url != url:
            ks.endpoints.update(ep, url=url)
    return svc


def accounts(args):
    ks = ks_client.Client(session=_session(args))
    service = _project(ks, 'service')
    # Service users: admin on `service` is what Heat and Nova need for their
    # own calls (Heat creates trusts and stack domain users; Nova and
    # Placement validate tokens). caas gets the `service` role, as in
    # devstack's create_service_user.
    for name in ('heat', 'nova', 'placement'):
        _grant(ks, _user(ks, name, args.password), 'admin', service)
    caas = _user(ks, 'caas', args.password)
    _grant(ks, caas, 'service', service)
    _role(ks, 'heat_stack_owner')
    domain = _find(ks.domains, 'caas') or ks.domains.create(
        name='caas', description='Trustee users of caas clusters')
    domain_admin = _find(ks.users, 'caas_trustee_domain_admin',
                         domain=domain) or ks.users.create(
        name='caas_trustee_domain_admin', domain=domain,
        password=args.password)
    ks.roles.grant(_role(ks, 'admin'), user=domain_admin, domain=domain)
    # Heat's stack domain, as devstack makes it: wait condition handles and
    # software deployments get a user there (heat.conf stack_domain_admin).
    heat_domain = _find(ks.domains, 'heat') or ks.domains.create(
        name='heat', description='Owns users and projects created by heat')
    heat_admin = _find(ks.users, 'heat_domain_admin',
                       domain=heat_domain) or ks.users.create(
        name='heat_domain_admin', domain=heat_domain, password=args.password)
    ks.roles.grant(_role(ks, 'admin'), user=heat_admin, domain=heat_domain)
    _role(ks, 'heat_stack_user')

    for name in PROJECTS:
        project = _project(ks, name)
        member = _user(ks, '%s-member' % name, args.password)
        _grant(ks, member, 'member', project)
        _grant(ks, member, 'heat_stack_owner', project)
        reader = _user(ks, '%s-reader' % name, args.password)
        _grant(ks, reader, 'reader', project)
    admin = _find(ks.users, 'admin', domain='default')
    for name in PROJECTS:
        _grant(ks, admin, 'admin', _project(ks, name))

    _service(ks, 'heat', 'orchestration',
             'http://%s:%d/v1/%%(tenant_id)s' % (HOST, args.heat_port),
             'Heat Orchestration Service')
    _service(ks, 'nova', 'compute',
             'http://%s:%d/v2.1' % (HOST, args.nova_port),
             'Nova Compute Service')
    _service(ks, 'placement', 'placement',
             'http://%s:%d' % (HOST, args.placement_port),
             'Placement Service')
    _service(ks, 'glance', 'image', 'http://%s:%d' % (HOST, args.glance_port),
             'Glance stand-in (tools/openstack/standin.py)')
    _service(ks, 'neutron', 'network',
             'http://%s:%d' % (HOST, args.neutron_port),
             'Neutron stand-in (tools/openstack/standin.py)')
    _service(ks, 'caas', 'container-infra',
             'http://%s:%d/v1' % (HOST, args.caas_port),
             'Container Infrastructure Management Service (caas)')
    print('accounts registered')


def nova(args):
    from novaclient import client as nova_client
    nc = nova_client.Client('2.1', session=_session(args))
    have = {f.name for f in nc.flavors.list(is_public=None)}
    for name, ram, vcpus, disk in FLAVORS:
        if name not in have:
            nc.flavors.create(name, ram, vcpus, disk)
    for name in PROJECTS:
        for user in ('%s-member' % name, '%s-reader' % name):
            uc = nova_client.Client('2.1', session=_session(args, name, user))
            if 'default' not in {k.name for k in uc.keypairs.list()}:
                uc.keypairs.create('default', public_key=_public_key())
    print('flavors and keypairs registered')


def _public_key():
    """A throw-away key: the fake virt driver never uses it, Nova only
    checks its format."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(serialization.Encoding.OpenSSH,
                            serialization.PublicFormat.OpenSSH).decode()


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('what', choices=('accounts', 'nova'))
    parser.add_argument('--auth-url', required=True)
    parser.add_argument('--password', required=True)
    for name in ('heat', 'nova', 'placement', 'glance', 'neutron', 'caas'):
        parser.add_argument('--%s-port' % name, type=int)
    args = parser.parse_args(argv)
    {'accounts': accounts, 'nova': nova}[args.what](args)


if __name__ == '__main__':
    main(sys.argv[1:])
