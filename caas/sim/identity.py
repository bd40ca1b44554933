"""Identity model of the simulated Keystone: users, projects, roles and
role assignments, with per-user passwords.

A role is held on a project by a (project, user, role) assignment, as in
Keystone; a token scoped to a project carries the roles assigned there plus
the roles they imply (Keystone's default implied roles: admin -> member ->
reader). A user with no role on a project cannot scope a token to it.

Functions take the ``Cloud`` and are called with ``cloud.lock`` held; the
HTTP routes are in ``caas.sim.keystone_admin``.
"""

import hashlib
import hmac
import os

ROLES = ('admin', 'member', 'reader')
IMPLIES = {'admin': ('member',), 'member': ('reader',)}
# (user, project, role) of the seeded accounts: the admin administers the
# three seeded projects, the others are plain members (viewer a reader).
SEED_ASSIGNMENTS = [('admin', 'admin', 'admin'), ('admin', 'demo', 'admin'),
                    ('admin', 'service', 'admin'),
                    ('caas', 'service', 'member'), ('demo', 'demo', 'member'),
                    ('viewer', 'demo', 'reader')]


def role_id(name):
    """Seeded role ids: the name padded to 32 characters (stable)."""
    return name + '0' * (32 - len(name))


def assignment_id(project_id, user_id, role):
    return '%s:%s:%s' % (project_id, user_id, role)


def seed(cloud, users, projects):
    """Roles and the seeded users' assignments (idempotent)."""
    d = cloud.data
    for name in ROLES:
        d['roles'].setdefault(role_id(name), {
            'id': role_id(name), 'name': name, 'domain_id': None,
            'description': None, 'options': {}})
    for user, project, role in SEED_ASSIGNMENTS:
        uid, pid = users[user][0], projects[project]
        aid = assignment_id(pid, uid, role_id(role))
        d['assignments'].setdefault(aid, {
            'id': aid, 'project_id': pid, 'user_id': uid,
            'role_id': role_id(role)})


def hash_password(password):
    salt = os.urandom(8).hex()
    digest = hashlib.sha256((salt + password).encode()).hexdigest()
    return '%s$%s' % (salt, digest)


def password_matches(user, password, default):
    """Users made through the API have their own password; the seeded
    ones share the cloud's ``admin_password``."""
    if not user.get('enabled', True) or password is None:
        return False
    stored = user.get('password_hash')
    if stored is None:
        return password == default
    salt, digest = stored.split('$', 1)
    return hmac.compare_digest(
        digest, hashlib.sha256((salt + password).encode()).hexdigest())


def assignments(cloud, user_id=None, project_id=None, role_id_=None):
    return [a for a in cloud.data['assignments'].values()
            if (user_id is None or a['user_id'] == user_id) and
            (project_id is None or a['project_id'] == project_id) and
            (role_id_ is None or a['role_id'] == role_id_)]


def effective_roles(cloud, user_id, project_id):
    """Role records the user holds on the project, implied ones included,
    in the order admin, member, reader, then others by name."""
    roles = cloud.data['roles']
    names = set()
    todo = [roles[a['role_id']]['name']
            for a in assignments(cloud, user_id, project_id)
            if a['role_id'] in roles]
    while todo:
        name = todo.pop()
        if name not in names:
            names.add(name)
            todo.extend(IMPLIES.get(name, ()))
    by_name = {r['name']: r for r in roles.values()}
    order = sorted(names, key=lambda n: (ROLES.index(n) if n in ROLES
                                         else len(ROLES), n))
    return [by_name[n] for n in order if n in by_name]


def forget_user(cloud, user_id):
    # Keystone deletes the trusts a user is party to with the user.
    trusts = cloud.data.get('trusts') or {}
    for trust_id in [t['id'] for t in trusts.values()
                     if user_id in (t['trustor_user_id'],
                                    t['trustee_user_id'])]:
        del trusts[trust_id]
    for a in assignments(cloud, user_id=user_id):
        del cloud.data['assignments'][a['id']]
    # Nova keeps a deleted Keystone user's keypairs (it is not told).
    for token, rec in list(cloud.data['tokens'].items()):
        if rec['user_id'] == user_id:
            del cloud.data['tokens'][token]


def forget_project(cloud, project_id):
    for a in assignments(cloud, project_id=project_id):
        del cloud.data['assignments'][a['id']]
    for token, rec in list(cloud.data['tokens'].items()):
        if rec['project_id'] == project_id:
            del cloud.data['tokens'][token]


def forget_role(cloud, role_id_):
    for a in assignments(cloud, role_id_=role_id_):
        del cloud.data['assignments'][a['id']]
