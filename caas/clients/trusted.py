"""Cloud clients of one cluster's operation, acting through its trust.

With ``[trust] act_as_trustee`` the conductor hands each flow a
:class:`ClusterClients` instead of its service clients. Every Heat and
Nova call then authenticates as the cluster's trustee user, scoped to the
cluster's trust: with impersonation Keystone issues the *owner's* token on
the cluster's project, so the stack lives in the owner's project (as in
Magnum) and later operations need no token of the owner's - it may have
expired or been revoked long ago.

Which credential a call uses is decided again at every call, from the
cluster's trustee rows, because an operation changes them as it goes:

* the ``current`` trustee with a trust, else the newest ``pending`` one (a
  create makes its trustee current only once the stack carries it);
* no trustee with a trust yet (a create before ``make-credential``, or a
  cluster made before the option was set): caas's service session;
* a trust that no longer gives a token (its owner lost the delegated role,
  or it was deleted) for an operation that carries the token of whoever
  asked for it (a delete by an admin): that token, with Heat's URL naming
  the cluster's project.

One call is different: Heat refuses to *create* a stack with a
trust-scoped token (it makes a trust of its own for the stack, and
Keystone lets no trust-scoped token make a trust), so the create and the
nodegroup create send ``stacks.create`` with the token of the user who
asked (sealed in the operation's params by the API, wiped when the flow
ends), re-scoped to the cluster's project; everything after it goes
through the trust.

Heat keeps that trust of its own (trustor: the owner; trustee: Heat) and,
when someone else deletes the stack, first tries to replace it; Heat 27
fails the whole delete with a 500 when the owner lost their role (its
stored trust then answers 403, which it does not expect). So a delete
that falls back to an admin's token first deletes the owner's trusts on
the cluster's project other than caas's own - none of them gives a token
any more while the owner holds no role there - and Heat's delete then
goes through.
"""

import threading

from heatclient import client as heat_client
from keystoneauth1 import exceptions as ks_exc
from oslo_log import log as logging

from caas.clients import cloud
from caas.clients import identity
from caas.common import states
from caas.db import outage
from caas.db import trustees
from caas.pki import keystore

LOG = logging.getLogger(__name__)

# Operation params (sealed token, its project) set by the API.
TOKEN_PARAM = identity.TOKEN_PARAM
PROJECT_PARAM = identity.PROJECT_PARAM


class ClusterClients(cloud.CloudClients):
    """CloudClients whose session follows the cluster's trustee rows."""

    def __init__(self, service, cluster_uuid, project_id, params_of,
                 clear_dead_trusts=False):
        """
        :param service: the conductor's service CloudClients.
        :param params_of: a callable returning the operation's params now
            (tasks wipe the token from them when done with it).
        :param clear_dead_trusts: on falling back to the requester's token,
            delete the owner's dead trusts first (a cluster delete).
        """
        super().__init__()
        self.service = service
        self.cluster_uuid = cluster_uuid
        self.project_id = project_id
        self._params_of = params_of
        self._clear_dead_trusts = clear_dead_trusts
        self._key = None
        self._endpoint = None
        self._sessions = {}
        self._sessions_lock = threading.Lock()

    def _trustee(self):
        rows = [r for r in outage.call(trustees.list_trustees,
                                       self.cluster_uuid)
                if r.trust_id and r.user_id]
        current = [r for r in rows if r.state == trustees.CURRENT]
        return (current or rows)[-1] if rows else None

    def _trust_session(self, row):
        password = keystore.decrypt(row.encrypted_password,
                                    self.cluster_uuid).decode('utf-8')
        session = identity.trust_session(row.user_id, password, row.trust_id)
        try:
            session.get_auth_headers()
        except (ks_exc.Unauthorized, ks_exc.Forbidden, ks_exc.NotFound) \
                as exc:
            return None, exc
        return session, None

    def _requester(self, why, project=None):
        """(session, project) of the token in the operation's params,
        re-scoped to ``project`` if given; raises ``why`` if none."""
        params = self._params_of() or {}
        sealed = params.get(TOKEN_PARAM)
        if not sealed:
            raise why
        token = identity.unseal_token(sealed, self.cluster_uuid)
        project = project or params.get(PROJECT_PARAM)
        return identity.requester_session(token, project), project

    def _clear(self, session, row):
        """Delete the owner's trusts on the cluster's project but caas's
        (see the module docstring); the requester must be an admin."""
        ident = identity.Identity(session)
        ours = {r.trust_id for r in outage.call(trustees.list_trustees,
                                                self.cluster_uuid)}
        try:
            dead = ident.dead_trusts_of(row.trustor_user_id, self.project_id,
                                        keep=ours)
            for trust_id in dead:
                ident.delete_trust(trust_id)
        except ks_exc.ClientException as exc:
            LOG.warning('Cluster %s: could not delete the dead trusts of '
                        'owner %s: %s', self.cluster_uuid,
                        row.trustor_user_id, exc)
            return
        LOG.info('Cluster %s: deleted %d dead trust(s) of owner %s on '
                 'project %s before deleting its stack', self.cluster_uuid,
                 len(dead), row.trustor_user_id, self.project_id)

    def _resolve(self):
        """(key, session, project the session is scoped to)."""
        row = self._trustee()
        if row is None:
            return 'service', self.service.session, None
        key = ('trust', row.id, row.trust_id)
        with self._sessions_lock:
            if key in self._sessions:
                return (key,) + self._sessions[key]
            session, failure = self._trust_session(row)
            if session is not None:
                found = (session, self.project_id)
            else:
                LOG.warning('Cluster %s: trust %s of trustee %s gives no '
                            'token (%s); acting with the token of who asked '
                            'for this operation', self.cluster_uuid,
                            row.trust_id, row.user_id, failure)
                found = self._requester(cloud._translate(
                    'The trust %s' % row.trust_id, failure, cloud.IDENTITY))
                if self._clear_dead_trusts and row.trustor_user_id:
                    self._clear(found[0], row)
            self._sessions[key] = found
            return (key,) + found

    @property
    def session(self):
        key, session, project = self._resolve()
        if key != self._key:
            # Clients built on another session are dropped with it.
            self._local = threading.local()
            self._key = key
            self._endpoint = project
        self._session = session
        return session

    @property
    def heat(self):
        session = self.session
        if getattr(self._local, 'heat', None) is None:
            self._local.heat = heat_client.Client(
                '1', session=session, **self._heat_kwargs(session))
        return self._local.heat

    @property
    def quiet_heat(self):
        session = self.session
        if getattr(self._local, 'quiet_heat', None) is None:
            self._local.quiet_heat = heat_client.Client(
                '1', session=session, logger=cloud.QUIET_LOGGER,
                **self._heat_kwargs(session))
        return self._local.quiet_heat

    def stack_creator(self, quiet=False):
        """A heatclient with the requester's own token, re-scoped to the
        cluster's project; without one (noauth: caas's service user is the
        trustor), the service session's."""
        params = self._params_of() or {}
        if params.get(TOKEN_PARAM):
            session, _project = self._requester(None, self.project_id)
        else:
            session = self.service.session
        kwargs = self._endpoint_kwargs()
        if quiet:
            kwargs['logger'] = cloud.QUIET_LOGGER
        return heat_client.Client('1', session=session, **kwargs)

    def _heat_kwargs(self, session):
        kwargs = self._endpoint_kwargs()
        if self._endpoint is not None and self._endpoint != self.project_id:
            # Heat's URL names a project; the catalog's names the token's.
            url = session.get_endpoint(service_type='orchestration',
                                       **kwargs).rstrip('/')
            base = url.rsplit('/', 1)[0]
            kwargs['endpoint_override'] = '%s/%s' % (base, self.project_id)
        return kwargs


def clients_for(service, op, cluster_project_id, params_of):
    """The clients one operation's flow gets."""
    return ClusterClients(
        service, op.cluster_id, cluster_project_id, params_of,
        clear_dead_trusts=op.kind == states.OP_CLUSTER_DELETE)
