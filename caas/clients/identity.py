"""Keystone calls for the per-cluster trustees and trusts.

Two identities act here:

* the trustee domain's admin (``[trust] trustee_domain_admin_*``, a
  domain-scoped session, as Magnum's ``trustee_domain_admin``) creates,
  finds and deletes the trustee users and lists and deletes trusts; when
  none is configured caas's own service session (``[cloud]``) does, and
  then needs the admin role;
* the *trustor* - the user who asked for the operation - is the only one
  Keystone lets create a trust from themselves. The conductor gets their
  token from the operation row (encrypted, see
  ``caas.conductor.tasks.credential``) and re-scopes it to the cluster's
  project. In noauth mode there is no user token and the service user is
  the trustor, on its own project.

Every call is made to be repeated: users are found by name before they are
made, and trusts by their trustee.
"""

from keystoneauth1 import adapter as ks_adapter
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3
from keystoneclient.v3 import client as ks_client

from caas.clients import cloud
from caas.common import exceptions
from caas.conf import CONF
from caas.pki import keystore


# The operation param that carries the requesting user's token, sealed.
TOKEN_PARAM = 'trustor_token'
# ... and the project that token is scoped to.
PROJECT_PARAM = 'trustor_project'


def seal_token(token):
    """The user's token as the API hands it to the conductor: a Fernet
    token ([pki] encryption_keys) in the operation's params, never text."""
    return keystore.encrypt(token.encode('utf-8'))


def unseal_token(sealed, cluster_uuid):
    return keystore.decrypt(sealed, cluster_uuid).decode('utf-8')


class TrustorTokenInvalid(exceptions.CaasException):
    message = ('The token of the user who asked for this operation is no '
               'longer valid (expired or revoked), so caas cannot create '
               "the cluster's trust on their behalf; %(hint)s")
    code = 401


def _client(session):
    # Through an adapter that logs nothing: user requests carry passwords.
    return ks_client.Client(
        session=ks_adapter.Adapter(session, logger=cloud.QUIET_LOGGER),
        interface=CONF.cloud.interface, region_name=CONF.cloud.region_name)


_ADMIN = {}


def trustee_admin_session():
    """The trustee domain admin's session, scoped to the trustee domain
    (one per process: keystoneauth renews its token), or None when
    ``[trust]`` names no such admin."""
    conf = CONF.trust
    if not (conf.trustee_domain_admin_id or conf.trustee_domain_admin_name):
        return None
    key = (conf.trustee_domain_admin_id, conf.trustee_domain_admin_name,
           conf.trustee_domain_id, conf.trustee_domain_name,
           CONF.cloud.auth_url)
    session = _ADMIN.get(key)
    if session is None:
        user = ({'user_id': conf.trustee_domain_admin_id}
                if conf.trustee_domain_admin_id else
                {'username': conf.trustee_domain_admin_name})
        if conf.trustee_domain_id:
            user['user_domain_id'] = conf.trustee_domain_id
            scope = {'domain_id': conf.trustee_domain_id}
        else:
            user['user_domain_name'] = conf.trustee_domain_name or 'Default'
            scope = {'domain_name': conf.trustee_domain_name or 'Default'}
        auth = v3.Password(auth_url=CONF.cloud.auth_url,
                           password=conf.trustee_domain_admin_password,
                           **user, **scope)
        session = _ADMIN[key] = cloud.session_for(
            auth, timeout=CONF.cloud.timeout)
    return session


class Identity:
    """Keystone as the trustees' manager (see the module docstring)."""

    def __init__(self, session):
        self.session = session
        self.client = _client(session)

    @classmethod
    def for_trustees(cls, clients):
        """The trustee domain admin's Identity, or else the service
        session's (never a cluster's trust: a trustee may not manage
        users)."""
        admin = trustee_admin_session()
        if admin is not None:
            return cls(admin)
        # The service's own, built once per thread (see Clients.identity).
        return getattr(clients, 'service', clients).identity

    def domain_id(self):
        """The trustee domain from ``[trust]``; the default domain when
        neither option is set."""
        if CONF.trust.trustee_domain_id:
            return CONF.trust.trustee_domain_id
        name = CONF.trust.trustee_domain_name
        if not name:
            return 'default'
        found = self.client.domains.list(name=name)
        if not found:
            raise exceptions.CaasException(
                message='The trustee domain %s ([trust] trustee_domain_name) '
                        'does not exist in Keystone.' % name)
        return found[0].id

    def find_user(self, name, domain_id):
        users = self.client.users.list(name=name, domain=domain_id)
        return users[0].id if users else None

    def ensure_user(self, name, domain_id, password, surely_new=False):
        """The user's id; made with ``password``, or its password set to
        ``password`` if an earlier run made it (nothing uses a trustee
        before its trust reaches the stack, so resetting it is safe).

        :param surely_new: no earlier run can have made the user, so it is
            created without looking first (a Conflict still finds it).
        """
        user_id = None if surely_new else self.find_user(name, domain_id)
        if user_id is None:
            try:
                return self.client.users.create(
                    name=name, domain=domain_id, password=password,
                    enabled=True).id
            except ks_exc.Conflict:
                user_id = self.find_user(name, domain_id)
                if user_id is None:
                    raise
        self.client.users.update(user_id, password=password)
        return user_id

    def delete_user(self, user_id):
        """Delete; a user that is already gone is fine."""
        try:
            self.client.users.delete(user_id)
        except ks_exc.NotFound:
            pass

    def trusts_of(self, trustee_user_id, password=None):
        """The trusts to the trustee. With its password they are listed
        as the trustee itself: Keystone lets only the trustee (or a
        system admin, not a domain admin) list a trustee's trusts. A
        trustee that cannot log in any more (deleted) has none."""
        if password is None:
            client = self.client
        else:
            auth = v3.Password(auth_url=CONF.cloud.auth_url,
                               user_id=trustee_user_id, password=password)
            session = ks_session.Session(auth=auth,
                                         timeout=CONF.cloud.timeout)
            # Its token is unscoped (no catalog): Keystone is the auth URL.
            client = ks_client.Client(
                session=ks_adapter.Adapter(session,
                                           logger=cloud.QUIET_LOGGER),
                endpoint_override=CONF.cloud.auth_url)
            try:
                session.get_auth_headers()
            except (ks_exc.Unauthorized, ks_exc.NotFound):
                return []
        return [t.id for t in client.trusts.list(
            trustee_user=trustee_user_id)]

    def dead_trusts_of(self, trustor_user_id, project_id, keep=()):
        """Trusts from ``trustor_user_id`` on ``project_id`` other than
        ``keep`` (this session needs the admin role)."""
        return [t.id for t in self.client.trusts.list(
            trustor_user=trustor_user_id)
            if t.project_id == project_id and t.id not in keep]

    def delete_trust(self, trust_id):
        try:
            self.client.trusts.delete(trust_id)
        except ks_exc.NotFound:
            pass



def service_trustor(session):
    """(user id, project id, role names) of caas's own session."""
    access = session.auth.get_access(session)
    return access.user_id, access.project_id, access.role_names


def trust_session(user_id, password, trust_id):
    """A session as the trustee, scoped to the trust: with impersonation
    its token is the trustor's, on the trust's project with its roles."""
    auth = v3.Password(auth_url=CONF.cloud.auth_url, user_id=user_id,
                       password=password, trust_id=trust_id)
    return cloud.session_for(auth, timeout=CONF.cloud.timeout)


def requester_session(token, project_id):
    """A session with the token of whoever asked for an operation, on the
    project it was scoped to (caas's Heat calls then name the cluster's
    project in the URL: see ``caas.clients.trusted``)."""
    auth = v3.Token(auth_url=CONF.cloud.auth_url, token=token,
                    project_id=project_id)
    return cloud.session_for(auth, timeout=CONF.cloud.timeout)


def trustor_session(token, project_id):
    """A session as the user who asked, scoped to the cluster's project.

    :raises: TrustorTokenInvalid when Keystone refuses the token.
    """
    auth = v3.Token(auth_url=CONF.cloud.auth_url, token=token,
                    project_id=project_id)
    session = cloud.session_for(auth, timeout=CONF.cloud.timeout)
    try:
        access = auth.get_access(session)
    except (ks_exc.Unauthorized, ks_exc.NotFound):
        raise TrustorTokenInvalid(hint='ask again with a fresh token.')
    return session, access


def create_trust(session, trustor_user_id, trustee_user_id, project_id,
                 roles):
    """Create the trust with the trustor's own session; its id."""
    client = _client(session)
    try:
        trust = client.trusts.create(
            trustee_user=trustee_user_id, trustor_user=trustor_user_id,
            project=project_id, role_names=list(roles), impersonation=True)
    except ks_exc.Unauthorized:
        raise TrustorTokenInvalid(hint='ask again with a fresh token.')
    return trust.id
