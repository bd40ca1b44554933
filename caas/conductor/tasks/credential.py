"""Tasks on the cluster's cloud credential: a Keystone trustee and trust.

Each operation that makes a credential (create, credential rotate) writes a
``pending`` row named after the operation *before* it touches Keystone,
with the random password already encrypted in it; a re-run after a crash
finds the row, the user (by name) and the trust (by trustee) its
predecessor made instead of making a second one. The row becomes
``current`` only after the stack carries it, and only then are the
cluster's other trustees and trusts deleted: the nodes always hold a
credential that works.

The trust is created with the token of the user who asked (encrypted in
the operation's params by the API, wiped once the trust exists). A flow
that resumes after that token expired fails this step with a reason that
says so. In noauth mode there is no user token: caas's service user is the
trustor, on its own project.
"""

import secrets
import types

from oslo_log import log as logging

from caas.clients import identity
from caas.conductor.tasks import common
from caas.conductor.tasks import credential_params as cred_params
from caas.conductor.tasks import stack as stack_tasks
from caas.conf import CONF
from caas.db import outage
from caas.db import trustees
from caas.pki import keystore

LOG = logging.getLogger(__name__)

TOKEN_PARAM = identity.TOKEN_PARAM


def username(cluster_uuid, operation_id):
    """Derived from the cluster and the operation only: a re-run finds it."""
    return 'caas-%s-%s' % (cluster_uuid, operation_id)


def wipe_token(fence, operation_id):
    """The requester's sealed token (and its project) out of the
    operation's params, once no step of its flow needs it any more."""
    params = fence.operation().params or {}
    if TOKEN_PARAM in params:
        fence.update(operation_values={'params': {
            k: v for k, v in params.items()
            if k not in (TOKEN_PARAM, identity.PROJECT_PARAM)}})


def _values(row):
    """A trustee row's columns (a Core row, or an ORM object)."""
    mapping = getattr(row, '_mapping', None)
    return dict(mapping) if mapping is not None else row.as_dict()


def _password(fence, row):
    return keystore.decrypt(row.encrypted_password,
                            fence.cluster_uuid).decode('utf-8')


def _forget(fence, ident, row):
    """Delete a trustee's user and trusts in Keystone, then its row.

    The user goes first: Keystone deletes the trusts a user is party to
    with it, and a trustee domain admin may not delete another user's
    trust (only its trustor or a system admin may); the trusts are then
    deleted by id, which finds them gone.
    """
    user_id = row.user_id or common.cloud_call(ident.find_user, row.username,
                                               row.domain_id)
    trusts = set([row.trust_id] if row.trust_id else [])
    if user_id:
        trusts.update(common.cloud_call(ident.trusts_of, user_id,
                                        _password(fence, row)))
    fence.check()
    if user_id:
        common.cloud_call(ident.delete_user, user_id)
    for trust_id in sorted(trusts):
        common.cloud_call(ident.delete_trust, trust_id)
    outage.call(trustees.remove, fence, row.id)
    LOG.info('Cluster %s: deleted trustee %s and its trust(s) %s',
             fence.cluster_uuid, user_id or row.username,
             ', '.join(sorted(trusts)) or '-')


class MakeTrustee(common.Task):
    """A trustee user with a random password and a trust to it."""

    step, label = 'make-credential', 'making the cloud credential'

    def execute(self, fence, clients, operation_id):
        ident = identity.Identity.for_trustees(clients)
        row = None
        if fence.operation().claims > 1:
            # Only a run under an earlier claim can have written the row
            # (the first claim's run is the operation's first).
            row = outage.call(trustees.of_operation, fence.cluster_uuid,
                              operation_id)
        # The pending row is written before Keystone is touched: when this
        # run writes it, no earlier run made the user or its trust, and
        # neither is looked for (two requests fewer a create).
        fresh = row is None
        if fresh:
            domain_id = common.cloud_call(ident.domain_id)
            password = secrets.token_urlsafe(
                CONF.trust.password_length)[:CONF.trust.password_length]
            # Fenced: the claim holds now, as a check would say.
            row = outage.call(trustees.add_pending, fence, {
                'username': username(fence.cluster_uuid, operation_id),
                'domain_id': domain_id,
                'encrypted_password': keystore.encrypt(
                    password.encode('utf-8'))})
        else:
            fence.check()
        password = _password(fence, row)
        user_id = common.cloud_call(ident.ensure_user, row.username,
                                    row.domain_id, password,
                                    surely_new=fresh)
        existing = [] if fresh else common.cloud_call(
            ident.trusts_of, user_id, password)
        if existing:
            trust_id = existing[0]
            LOG.info('Cluster %s: trust %s of trustee %s already exists',
                     fence.cluster_uuid, trust_id, user_id)
            trustor = row.trustor_user_id
        else:
            trustor, trust_id = self._create_trust(fence, clients, ident,
                                                   user_id)
        # The user and its trust in one write: a run that dies before it
        # finds the user by its name and the trust by its trustee.
        outage.call(trustees.update, fence, row.id, user_id=user_id,
                    trust_id=trust_id, trustor_user_id=trustor)
        # As written, for the stack's parameters (no read of it again
        # under this claim, whose flow alone writes it).
        fence.memo['trustee'] = types.SimpleNamespace(**dict(
            _values(row), user_id=user_id, trust_id=trust_id,
            trustor_user_id=trustor))
        if not CONF.trust.act_as_trustee:
            # Acting through the trust, the create still needs the token
            # for the stack (see caas.clients.trusted); retire-credentials
            # wipes it then.
            wipe_token(fence, operation_id)
        LOG.info('Cluster %s: trustee %s holds trust %s from %s',
                 fence.cluster_uuid, user_id, trust_id, trustor)
        return row.id

    @staticmethod
    def _create_trust(fence, clients, ident, trustee_id):
        sealed = (fence.operation().params or {}).get(TOKEN_PARAM)
        if sealed:
            token = identity.unseal_token(sealed, fence.cluster_uuid)
            project = common.load_for(fence).cluster['project_id']
            session, access = common.cloud_call(
                identity.trustor_session, token, project)
            trustor = access.user_id
            roles = CONF.trust.roles or access.role_names
        else:
            session = getattr(clients, 'service', clients).session
            trustor, project, roles = common.cloud_call(
                identity.service_trustor, session)
            roles = CONF.trust.roles or roles
        fence.check()
        trust_id = common.cloud_call(identity.create_trust, session, trustor,
                                     trustee_id, project, roles)
        # The step's INFO line names the trust when the trustee holds it.
        LOG.debug('Cluster %s: created trust %s from %s to trustee %s on '
                  'project %s', fence.cluster_uuid, trust_id, trustor,
                  trustee_id, project)
        return trustor, trust_id

    def revert(self, fence, clients, operation_id, result, *args, **kwargs):
        """Wipe the user's token; delete the new trustee (also one this
        step made before it failed) unless the stack may already hand it to
        nodes: then it stays recorded, and the next rotation or the
        cluster's deletion removes it."""
        fence.memo.pop('trustee', None)
        try:
            wipe_token(fence, operation_id)
            row = outage.call(trustees.of_operation, fence.cluster_uuid,
                          operation_id)
            if row is None or row.state == trustees.CURRENT:
                return
            data = common.load_for(fence)
            stack = common.find_stack(clients, data.cluster.get('stack_id') or
                                      data.driver.stack_name(data.cluster))
            params = (stack.to_dict().get('parameters') or {}) \
                if stack is not None else {}
            if row.user_id and params.get('trustee_user_id') == row.user_id:
                return
            _forget(fence, identity.Identity.for_trustees(clients), row)
        except Exception as exc:
            LOG.warning('Cluster %s: could not clean up the new trustee of '
                        'operation %s: %s', fence.cluster_uuid, operation_id,
                        exc)


class RetireTrustees(common.Task):
    """The new trustee becomes current; every other one is deleted."""

    step, label = 'retire-credentials', 'deleting the previous credential'

    def execute(self, fence, clients, operation_id):
        retire_trustees(fence, clients, operation_id)


def retire_trustees(fence, clients, operation_id):
    """The operation's trustee becomes the cluster's current one; every
    other is deleted (idempotent: a current row is not written again, a
    deleted trustee's row is gone)."""
    wipe_token(fence, operation_id)
    row, others = outage.call(trustees.promote_own, fence)
    if row is None:
        return
    ident = identity.Identity.for_trustees(clients)
    for other in others:
        _forget(fence, ident, other)


class DeleteTrustees(common.Task):
    """Cluster delete: no trustee or trust outlives the cluster."""

    step, label = 'delete-credentials', 'deleting the cloud credential'

    def execute(self, fence, clients):
        rows = outage.call(trustees.list_trustees, fence.cluster_uuid)
        if rows:
            ident = identity.Identity.for_trustees(clients)
            for row in rows:
                _forget(fence, ident, row)
        # The stack is gone: the caller's token (kept in case the trust
        # gave no token, see caas.clients.trusted) is not needed any more.
        wipe_token(fence, fence.operation_id)


class ApplyCredential(common.Task):
    """Hand the new credential to the nodes: a stack update of the
    credential parameters only."""

    default_provides = 'stack_id'
    step, label = 'update-stack-credential', 'handing the credential to ' \
                                             'the nodes'

    def execute(self, fence, clients, operation_id):
        data = common.load_for(fence)
        stack_id = data.cluster.get('stack_id')
        stack = common.find_stack(clients, stack_id) if stack_id else None
        if stack is None:
            raise stack_tasks.StackFailed(
                reason='The cluster has no Heat stack %s; its credential '
                       'cannot be rotated.' % stack_id)
        current = stack.to_dict().get('parameters') or {}
        new = cred_params.stack_parameters(data.driver, fence.cluster_uuid,
                               operation_id, current)
        if not new:
            LOG.info('Cluster %s: stack %s takes no credential parameters',
                     fence.cluster_uuid, stack_id)
            return stack_id
        if current.get('trustee_user_id') == new.get('trustee_user_id') and \
                stack.stack_status in ('UPDATE_IN_PROGRESS',
                                       'UPDATE_COMPLETE'):
            LOG.info('Cluster %s: stack %s already carries trustee %s',
                     fence.cluster_uuid, stack_id, new['trustee_user_id'])
            return stack_id
        new.update(stack_tasks.rotation_parameters(data, current))
        fence.check()
        try:
            common.cloud_call(clients.quiet_heat.stacks.update, stack_id,
                              existing=True, parameters=new)
        except stack_tasks.heat_exc.HTTPException as exc:
            raise stack_tasks.StackFailed(
                reason='Heat refused to update stack %s: %s' % (
                    stack.stack_name, common.cloud_answer(exc)))
        # The parameters hold the password: log the trustee only.
        LOG.info('Cluster %s: updating stack %s to trustee %s',
                 fence.cluster_uuid, stack_id, new.get('trustee_user_id'))
        return stack_id


class WaitForCredential(common.Task):
    """Wait for the update that hands the credential to the nodes."""

    step, label = 'wait-stack-credential', 'waiting for the nodes'

    def execute(self, fence, clients, stack_id, operation_id):
        stack = common.find_stack(clients, stack_id)
        params = (stack.to_dict().get('parameters') or {}) if stack else {}
        if 'trustee_user_id' not in params:
            return
        deadline = fence.operation().deadline
        stack_tasks.wait_for_stack(fence, clients, stack_id, 'UPDATE',
                                   deadline)
