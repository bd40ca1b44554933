"""``/v1/credentials/{cluster}``: rotate the cloud credential of a cluster's
nodes (microversion 1.12, Magnum's ``credential:rotate``).

The API only records the operation - with the caller's token sealed
(Fernet, ``[pki] encryption_keys``) in its params, because Keystone creates
a trust only with the trustor's own token - and casts; the conductor's
``cluster_credential_rotate`` flow does the work (see
``caas.conductor.tasks.credential``). Below 1.12 the answer is Magnum's
406.
"""

from oslo_log import log as logging

from caas.api import microversions
from caas.api import request
from caas.api import scope
from caas.clients import identity
from caas.common import exceptions
from caas.common import states
from caas.db import api as db

LOG = logging.getLogger(__name__)


def trustor_params():
    """Operation params handing the caller's token to the conductor.

    Only in keystone mode: in noauth mode a client's X-Auth-Token is not a
    Keystone token, and caas's service user is the trustor instead.
    """
    ctx = request.context()
    conf = request.services().conf
    if conf.auth_strategy != 'keystone' or not ctx.auth_token:
        return {}
    return {identity.TOKEN_PARAM: identity.seal_token(ctx.auth_token),
            identity.PROJECT_PARAM: ctx.project_id}


def rotate(ident):
    if request.version() < microversions.CREDENTIAL_ROTATION:
        raise exceptions.NotAcceptable(
            message='Version %s was requested but the requested API '
                    'credential rotation is not supported for this '
                    'version; it needs %s or later.' % (
                        request.version(), microversions.CREDENTIAL_ROTATION))
    row = scope.find(db.get_cluster, ident, 'credential:rotate',
                     'cluster:update_all_projects')
    cluster, operation = db.start_operation(
        row.uuid, states.OP_CLUSTER_CREDENTIAL_ROTATE,
        params=trustor_params(),
        timeout_minutes=request.services().conf.conductor.update_timeout,
        request_id=request.request_id())
    LOG.info('Cluster %s: credential rotation accepted (operation %s)',
             cluster.uuid, operation.id)
    rpcapi = request.services().rpcapi
    try:
        rpcapi.cluster_credential_rotate(
            request.context(), cluster_uuid=cluster.uuid,
            operation_id=operation.id, request_id=request.request_id())
    except Exception:
        LOG.exception('Cluster %s: could not cast cluster_credential_rotate '
                      'for operation %s; it is recorded and the sweeper will '
                      're-drive it.', cluster.uuid, operation.id)
    return request.respond({'uuid': cluster.uuid}, 202)


def register(app):
    app.add_url_rule('/v1/credentials/<ident>', 'credentials_rotate', rotate,
                     methods=['PATCH'], strict_slashes=False)
