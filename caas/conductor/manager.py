"""Server side of the conductor's RPC API: thin endpoints.

Each method logs, checks the message against its schema and hands the
operation to the flow runner, which claims it by compare-and-set. A cast that
arrives twice, or after the sweeper already claimed the operation, loses the
compare-and-set and does nothing.
"""

import oslo_messaging as messaging
from oslo_log import log as logging

import rpc_schemas
from caas.conductor import rpcapi

LOG = logging.getLogger(__name__)


class ConductorManager:

    target = messaging.Target(version=rpcapi.RPC_API_VERSION)

    def __init__(self, runner):
        self.runner = runner

    def _handle(self, method, **kwargs):
        try:
            rpc_schemas.validate(method, kwargs)
        except Exception as exc:
            LOG.error('Dropping %s: it does not match its schema: %s',
                      method, exc)
            return
        # One line per cast: the claim's (with the request id), or this one
        # when it was not claimed here (formatting a log line is a good
        # part of what a cast costs the RPC thread).
        if not self.runner.claim_and_run(
                kwargs['operation_id'],
                request_id=kwargs.get('request_id', '-')):
            LOG.info('Cluster %s: received %s for operation %s (request %s),'
                     ' not claimed here (running here already, or claimed '
                     'by another conductor)', kwargs['cluster_uuid'], method,
                     kwargs['operation_id'], kwargs.get('request_id', '-'))

    def cluster_create(self, context, cluster_uuid, operation_id,
                       request_id=None):
        self._handle('cluster_create', cluster_uuid=cluster_uuid,
                     operation_id=operation_id,
                     **({'request_id': request_id} if request_id else {}))

    def cluster_update(self, context, cluster_uuid, operation_id,
                       request_id=None):
        self._handle('cluster_update', cluster_uuid=cluster_uuid,
                     operation_id=operation_id,
                     **({'request_id': request_id} if request_id else {}))

    def cluster_delete(self, context, cluster_uuid, operation_id,
                       request_id=None):
        self._handle('cluster_delete', cluster_uuid=cluster_uuid,
                     operation_id=operation_id,
                     **({'request_id': request_id} if request_id else {}))

    def nodegroup_create(self, context, cluster_uuid, operation_id,
                         request_id=None):
        self._handle('nodegroup_create', cluster_uuid=cluster_uuid,
                     operation_id=operation_id,
                     **({'request_id': request_id} if request_id else {}))

    def nodegroup_update(self, context, cluster_uuid, operation_id,
                         request_id=None):
        self._handle('nodegroup_update', cluster_uuid=cluster_uuid,
                     operation_id=operation_id,
                     **({'request_id': request_id} if request_id else {}))

    def nodegroup_delete(self, context, cluster_uuid, operation_id,
                         request_id=None):
        self._handle('nodegroup_delete', cluster_uuid=cluster_uuid,
                     operation_id=operation_id,
                     **({'request_id': request_id} if request_id else {}))

    def cluster_upgrade(self, context, cluster_uuid, operation_id,
                        request_id=None):
        self._handle('cluster_upgrade', cluster_uuid=cluster_uuid,
                     operation_id=operation_id,
                     **({'request_id': request_id} if request_id else {}))

    def cluster_ca_rotate(self, context, cluster_uuid, operation_id,
                          request_id=None):
        self._handle('cluster_ca_rotate', cluster_uuid=cluster_uuid,
                     operation_id=operation_id,
                     **({'request_id': request_id} if request_id else {}))

    def cluster_credential_rotate(self, context, cluster_uuid, operation_id,
                                  request_id=None):
        self._handle('cluster_credential_rotate', cluster_uuid=cluster_uuid,
                     operation_id=operation_id,
                     **({'request_id': request_id} if request_id else {}))
